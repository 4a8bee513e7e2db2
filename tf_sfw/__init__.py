"""tf_sfw: pruning-friendly networks for tf-keras via Stochastic Frank-Wolfe."""

from tf_sfw import data, lmo, models, pruning, saving, schedules, training
from tf_sfw.constraints import (
    KSparsePolytope,
    KSupportNormBall,
    LpBall,
    Unconstrained,
    VariableConstraints,
    constraints_for_model,
    expected_init_norm,
    make_feasible,
)
from tf_sfw.optimizers import SFW
from tf_sfw.schedules import LossAverageSchedule, StepDecay
from tf_sfw.sfw_init import SFWInitCallback, sfw_init
from tf_sfw.training import TrainConfig, train

__version__ = "0.1.0"

__all__ = [
    "SFW",
    "KSparsePolytope",
    "KSupportNormBall",
    "LpBall",
    "Unconstrained",
    "VariableConstraints",
    "constraints_for_model",
    "expected_init_norm",
    "make_feasible",
    "sfw_init",
    "SFWInitCallback",
    "StepDecay",
    "LossAverageSchedule",
    "TrainConfig",
    "train",
    "data",
    "lmo",
    "models",
    "pruning",
    "saving",
    "schedules",
    "training",
]
