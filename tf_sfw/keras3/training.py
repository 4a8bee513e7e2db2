r"""Training runs for Keras 3 (``import keras``) on the TensorFlow, JAX or PyTorch backend.

:func:`train` is the Keras 3 counterpart of `tf_sfw.training.train`: it reads the same
`tf_sfw.training.TrainConfig`, builds the model with `tf_sfw.keras3.models` and the optimizer
with `tf_sfw.keras3.SFW` + `tf_sfw.keras3.constraints_for_model` (or momentum SGD), trains with
``model.fit`` on NumPy arrays (`tf_sfw.data.load_arrays`, TensorFlow-free) in a seeded order,
and writes the same files: ``config.json``, ``model.keras``, ``metrics.json`` and ``log.csv``.

The learning rate follows the recipe's schedule (`tf_sfw.keras3.recipe.RecipeSchedule`: linear
warm-up over the first ``warmup`` fraction of the steps, then ×``decay_factor`` at fractions of
the run) for ``schedule="recipe"``, or stays constant for ``schedule="constant"``.

Features of the tf_keras runs that this path does not have are refused by
:func:`unsupported_settings` (resumable backups, SFW-Init, the epoch schedules and the
loss-average rule, structured sets, data augmentation, weight decay, file-based data sets).
CIFAR-10 therefore trains without the random crop and flip that tf_keras runs add by default.
"""

import json
import math
import os
import time

import keras
import numpy as np

from tf_sfw import recipe_math
from tf_sfw.training.chance_level import record_chance_level
from tf_sfw.keras3 import models as models_lib
from tf_sfw.keras3 import recipe as recipe_lib

__all__ = ["DATASETS", "SCHEDULES", "SeededBatches", "build_constraints", "build_optimizer", "learning_rate_schedule",
           "fit", "scale_images", "set_random_seed", "train", "unsupported_settings"]

#: Data sets and schedules of Keras 3 runs.
DATASETS = ("mnist", "fashion_mnist", "cifar10")
SCHEDULES = ("recipe", "constant")
_STRUCTURED = ("group_k_sparse", "group_k_support", "nm")


def unsupported_settings(config, resume=False):
    """``[(flag, value), ...]`` of the settings of ``config`` that Keras 3 runs do not support."""
    found = []
    if resume:
        found.append(("--resume", ""))
    if config.model not in models_lib.MODELS:
        found.append(("--model", config.model))
    if config.dataset not in DATASETS:
        found.append(("--dataset", config.dataset))
    if config.schedule not in SCHEDULES:
        found.append(("--schedule", config.schedule))
    if config.constraint in _STRUCTURED:
        found.append(("--constraint", config.constraint))
    if config.sfw_init:
        found.append(("--sfw-init", ""))
    if config.weight_decay:
        found.append(("--weight-decay", config.weight_decay))
    if config.augment:
        found.append(("--augment", ""))
    if config.backup_every is not None:
        found.append(("--backup-every", config.backup_every))
    return found


def learning_rate_schedule(learning_rate, config, total_steps):
    """The run's rate over ``total_steps`` (as `tf_sfw.training.build_learning_rates`).

    ``schedule="recipe"``: `tf_sfw.keras3.recipe.lr_schedule`, a linear warm-up over
    ``config.warmup`` of the steps, then ×``decay_factor`` at the fractions
    ``config.milestones_frac`` of the run, or at the absolute epochs ``config.milestones``;
    ``"constant"`` (or a rate of 0): ``learning_rate``.
    """
    if config.schedule == "constant" or learning_rate == 0:
        return float(learning_rate)
    fractions = config.milestones_frac
    if config.milestones is not None:
        fractions = recipe_math.milestones_from_epochs(config.milestones, config.epochs)
    return recipe_lib.lr_schedule(learning_rate, total_steps, "step", fractions, config.decay_factor, config.warmup)


def build_constraints(model, config):
    """Per-variable Keras 3 constraints of ``config`` (as `tf_sfw.training.build_constraints`)."""
    from tf_sfw.keras3 import constraints as c

    if config.constraint == "k_sparse":
        default = c.KSparsePolytope(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "k_support":
        default = c.KSupportNormBall(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "unconstrained":
        default = c.Unconstrained()
    else:
        default = c.LpBall(p={"l1": 1.0, "l2": 2.0, "linf": math.inf}[config.constraint], mode=config.mode,
                           value=config.value)
    overrides = {pattern: c.Unconstrained() for pattern in config.unconstrained}
    if config.unconstrained_bn:
        overrides[keras.layers.BatchNormalization] = c.Unconstrained()
    return recipe_math.constrained_per_variable(c, model, default, config.constrain, overrides)


def build_optimizer(model, config, total_steps):
    """`tf_sfw.keras3.SFW` (constraints of ``config``) or momentum SGD, on the run's schedule."""
    lr = learning_rate_schedule(config.learning_rate, config, total_steps)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=config.momentum)
    from tf_sfw.keras3.optimizers import SFW

    return SFW(learning_rate=lr, momentum=config.momentum, rescale=None if config.rescale == "none" else config.rescale,
               constraints=build_constraints(model, config),
               unconstrained_learning_rate=learning_rate_schedule(config.unconstrained_learning_rate, config,
                                                                  total_steps),
               k_annealing=config.k_annealing_schedule(total_steps), sgd_steps=config.sgd_start_steps(total_steps))


class SeededBatches(keras.utils.PyDataset):
    """Batches of uint8 images (scaled to float32 in [0, 1]) and labels in a seeded order.

    Epoch ``e`` (0-based) visits the examples in the order
    ``numpy.random.default_rng([seed, e]).permutation(N)``; the last batch may be smaller.
    """

    def __init__(self, x, y, batch_size, seed, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y = x, np.asarray(y, dtype="int32")
        self.batch_size, self.seed = int(batch_size), int(seed)
        self.epoch = 0
        self._order = self._permutation(0)

    def _permutation(self, epoch):
        return np.random.default_rng([self.seed, epoch]).permutation(len(self.y))

    def __len__(self):
        return -(-len(self.y) // self.batch_size)

    def __getitem__(self, index):
        idx = self._order[index * self.batch_size:(index + 1) * self.batch_size]
        return self.x[idx].astype("float32") / 255.0, self.y[idx]

    def on_epoch_end(self):
        self.epoch += 1
        self._order = self._permutation(self.epoch)


def set_random_seed(seed):
    """`keras.utils.set_random_seed` without its import of TensorFlow under the JAX and PyTorch
    backends (Keras seeds TensorFlow whenever it is installed): Python's, NumPy's and Keras' global
    seeds, and torch's under the PyTorch backend."""
    seed = int(seed)
    if keras.backend.backend() == "tensorflow":
        keras.utils.set_random_seed(seed)
        return
    import random

    from tf_sfw.keras3._keras_private import set_global_seed

    set_global_seed(seed)
    random.seed(seed)
    np.random.seed(seed)
    if keras.backend.backend() == "torch":
        import torch

        torch.manual_seed(seed)


def _load_data(config):
    from tf_sfw.data import _subset, load_arrays

    (x_train, y_train), (x_test, y_test) = load_arrays(config.dataset, data_dir=config.data_dir,
                                                       download=config.download)
    x_train, y_train = _subset(x_train, y_train, config.subset, config.seed)
    return (x_train, y_train), (x_test, y_test)


def _write_json(path, payload):
    with open(path, "w") as f:
        json.dump(payload, f, indent=2)
        f.write("\n")


def fit(config, x_train, y_train, validation_data=None, callbacks=None, name=None):
    """Builds, compiles and fits the model of ``config`` on uint8 images ``x_train``.

    The initial weights, dropout and data order are seeded by ``config.seed``; the data is fed
    by `SeededBatches`. Returns ``(model, history, fit_seconds)``.
    """
    unsupported = unsupported_settings(config)
    if unsupported:
        flag, value = unsupported[0]
        raise ValueError(f"`{flag}` is not supported with `--keras 3`. Received: {flag}={value}")
    batches = SeededBatches(x_train, y_train, config.batch_size, config.seed)
    set_random_seed(config.seed)
    kwargs = {} if name is None else {"name": name}
    model = models_lib.get_model(config.model)(input_shape=tuple(x_train.shape[1:]), num_classes=10, **kwargs)
    model.compile(optimizer=build_optimizer(model, config, config.epochs * len(batches)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    start = time.time()
    history = model.fit(batches, epochs=config.epochs, verbose=config.verbose, validation_data=validation_data,
                        callbacks=callbacks)
    return model, history, time.time() - start


def scale_images(x):
    """uint8 images -> float32 in [0, 1] (the input of every model here)."""
    return np.asarray(x).astype("float32") / 255.0


def train(config, out, test_examples=None):
    """Trains ``config`` (a `tf_sfw.training.TrainConfig`) with Keras 3 and writes the run to ``out``.

    Args:
        config: The run's settings; see :func:`unsupported_settings` for those refused.
        out: Output folder (created): ``config.json``, ``model.keras``, ``metrics.json``, ``log.csv``.
        test_examples: Evaluate on the first N test examples only (default: all).

    Returns:
        ``(model, metrics)``.

    Raises:
        ValueError: a setting Keras 3 runs do not support (the message names its flag).
    """
    start = time.time()
    (x_train, y_train), (x_test, y_test) = _load_data(config)
    if test_examples is not None:
        x_test, y_test = x_test[:test_examples], y_test[:test_examples]
    x_eval, y_eval = scale_images(x_test), np.asarray(y_test, dtype="int32")
    os.makedirs(out, exist_ok=True)
    model, history, fit_time = fit(
        config, x_train, y_train, validation_data=(x_eval, y_eval) if config.validate else None,
        callbacks=[keras.callbacks.CSVLogger(os.path.join(out, "log.csv"))],
    )
    test_loss, test_accuracy = model.evaluate(x_eval, y_eval, batch_size=config.test_batch_size, verbose=0)
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "epochs": config.epochs,
        "steps_per_epoch": -(-len(y_train) // config.batch_size),
        "train_examples": int(len(y_train)),
        "test_examples": int(len(y_test)),
        "wall_time_s": time.time() - start,
        "fit_time_s": fit_time,
        "params": int(model.count_params()),
        "final_learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        "history": {k: [float(v) for v in vs] for k, vs in history.history.items()},
        "history_first_epoch": 1,
        "config": config.to_dict(),
        "versions": {"keras": keras.__version__, "backend": keras.backend.backend()},
    }
    record_chance_level(metrics, int(model.output_shape[-1]))
    model.save(os.path.join(out, "model.keras"))
    _write_json(os.path.join(out, "config.json"), {**config.to_dict(), "keras": 3, "backend": keras.backend.backend()})
    _write_json(os.path.join(out, "metrics.json"), metrics)
    return model, metrics
