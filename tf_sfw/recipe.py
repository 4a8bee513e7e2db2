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
  With ``constrain="kernels"`` only the kernels are constrained and the other variables
  (biases, BatchNorm parameters) are trained by SGD at ``unconstrained_learning_rate``;
* the optimizer: `tf_sfw.SFW` with gradient rescaling and momentum;
* the learning-rate schedule, in optimizer steps and relative to the run's length, so that it
  fires in short runs too: ``"step"`` (÷10 at each fraction of ``milestones``, default 75 %
  and 90 % of the steps), ``"cosine"`` (cosine decay to 0) or ``"constant"``, after a linear
  warm-up over the first 2 % of the steps (`RecipeSchedule`).

The defaults (`tf_sfw.recipe_math.DEFAULTS`, shared with the Keras 3 recipe) are the
configuration chosen on held-out training data in this project's head-to-head against
gradual magnitude pruning (``results/compare_pruning``).

:func:`lr_schedule` builds the same schedule family for any optimizer, so that baselines (SGD,
tfmot's gradual magnitude pruning) can be trained with the same schedule.
"""

import numbers

import numpy as np

from tf_sfw import recipe_math
from tf_sfw._keras import keras
from tf_sfw.recipe_math import BALLS, BIAS_NORMS, CONSTRAIN, DEFAULTS, SCHEDULES

__all__ = [
    "BALLS",
    "BIAS_NORMS",
    "CONSTRAIN",
    "DEFAULTS",
    "SCHEDULES",
    "LinearWarmup",
    "RecipeSchedule",
    "lr_schedule",
    "reference_bias_norms",
    "sfw_recipe",
]


@keras.saving.register_keras_serializable(package="tf_sfw")
class RecipeSchedule(recipe_math.ScheduleBody, keras.optimizers.schedules.LearningRateSchedule):
    r"""The recipe's learning rate over a run of ``total_steps`` optimizer steps:
    `tf_sfw.recipe_math.learning_rate_at` over TensorFlow ops (step decay at fractions of the
    run, cosine or constant, after an optional linear warm-up over a fraction of the steps).

    Args:
        learning_rate, total_steps, schedule, milestones, factor, warmup: See
            :func:`lr_schedule`.
    """


@keras.saving.register_keras_serializable(package="tf_sfw")
class LinearWarmup(keras.optimizers.schedules.LearningRateSchedule):
    r"""Linear warm-up in front of another schedule:
    :math:`\mathrm{lr}_t = \mathrm{after}(t)\cdot\min\bigl(1, (t + 1)/W\bigr)`
    (`tf_sfw.recipe_math.warmup_factor`).

    Early SFW steps with gradient rescaling can move a variable most of the way to a vertex
    (:math:`\eta_t` is clipped at 1 only); ramping the rate up over the first ``W`` steps keeps
    a freshly initialised network from being thrown into a dead-ReLU state. :func:`lr_schedule`
    builds the warm-up into `RecipeSchedule`; this wraps any other schedule.

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
        return tf.cast(base, tf.float32) * recipe_math.warmup_factor(step, self.warmup_steps)

    def get_config(self):
        after = self.after
        if isinstance(after, keras.optimizers.schedules.LearningRateSchedule):
            after = keras.optimizers.schedules.serialize(after)
        return {"after": after, "warmup_steps": self.warmup_steps}


def lr_schedule(
    learning_rate,
    total_steps,
    schedule=DEFAULTS["schedule"],
    milestones=DEFAULTS["milestones"],
    factor=DEFAULTS["factor"],
    warmup=0.0,
):
    r"""A learning-rate schedule over ``total_steps`` optimizer steps (`RecipeSchedule`).

    * ``"step"``: :math:`\mathrm{lr}_t = \mathrm{lr}\cdot\mathrm{factor}^{\#\{i:\ t \ge
      \max(1, \lfloor m_i T\rfloor)\}}` for the fractions :math:`m_i` of ``milestones``;
    * ``"cosine"``: :math:`\mathrm{lr}_t = \mathrm{lr}\cdot\tfrac12(1+\cos(\pi \min(t, T)/T))`;
    * ``"constant"``: ``learning_rate``;

    times :math:`\min(1, (t+1)/W)`, :math:`W = \lfloor \mathrm{warmup}\cdot T\rfloor`, when
    W >= 1 (the formula: `tf_sfw.recipe_math.learning_rate_at`).

    Args:
        learning_rate, total_steps, schedule, milestones, factor, warmup: As
            `tf_sfw.recipe_math.ScheduleBody` (``warmup`` defaults to 0 here: none).

    Returns:
        A `RecipeSchedule`, or the float ``learning_rate`` for ``"constant"`` without
        warm-up.
    """
    return recipe_math.schedule_or_rate(RecipeSchedule, learning_rate, total_steps, schedule, milestones, factor, warmup)


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
        norms[bias.name] = recipe_math.pytorch_bias_norm(np.prod(bias.shape), np.prod(kernel.shape))
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
    k_annealing=DEFAULTS["k_annealing"],
    k_annealing_until=DEFAULTS["k_annealing_until"],
    sgd_start=DEFAULTS["sgd_start"],
    unconstrained=DEFAULTS["unconstrained"],
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
        tau: :math:`\tau`, the set's radius relative to the expected initial norm. The kernels
            train far inside their sets (a tenth of the radius), so :math:`\tau` acts as the
            strength of a decay, :math:`\eta \approx \mathrm{lr}\,\|m\| / r` per step: a smaller
            value trades dense accuracy for accuracy after heavy pruning (Fashion-MNIST simple_cnn,
            6 epochs, validation split, 12 seeds: 10 instead of 15 gave -0.15 points dense and +0.8
            after pruning 95 % and the least-squares refit, `tf_sfw.pruning.reconstruct`; 24 epochs:
            -0.24 and +1.2). It is not a free gain: on MNIST (mnist_cnn, 2 and 12 epochs) 10 lowered
            dense and pruned accuracy alike (-0.05 to -0.2 points).
        k, k_frac: K = max(k, ⌊k_frac·n⌋) per variable.
        ball: ``"k_sparse"`` (`tf_sfw.KSparsePolytope`) or ``"k_support"``
            (`tf_sfw.KSupportNormBall`).
        rescale: SFW step rescaling (None, "diameter" or "gradient").
        schedule, milestones, factor, warmup: See :func:`lr_schedule`.
        bias_norm: How zero-initialised biases are sized when they are constrained:
            ``"pytorch"`` (:func:`reference_bias_norms`) or ``"unit"`` (expected norm 1.0, the
            fallback of `tf_sfw.constraints_for_model`; a radius several times larger).
        constrain: ``"all"`` (every trainable variable in a set), ``"kernels"`` (only
            variables named ``*kernel``; biases, BatchNorm parameters and the rest are
            `tf_sfw.constraints.Unconstrained`, trained by SGD) or ``"sparse_kernels"`` (the
            default: as ``"kernels"``, and a kernel whose set would hold all its entries, K = n,
            i.e. at most ``k`` entries, is trained by SGD too; such a set is a plain norm ball;
            `tf_sfw.recipe_math.constrained_per_variable`). Chosen on validation
            (``results/compare_pruning/tuning12``): +0.93 points dense for Fashion-MNIST /
            simple_cnn after 6 epochs (six seeds); on its test set +0.35 on the mean (one seed of
            six 3 points lower) and 1 point lower at 95 % sparsity after the refit
            (``final12``). Networks without such a kernel (mnist_cnn) are unchanged.
        unconstrained_learning_rate: Initial SGD rate of the unconstrained variables (> 0),
            on the same schedule shape as ``learning_rate``. SFW's momentum buffer is an
            average, :math:`m_t = \mu m_{t-1} + (1-\mu) g_t`, so a rate ``u`` here is
            heavy-ball SGD at rate :math:`(1-\mu)\,u`.
        k_annealing: ``k_frac`` values, one per phase, for phases of equal length over the first
            ``k_annealing_until`` of the run (`tf_sfw.k_annealing.k_annealing_for_run`; phases
            too short to hold a step are dropped); after them each set's own K; None: off.
            The default ``(1.0, 0.3, 0.1)`` starts dense: it closes the dense gap to SGD and,
            with `tf_sfw.pruning.reconstruct` after one-shot pruning, gave the best validation
            accuracy; with plain magnitude pruning it loses 6–10 points at 95 %
            (``results/compare_pruning/tuning6``, ``tuning7``).
        k_annealing_until: Fraction in (0, 1] of the run that the ``k_annealing`` phases
            share (default 0.5); unused without ``k_annealing``.
        sgd_start: Fraction in [0, 1) of the run's first steps that train every variable by SGD
            at ``unconstrained_learning_rate`` before the Frank-Wolfe steps (`tf_sfw.SFW`'s
            ``sgd_steps``). Default 0 (off). Measured on validation splits
            (``results/compare_pruning/tuning12``, before the ``"sparse_kernels"`` default): 0.2
            raised Fashion-MNIST / simple_cnn after 6 epochs by 0.66 points dense (six seeds; the
            seed that had collapsed to 83.7 % reached 88.1 %), cost MNIST / mnist_cnn after 2
            epochs 0.09 points and changed nothing after 12 or 24 epochs.
        unconstrained: Regular expressions (``re.search`` in a variable's name or layer path)
            of variables trained by SGD at ``unconstrained_learning_rate`` whatever
            ``constrain`` says, e.g. ``("conv1/kernel",)``; default none.

    Returns:
        ``(optimizer, constraints, schedule)``: the `tf_sfw.SFW` optimizer (already using the
        schedule), its `tf_sfw.VariableConstraints`, and the schedule itself.
    """
    from tf_sfw import constraints
    from tf_sfw.optimizers import SFW

    return recipe_math.build_recipe(
        model, epochs, steps_per_epoch, constraints, SFW, RecipeSchedule, reference_bias_norms,
        learning_rate=learning_rate, momentum=momentum, tau=tau, k=k, k_frac=k_frac, ball=ball, rescale=rescale,
        schedule=schedule, milestones=milestones, factor=factor, warmup=warmup, bias_norm=bias_norm,
        constrain=constrain, unconstrained_learning_rate=unconstrained_learning_rate, k_annealing=k_annealing,
        k_annealing_until=k_annealing_until, sgd_start=sgd_start, unconstrained=unconstrained,
    )
