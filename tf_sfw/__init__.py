"""tf_sfw: pruning-friendly networks for tf-keras via Stochastic Frank-Wolfe."""

from tf_sfw import lmo, saving
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
    "lmo",
    "saving",
]
