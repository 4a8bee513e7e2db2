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

from tf_sfw import recipe_math
from tf_sfw.keras3 import _ops

__all__ = ["RecipeSchedule", "lr_schedule", "reference_bias_norms", "sfw_recipe"]

DEFAULTS = recipe_math.DEFAULTS


@keras.saving.register_keras_serializable(package="tf_sfw.keras3")
class RecipeSchedule(recipe_math.ScheduleBody, keras.optimizers.schedules.LearningRateSchedule):
    r"""The recipe's learning rate over a run of ``total_steps`` optimizer steps, for Keras 3:
    `tf_sfw.recipe_math.learning_rate_at` over ``keras.ops`` (linear warm-up over a fraction of
    the steps, then step decay at fractions of the run, cosine decay or a constant rate).
    Arguments as `tf_sfw.recipe_math.ScheduleBody`.
    """

    ops = _ops


def lr_schedule(learning_rate, total_steps, schedule=DEFAULTS["schedule"], milestones=DEFAULTS["milestones"],
                factor=DEFAULTS["factor"], warmup=0.0):
    """A `RecipeSchedule`, or the float ``learning_rate`` for ``"constant"`` without warm-up
    (see `tf_sfw.recipe.lr_schedule`)."""
    return recipe_math.schedule_or_rate(RecipeSchedule, learning_rate, total_steps, schedule, milestones, factor, warmup)


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
        norms[bias.path] = recipe_math.pytorch_bias_norm(math.prod(bias.shape), math.prod(kernel.shape))
    return norms


def sfw_recipe(model, epochs, steps_per_epoch, **settings):
    r"""Optimizer, constraints and lr schedule for training the Keras 3 ``model`` by SFW.

    The arguments and defaults of `tf_sfw.recipe.sfw_recipe`. Example::

        optimizer, constraints, schedule = tf_sfw.keras3.sfw_recipe(model, epochs=2, steps_per_epoch=469)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=128, epochs=2)

    Returns:
        ``(optimizer, constraints, schedule)``: the `tf_sfw.keras3.SFW` optimizer (using the
        schedule), its `tf_sfw.keras3.VariableConstraints`, and the schedule.
    """
    from tf_sfw.keras3 import constraints
    from tf_sfw.keras3.optimizers import SFW

    return recipe_math.build_recipe(model, epochs, steps_per_epoch, constraints, SFW, RecipeSchedule,
                                    reference_bias_norms, **settings)
