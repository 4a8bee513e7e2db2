r"""One call that returns what SFW training needs: optimizer, constraints and lr schedule.

:func:`sfw_recipe` puts together the pieces a user would otherwise choose one by one:

* constraints: every trainable variable in a K-sparse polytope (or K-support norm ball) of
  radius :math:`r = \tau\,\mathbb{E}\|\theta_{init}\|_2/\sqrt{K}` (mode "initialization",
  `tf_sfw.constraints_for_model`), K = max(k, ⌊k_frac·n⌋), as in Miao et al. (ICLR 2022,
  "Learning Pruning-Friendly Networks via Frank-Wolfe: One-Shot, Any-Sparsity, and No
  Retraining"). Biases, which Keras initialises to zero, are sized either from an expected
  norm of 1 (``bias_norm="unit"``, the default) or from that of PyTorch's default bias
  initialisation U(±1/√fan_in), :math:`\mathbb{E}\|b\| = \sqrt{n/(3\,\mathrm{fan_{in}})}`
  (``"pytorch"``, the size the reference implementation gives them);
* the optimizer: `tf_sfw.SFW` with gradient rescaling and momentum;
* the learning-rate schedule, in optimizer steps and relative to the run's length, so that it
  fires in short runs too: ``"step"`` (÷10 at each fraction of ``milestones``, default 60 %
  and 85 % of the steps), ``"cosine"`` (cosine decay to 0) or ``"constant"``, after a linear
  warm-up over the first 2 % of the steps (`LinearWarmup`).

The defaults are the configuration chosen on held-out training data in this project's
head-to-head against gradual magnitude pruning (``results/compare_pruning``).

:func:`lr_schedule` builds the same schedule family for any optimizer, so that baselines (SGD,
tfmot's gradual magnitude pruning) can be trained with the same schedule.
"""

import math
import numbers

import numpy as np

from tf_sfw._keras import keras
from tf_sfw.validation import check_positive_int, check_positive_number

__all__ = ["SCHEDULES", "BALLS", "BIAS_NORMS", "LinearWarmup", "lr_schedule", "reference_bias_norms", "sfw_recipe"]

SCHEDULES = ("step", "cosine", "constant")
BALLS = ("k_sparse", "k_support")
BIAS_NORMS = ("pytorch", "unit")


@keras.saving.register_keras_serializable(package="tf_sfw")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    r"""Linear warm-up in front of another schedule:
    :math:`\mathrm{lr}_t = \mathrm{after}(t)\cdot\min\bigl(1, (t + 1)/W\bigr)`.

    Early SFW steps with gradient rescaling can move a variable most of the way to a vertex
    (:math:`\eta_t` is clipped at 1 only); ramping the rate up over the first ``W`` steps keeps
    a freshly initialised network from being thrown into a dead-ReLU state.

    Args:
        after: A `LearningRateSchedule` or a float.
        warmup_steps: W >= 1.
    """

    def __init__(self, after, warmup_steps):
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, numbers.Integral) or warmup_steps < 1:
            raise ValueError(f"`warmup_steps` must be a positive integer. Received: warmup_steps={warmup_steps!r}")
        if isinstance(after, dict):
            after = keras.optimizers.schedules.deserialize(after)
        self.after = after
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        import tensorflow as tf

        step = tf.cast(step, tf.float32)
        base = self.after(step) if callable(self.after) else tf.constant(float(self.after), tf.float32)
        return tf.cast(base, tf.float32) * tf.minimum(1.0, (step + 1.0) / float(self.warmup_steps))

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps}


def lr_schedule(learning_rate, total_steps, schedule="step", milestones=(0.6, 0.85), factor=0.1, warmup=0.0):
    r"""A learning-rate schedule over ``total_steps`` optimizer steps.

    * ``"step"``: :math:`\mathrm{lr}_t = \mathrm{lr}\cdot\mathrm{factor}^{\#\{i:\ t \ge
      \lfloor m_i T\rfloor\}}` for the fractions :math:`m_i` of ``milestones``
      (`keras.optimizers.schedules.PiecewiseConstantDecay`);
    * ``"cosine"``: :math:`\mathrm{lr}_t = \mathrm{lr}\cdot\tfrac12(1+\cos(\pi t/T))`
      (`keras.optimizers.schedules.CosineDecay`);
    * ``"constant"``: the float ``learning_rate``.

    Args:
        learning_rate: Initial rate (> 0).
        total_steps: Number of optimizer steps T of the run (>= 1).
        schedule: One of `SCHEDULES`.
        milestones: Increasing fractions in (0, 1) of the run (``"step"`` only).
        factor: Multiplier at each milestone, in (0, 1] (``"step"`` only).
        warmup: Fraction in [0, 1) of the run with a linear warm-up (`LinearWarmup`) in front
            of the schedule; 0 for none.

    Returns:
        A `keras.optimizers.schedules.LearningRateSchedule`, or a float for ``"constant"``
        without warm-up.
    """
    if isinstance(warmup, bool) or not isinstance(warmup, numbers.Real) or not 0 <= warmup < 1:
        raise ValueError(f"`warmup` must be in [0, 1). Received: warmup={warmup!r}")
    base = _base_schedule(learning_rate, total_steps, schedule, milestones, factor)
    warmup_steps = math.floor(warmup * total_steps)
    return LinearWarmup(base, warmup_steps) if warmup_steps >= 1 else base


def _base_schedule(learning_rate, total_steps, schedule, milestones, factor):
    learning_rate = check_positive_number(learning_rate, "learning_rate")
    total_steps = check_positive_int(total_steps, "total_steps")
    if schedule not in SCHEDULES:
        raise ValueError(f"`schedule` must be one of {SCHEDULES}. Received: schedule={schedule!r}")
    if schedule == "constant":
        return learning_rate
    if schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(learning_rate, decay_steps=total_steps, alpha=0.0)
    milestones = tuple(float(m) for m in milestones)
    if any(not 0 < m < 1 for m in milestones) or list(milestones) != sorted(set(milestones)):
        raise ValueError(
            f"`milestones` must be increasing fractions in (0, 1). Received: milestones={milestones!r}"
        )
    if isinstance(factor, bool) or not isinstance(factor, numbers.Real) or not 0 < factor <= 1:
        raise ValueError(f"`factor` must be in (0, 1]. Received: factor={factor!r}")
    if not milestones:
        return learning_rate
    boundaries = sorted({max(1, math.floor(m * total_steps)) for m in milestones})
    values = [learning_rate * float(factor) ** i for i in range(len(boundaries) + 1)]
    # PiecewiseConstantDecay uses values[i] for step <= boundaries[i]: shift by one so the
    # decay starts exactly at step floor(m T).
    return keras.optimizers.schedules.PiecewiseConstantDecay([b - 1 for b in boundaries], values)


def reference_bias_norms(model):
    r"""Expected norm of every conv/dense bias under U(±1/√fan_in), the PyTorch default:
    :math:`\sqrt{n / (3\,\mathrm{fan_{in}})}` with fan_in = kernel entries / output units.

    Returns:
        ``{bias variable name: expected norm}`` for `tf_sfw.constraints_for_model`'s
        ``init_norms``.
    """
    norms = {}
    for layer in model.submodules if hasattr(model, "submodules") else model.layers:
        kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
        if kernel is None or bias is None or not getattr(bias, "trainable", False):
            continue
        n = int(np.prod(bias.shape))
        fan_in = int(np.prod(kernel.shape)) // n
        norms[bias.name] = float(np.sqrt(n / (3.0 * fan_in)))
    return norms


def sfw_recipe(
    model,
    epochs,
    steps_per_epoch,
    learning_rate=1.0,
    momentum=0.9,
    tau=15.0,
    k=10,
    k_frac=0.05,
    ball="k_sparse",
    rescale="gradient",
    schedule="step",
    milestones=(0.6, 0.85),
    factor=0.1,
    warmup=0.02,
    bias_norm="unit",
):
    r"""Optimizer, constraints and lr schedule for training ``model`` by SFW.

    Example::

        optimizer, constraints, schedule = tf_sfw.recipe.sfw_recipe(model, epochs=2, steps_per_epoch=469)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
        model.fit(train_ds, epochs=2, steps_per_epoch=469)
        # then one-shot magnitude pruning at any sparsity: tf_sfw.pruning.sweep(model, test_ds)

    Args:
        model: A built Keras model (its initializers size the sets).
        epochs: Number of training epochs (>= 1).
        steps_per_epoch: Optimizer steps per epoch (>= 1); the schedule spans
            ``epochs * steps_per_epoch`` steps.
        learning_rate: SFW's initial learning rate (1.0 with gradient rescaling, as in
            Miao et al.).
        momentum: SFW momentum in [0, 1).
        tau: :math:`\tau`, the set's radius relative to the expected initial norm.
        k, k_frac: K = max(k, ⌊k_frac·n⌋) per variable.
        ball: ``"k_sparse"`` (`tf_sfw.KSparsePolytope`) or ``"k_support"``
            (`tf_sfw.KSupportNormBall`).
        rescale: SFW step rescaling (None, "diameter" or "gradient").
        schedule, milestones, factor, warmup: See :func:`lr_schedule`.
        bias_norm: How zero-initialised biases are sized: ``"pytorch"``
            (:func:`reference_bias_norms`) or ``"unit"`` (expected norm 1.0, the fallback of
            `tf_sfw.constraints_for_model`; a radius several times larger).

    Returns:
        ``(optimizer, constraints, schedule)``: the `tf_sfw.SFW` optimizer (already using the
        schedule), its `tf_sfw.VariableConstraints`, and the schedule itself.
    """
    from tf_sfw.constraints import KSparsePolytope, KSupportNormBall, constraints_for_model
    from tf_sfw.optimizers import SFW

    epochs = check_positive_int(epochs, "epochs")
    steps_per_epoch = check_positive_int(steps_per_epoch, "steps_per_epoch")
    tau = check_positive_number(tau, "tau")
    if ball not in BALLS:
        raise ValueError(f"`ball` must be one of {BALLS}. Received: ball={ball!r}")
    if bias_norm not in BIAS_NORMS:
        raise ValueError(f"`bias_norm` must be one of {BIAS_NORMS}. Received: bias_norm={bias_norm!r}")
    cls = KSparsePolytope if ball == "k_sparse" else KSupportNormBall
    init_norms = reference_bias_norms(model) if bias_norm == "pytorch" else None
    constraints = constraints_for_model(
        model, cls(k=k, k_frac=k_frac, mode="initialization", value=tau), init_norms=init_norms
    )
    lr = lr_schedule(learning_rate, epochs * steps_per_epoch, schedule, milestones, factor, warmup)
    optimizer = SFW(learning_rate=lr, momentum=momentum, rescale=rescale, constraints=constraints)
    return optimizer, constraints, lr
