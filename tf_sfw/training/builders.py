"""Build the pieces of a training run from a :class:`TrainConfig`.

This is the one place that turns options into an optimizer (:func:`build_optimizer`), the
per-variable constraint sets (:func:`build_constraints`), the learning-rate schedule
(:func:`build_schedules`), the seeded model (:func:`build_seeded_model`) and the data
(:func:`load_run_data`, :func:`make_datasets`); :func:`tf_sfw.training.train`, the commands and
the scripts all use it.
"""

import dataclasses
import math

import numpy as np
import tensorflow as tf

from tf_sfw import data as data_lib
from tf_sfw._keras import keras
from tf_sfw.models import build_model
from tf_sfw.recipe_math import DEFAULTS as RECIPE_DEFAULTS
from tf_sfw.schedules import LossAverageSchedule, StepDecay
from tf_sfw.training.config import TrainConfig
from tf_sfw.training.resume import random_generators

__all__ = [
    "RunData",
    "build_callbacks",
    "build_constraints",
    "build_learning_rates",
    "build_optimizer",
    "build_schedules",
    "build_seeded_model",
    "build_sfw_init_callback",
    "count_params",
    "load_run_data",
    "make_datasets",
]


def _as_config(config):
    """A :class:`TrainConfig` from a config or a dict of (some of) its fields."""
    if isinstance(config, TrainConfig):
        return config
    if isinstance(config, dict):
        return TrainConfig.from_dict(config)
    raise ValueError(f"`config` must be a TrainConfig or a dict of its fields. Received: config={config!r}")


def count_params(model):
    """``{"trainable": ..., "non_trainable": ..., "total": ...}`` numbers of scalars."""
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    non_trainable = int(sum(np.prod(v.shape) for v in model.non_trainable_weights))
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def build_constraints(model, config, init_norms=None):
    """Per-variable constraints of ``config`` (TrainConfig or dict of fields) for the built ``model``.

    ``init_norms`` is passed to :func:`tf_sfw.constraints.constraints_for_model` (expected
    initial norms of variables whose initializer is unknown, or to override them).
    """
    from tf_sfw import constraints
    from tf_sfw.constraints import KSparsePolytope, KSupportNormBall, LpBall, Unconstrained
    from tf_sfw.recipe_math import constrained_per_variable

    config = _as_config(config)
    if config.constraint == "k_sparse":
        default = KSparsePolytope(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "k_support":
        default = KSupportNormBall(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "unconstrained":
        default = Unconstrained()
    elif config.constraint in ("group_k_sparse", "group_k_support", "nm"):
        default = _structured_constraint(config)
    else:
        p = {"l1": 1.0, "l2": 2.0, "linf": math.inf}[config.constraint]
        default = LpBall(p=p, mode=config.mode, value=config.value)
    overrides = {pattern: Unconstrained() for pattern in config.unconstrained}
    if config.unconstrained_bn:
        overrides[keras.layers.BatchNormalization] = Unconstrained()
    return constrained_per_variable(constraints, model, default, config.constrain, overrides, init_norms)


def _structured_constraint(config):
    """Group K-sparse / group K-support sets over output filters, or the N:M polytope."""
    from tf_sfw.structured_constraints import GroupKSparsePolytope, GroupKSupportNormBall, NMSparsePolytope

    if config.constraint == "nm":
        return NMSparsePolytope(n=config.nm_n, m=config.nm_m, mode=config.mode, value=config.value)
    group_set = GroupKSparsePolytope if config.constraint == "group_k_sparse" else GroupKSupportNormBall
    if (config.k, config.k_frac) == (RECIPE_DEFAULTS["k"], RECIPE_DEFAULTS["k_frac"]):
        # the recipe's K counts entries (at least 150); K of a group set counts filters / units,
        # so left at the recipe's values the group set takes its own defaults
        return group_set(mode=config.mode, value=config.value)
    return group_set(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)


def build_learning_rates(config, total_steps=None):
    """``(learning_rate, unconstrained_learning_rate)`` of ``config``.

    Under ``schedule="recipe"`` both are `tf_sfw.recipe.lr_schedule` schedules of the same
    shape over ``total_steps`` optimizer steps (the recipe's schedule family, step decay:
    linear warm-up over ``config.warmup`` of them, then ×``decay_factor`` at the fractions
    ``milestones_frac``, or at the absolute epochs ``milestones``); otherwise, or without
    ``total_steps`` (the caller then drives the rate itself), the two floats (epoch schedules
    are callbacks, :func:`build_schedules`).
    """
    config = _as_config(config)
    if config.schedule != "recipe" or total_steps is None:
        return config.learning_rate, config.unconstrained_learning_rate
    from tf_sfw.recipe import lr_schedule
    from tf_sfw.recipe_math import DEFAULTS, milestones_from_epochs
    from tf_sfw.validation import check_positive_int

    total_steps = check_positive_int(total_steps, "total_steps")
    fractions = config.milestones_frac
    if config.milestones is not None:
        fractions = milestones_from_epochs(config.milestones, config.epochs)
    rates = []
    for lr in (config.learning_rate, config.unconstrained_learning_rate):
        schedule = lr_schedule(lr, total_steps, DEFAULTS["schedule"], fractions, config.decay_factor, config.warmup)
        rates.append(schedule if lr > 0 else lr)
    return tuple(rates)


def build_optimizer(model, config, init_norms=None, total_steps=None):
    """The optimizer of ``config``: ``tf_sfw.SFW`` with per-variable constraints, or momentum SGD.

    Args:
        model: The built model to be trained (SFW's constraints are sized from it).
        config: A :class:`TrainConfig`, or a dict of some of its fields (the rest default),
            e.g. ``{"optimizer": "sgd", "learning_rate": 0.05}``.
        init_norms: See :func:`build_constraints`.
        total_steps: Optimizer steps of the run (``epochs * steps_per_epoch``), over which
            ``schedule="recipe"`` and the K annealing span (:func:`build_learning_rates`); None:
            plain rates and no K annealing.
    """
    config = _as_config(config)
    learning_rate, unconstrained_learning_rate = build_learning_rates(config, total_steps)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate=learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )
    from tf_sfw.optimizers import SFW

    return SFW(
        learning_rate=learning_rate,
        momentum=config.momentum,
        rescale=None if config.rescale == "none" else config.rescale,
        constraints=build_constraints(model, config, init_norms=init_norms),
        unconstrained_learning_rate=unconstrained_learning_rate,
        weight_decay=config.weight_decay,
        k_annealing=_k_annealing(config, total_steps),
        sgd_steps=config.sgd_start_steps(total_steps),
    )


def _k_annealing(config, total_steps):
    """The run's K annealing; without ``total_steps`` (no run length) only ``"auto"`` may go without."""
    if total_steps is None:
        if config.k_annealing not in (None, "auto"):
            raise ValueError(f"`k_annealing` needs the run's `total_steps`. Received: total_steps=None, "
                             f"k_annealing={config.k_annealing!r}")
        return None
    return config.k_annealing_schedule(total_steps)


def build_schedules(config):
    """Learning-rate callbacks of ``config.schedule`` (resumable, see :mod:`tf_sfw.schedules`).

    Step decay uses ``config.milestones`` when given, else the relative ``config.milestones_frac``.
    """
    config = _as_config(config)
    callbacks = []
    if config.schedule in ("paper", "step"):
        if config.milestones is not None:
            if config.milestones:
                callbacks.append(StepDecay(milestones=config.milestones, factor=config.decay_factor))
        elif config.milestones_frac:
            callbacks.append(StepDecay(milestones_frac=config.milestones_frac, factor=config.decay_factor))
    if config.schedule in ("paper", "loss_average"):
        callbacks.append(LossAverageSchedule())
    return callbacks


build_callbacks = build_schedules  # the name used before the training package existed


def build_seeded_model(config, input_shape, num_classes):
    """Model of ``config`` with seeded initial weights and checkpointable dropout RNG.

    The dropout masks come from ``tf.random.Generator`` states (created now, from the seed),
    which :class:`tf_sfw.training.ResumableBackup` saves, so that a resumed run draws the same masks.
    """
    config = _as_config(config)
    keras.utils.set_random_seed(config.seed)
    was_enabled = keras.backend.experimental.is_tf_random_generator_enabled()
    keras.backend.experimental.enable_tf_random_generator()
    try:
        model = build_model(config.model, input_shape, num_classes)
        random_generators(model)  # create the dropout generators now, from the seed just set
        return model
    finally:
        if not was_enabled:
            keras.backend.experimental.disable_tf_random_generator()


@dataclasses.dataclass
class RunData:
    """The arrays (or file paths) of a run and what follows from them."""

    x_train: object
    y_train: object
    x_test: object
    y_test: object
    decode: object  # None, or the function decoding a batch of file paths (tiny_imagenet)
    input_shape: tuple
    num_classes: int
    augment: bool
    steps_per_epoch: int


def load_run_data(config, arrays=None):
    """Load ``config.dataset`` (or use ``arrays = ((x_train, y_train), (x_test, y_test))``), subset it."""
    config = _as_config(config)
    decode = None
    if arrays is not None:
        (xtr, ytr), (xte, yte) = arrays
    elif config.dataset == "tiny_imagenet":
        (xtr, ytr), (xte, yte), _ = data_lib.load_tiny_imagenet_files(config.data_dir)
        decode = data_lib.decode_jpeg_batch
    else:
        (xtr, ytr), (xte, yte) = data_lib.load_arrays(config.dataset, config.data_dir, download=config.download)
    xtr, ytr = data_lib._subset(xtr, ytr, config.subset, config.seed)
    info = data_lib.DATASET_INFO[config.dataset]
    input_shape = info["shape"] if decode is not None else tuple(np.shape(xtr)[1:])
    num_classes = info["classes"] if arrays is None else int(max(np.max(ytr), np.max(yte)) + 1)
    augment = config.augment if config.augment is not None else config.dataset in ("cifar10", "tiny_imagenet")
    steps = data_lib.steps_per_epoch(len(ytr), config.batch_size)
    return RunData(xtr, ytr, xte, yte, decode, input_shape, num_classes, bool(augment), steps)


def make_datasets(config, run_data, initial_step=0):
    """``(train_ds, test_ds)``: the seeded training stream from ``initial_step`` and the test set."""
    config, d = _as_config(config), run_data
    train_ds = data_lib.make_train_dataset(
        d.x_train, d.y_train, config.batch_size, config.seed, config.epochs, initial_step, d.augment, decode_fn=d.decode
    )
    test_ds = data_lib.make_eval_dataset(d.x_test, d.y_test, config.test_batch_size, decode_fn=d.decode)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    return train_ds.with_options(options), test_ds.with_options(options)


def build_sfw_init_callback(config, run_data):
    """:class:`tf_sfw.sfw_init.SFWInitCallback` on the run's (subset) training arrays."""
    from tf_sfw.sfw_init import SFWInitCallback

    config = _as_config(config)
    x = np.asarray(run_data.x_train, dtype=np.float32) / 255.0
    return SFWInitCallback(
        (x, run_data.y_train), iterations=config.sfw_init_iterations, batch_size=config.batch_size, seed=config.seed
    )
