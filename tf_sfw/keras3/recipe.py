r"""The SFW training recipe for Keras 3: optimizer, constraints and learning-rate schedule.

The Keras 3 twin of `tf_sfw.recipe`: the same defaults (`tf_sfw.recipe_math.DEFAULTS`) and the
same schedule formula (`tf_sfw.recipe_math.learning_rate_at`, run here over ``keras.ops``), with
`tf_sfw.keras3.SFW` and `tf_sfw.keras3.constraints_for_model`. Every trainable variable goes in a
K-sparse polytope (or K-support norm ball) of radius
:math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2/\sqrt{K}`, K = max(k, ⌊k_frac·n⌋), as in Miao et
al. (ICLR 2022, "Learning Pruning-Friendly Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and
No Retraining"); the learning rate warms up linearly, then decays by steps at fractions of the run.

Needs only ``keras`` >= 3 (no TensorFlow under the JAX or PyTorch backend).
"""

import math

import keras

from tf_sfw import init_norms as init_norms_lib
from tf_sfw import recipe_math
from tf_sfw.keras3 import _ops
from tf_sfw.validation import check_choice, check_positive_int, check_positive_number

__all__ = ["RecipeSchedule", "lr_schedule", "reference_bias_norms", "sfw_recipe"]

DEFAULTS = recipe_math.DEFAULTS


@keras.saving.register_keras_serializable(package="tf_sfw.keras3")
class RecipeSchedule(keras.optimizers.schedules.LearningRateSchedule):
    r"""The recipe's learning rate over a run of ``total_steps`` optimizer steps, for Keras 3:
    `tf_sfw.recipe_math.learning_rate_at` over ``keras.ops`` (linear warm-up over a fraction of
    the steps, then step decay at fractions of the run, cosine decay or a constant rate).

    Args:
        learning_rate: Initial rate (> 0).
        total_steps: Number of optimizer steps T of the run (>= 1).
        schedule: ``"step"``, ``"cosine"`` or ``"constant"``.
        milestones: Increasing fractions in (0, 1) of the run (``"step"`` only).
        factor: Multiplier at each milestone, in (0, 1] (``"step"`` only).
        warmup: Fraction in [0, 1) of the run with a linear warm-up; 0 for none.
    """

    def __init__(self, learning_rate, total_steps, schedule=DEFAULTS["schedule"], milestones=DEFAULTS["milestones"],
                 factor=DEFAULTS["factor"], warmup=DEFAULTS["warmup"]):
        (self.learning_rate, self.total_steps, self.schedule, self.milestones, self.factor,
         self.warmup) = recipe_math.check_schedule_arguments(learning_rate, total_steps, schedule, milestones, factor,
                                                              warmup)

    def __call__(self, step):
        return recipe_math.learning_rate_at(step, self.learning_rate, self.total_steps, self.schedule,
                                            self.milestones, self.factor, self.warmup, ops=_ops)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "total_steps": self.total_steps, "schedule": self.schedule,
                "milestones": list(self.milestones), "factor": self.factor, "warmup": self.warmup}


def lr_schedule(learning_rate, total_steps, schedule=DEFAULTS["schedule"], milestones=DEFAULTS["milestones"],
                factor=DEFAULTS["factor"], warmup=0.0):
    """A `RecipeSchedule`, or the float ``learning_rate`` for ``"constant"`` without warm-up
    (see `tf_sfw.recipe.lr_schedule`)."""
    learning_rate, total_steps, schedule, milestones, factor, warmup = recipe_math.check_schedule_arguments(
        learning_rate, total_steps, schedule, milestones, factor, warmup
    )
    if schedule == "constant" and recipe_math.warmup_steps(total_steps, warmup) < 1:
        return learning_rate
    return RecipeSchedule(learning_rate, total_steps, schedule, milestones, factor, warmup)


def reference_bias_norms(model):
    r"""Expected norm of every conv/dense bias under PyTorch's default U(±1/√fan_in) (fan_in =
    kernel entries / output units), in closed form (`tf_sfw.init_norms.expected_norm`).

    Returns:
        ``{bias variable path: expected norm}`` for `tf_sfw.keras3.constraints_for_model`'s
        ``init_norms``.
    """
    norms = {}
    for layer in model._flatten_layers(include_self=False):
        kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
        if kernel is None or bias is None or not getattr(bias, "trainable", False):
            continue
        n = math.prod(bias.shape)
        bound = 1.0 / math.sqrt(math.prod(kernel.shape) // n)
        norms[bias.path] = float(init_norms_lib.expected_norm(
            keras.initializers.RandomUniform(-bound, bound), tuple(bias.shape), keras, draw_norm=None))
    return norms


def sfw_recipe(
    model,
    epochs,
    steps_per_epoch,
    learning_rate=DEFAULTS["learning_rate"],
    momentum=DEFAULTS["momentum"],
    tau=DEFAULTS["tau"],
    k=DEFAULTS["k"],
    k_frac=DEFAULTS["k_frac"],
    ball=DEFAULTS["ball"],
    rescale=DEFAULTS["rescale"],
    schedule=DEFAULTS["schedule"],
    milestones=DEFAULTS["milestones"],
    factor=DEFAULTS["factor"],
    warmup=DEFAULTS["warmup"],
    bias_norm=DEFAULTS["bias_norm"],
    constrain=DEFAULTS["constrain"],
    unconstrained_learning_rate=DEFAULTS["unconstrained_learning_rate"],
):
    r"""Optimizer, constraints and lr schedule for training the Keras 3 ``model`` by SFW.

    The arguments and defaults of `tf_sfw.recipe.sfw_recipe`. Example::

        optimizer, constraints, schedule = tf_sfw.keras3.sfw_recipe(model, epochs=2, steps_per_epoch=469)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=128, epochs=2)

    Returns:
        ``(optimizer, constraints, schedule)``: the `tf_sfw.keras3.SFW` optimizer (using the
        schedule), its `tf_sfw.keras3.VariableConstraints`, and the schedule.
    """
    from tf_sfw.keras3.constraints import KSparsePolytope, KSupportNormBall, Unconstrained, constraints_for_model
    from tf_sfw.keras3.optimizers import SFW

    epochs = check_positive_int(epochs, "epochs")
    steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
    tau = check_positive_number(tau, "tau")
    check_choice(ball, "ball", recipe_math.BALLS)
    check_choice(bias_norm, "bias_norm", recipe_math.BIAS_NORMS)
    check_choice(constrain, "constrain", recipe_math.CONSTRAIN)
    unconstrained_learning_rate = check_positive_number(unconstrained_learning_rate, "unconstrained_learning_rate")
    cls = KSparsePolytope if ball == "k_sparse" else KSupportNormBall
    init_norms = reference_bias_norms(model) if bias_norm == "pytorch" else None
    overrides = {recipe_math.NON_KERNEL_PATTERN: Unconstrained()} if constrain == "kernels" else None
    constraints = constraints_for_model(
        model, cls(k=k, k_frac=k_frac, mode="initialization", value=tau), overrides=overrides, init_norms=init_norms
    )
    total_steps = epochs * steps_per_epoch
    lr = lr_schedule(learning_rate, total_steps, schedule, milestones, factor, warmup)
    ulr = lr_schedule(unconstrained_learning_rate, total_steps, schedule, milestones, factor, warmup)
    optimizer = SFW(learning_rate=lr, momentum=momentum, rescale=rescale, constraints=constraints,
                    unconstrained_learning_rate=ulr)
    return optimizer, constraints, lr
