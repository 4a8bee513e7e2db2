r"""Stochastic Frank-Wolfe for Keras 3 (``import keras``), on the TensorFlow, JAX and PyTorch backends.

Needs only ``keras`` >= 3 and NumPy: under ``KERAS_BACKEND=jax`` or ``torch`` nothing here
imports TensorFlow. The math (LMOs, exact K-th-magnitude selection, the Frank-Wolfe step) is
the one of `tf_sfw.lmo`, `tf_sfw.selection` and `tf_sfw.fw`, run over ``keras.ops``
(`tf_sfw.keras3._ops`).

Public names are imported on first use.
"""

from tf_sfw import _lazy

__all__ = _lazy.install(
    __name__,
    {
        "SFW": ("tf_sfw.keras3.optimizers", "SFW"),
        "KAnnealing": ("tf_sfw.k_annealing", "KAnnealing"),
        "Constraint": ("tf_sfw.keras3.constraints", "Constraint"),
        "KSparsePolytope": ("tf_sfw.keras3.constraints", "KSparsePolytope"),
        "KSupportNormBall": ("tf_sfw.keras3.constraints", "KSupportNormBall"),
        "LpBall": ("tf_sfw.keras3.constraints", "LpBall"),
        "Unconstrained": ("tf_sfw.keras3.constraints", "Unconstrained"),
        "VariableConstraints": ("tf_sfw.keras3.constraints", "VariableConstraints"),
        "constraints_for_model": ("tf_sfw.keras3.constraints", "constraints_for_model"),
        "expected_init_norm": ("tf_sfw.keras3.constraints", "expected_init_norm"),
        "constraints": ("tf_sfw.keras3.constraints", None),
        "optimizers": ("tf_sfw.keras3.optimizers", None),
        "sfw_recipe": ("tf_sfw.keras3.recipe", "sfw_recipe"),
        "RecipeSchedule": ("tf_sfw.keras3.recipe", "RecipeSchedule"),
        "recipe": ("tf_sfw.keras3.recipe", None),
        "models": ("tf_sfw.keras3.models", None),
        "training": ("tf_sfw.keras3.training", None),
        "pruning": ("tf_sfw.keras3.pruning", None),
        "PowerDecay": ("tf_sfw.keras3.schedules", "PowerDecay"),
        "AveragingMomentum": ("tf_sfw.keras3.schedules", "AveragingMomentum"),
    },
)
