"""tf_sfw: pruning-friendly networks for tf-keras via Stochastic Frank-Wolfe.

Public names are resolved on first use (PEP 562 module ``__getattr__``, `tf_sfw._lazy`):
``import tf_sfw`` imports neither TensorFlow nor tfmot, so that ``tf-sfw --help`` answers
at once; touching a name (``tf_sfw.SFW``, ``tf_sfw.pruning``, ...) imports the module that
defines it.
"""

from tf_sfw import _lazy

__version__ = "0.1.0"

_NAMES = {
    "SFW": ("tf_sfw.optimizers", "SFW"),
    "one_shot_fw": ("tf_sfw.optimizers", "one_shot_fw"),
    "KAnnealing": ("tf_sfw.k_annealing", "KAnnealing"),
    "VarianceReducedModel": ("tf_sfw.variance_reduction", "VarianceReducedModel"),
    "SagaFWModel": ("tf_sfw.saga_fw", "SagaFWModel"),
    "KSparsePolytope": ("tf_sfw.constraints", "KSparsePolytope"),
    "KSupportNormBall": ("tf_sfw.constraints", "KSupportNormBall"),
    "LpBall": ("tf_sfw.constraints", "LpBall"),
    "Unconstrained": ("tf_sfw.constraints", "Unconstrained"),
    "VariableConstraints": ("tf_sfw.constraints", "VariableConstraints"),
    "GroupKSparsePolytope": ("tf_sfw.structured_constraints", "GroupKSparsePolytope"),
    "GroupKSupportNormBall": ("tf_sfw.structured_constraints", "GroupKSupportNormBall"),
    "NMSparsePolytope": ("tf_sfw.structured_constraints", "NMSparsePolytope"),
    "constraints_for_model": ("tf_sfw.constraints", "constraints_for_model"),
    "expected_init_norm": ("tf_sfw.constraints", "expected_init_norm"),
    "make_feasible": ("tf_sfw.constraints", "make_feasible"),
    "sfw_init": ("tf_sfw.sfw_init", "sfw_init"),
    "SFWInitCallback": ("tf_sfw.sfw_init", "SFWInitCallback"),
    "StepDecay": ("tf_sfw.schedules", "StepDecay"),
    "LossAverageSchedule": ("tf_sfw.schedules", "LossAverageSchedule"),
    "sfw_recipe": ("tf_sfw.recipe", "sfw_recipe"),
    "TrainConfig": ("tf_sfw.training", "TrainConfig"),
    "train": ("tf_sfw.training", "train"),
    "data": ("tf_sfw.data", None),
    "lmo": ("tf_sfw.lmo", None),
    "group_lmo": ("tf_sfw.group_lmo", None),
    "selection": ("tf_sfw.selection", None),
    "fw": ("tf_sfw.fw", None),
    "variance_reduction": ("tf_sfw.variance_reduction", None),
    "saga_fw": ("tf_sfw.saga_fw", None),
    "validation": ("tf_sfw.validation", None),
    "recipe": ("tf_sfw.recipe", None),
    "models": ("tf_sfw.models", None),
    "pruning": ("tf_sfw.pruning", None),
    "saving": ("tf_sfw.saving", None),
    "schedules": ("tf_sfw.schedules", None),
    "training": ("tf_sfw.training", None),
}

__all__ = _lazy.install(__name__, _NAMES)
