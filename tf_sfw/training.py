"""Training runs: build model, optimizer and callbacks, fit (resumably), evaluate, write results.

The command ``tf-sfw train`` is a thin wrapper over :func:`train`; scripts and tests call it
directly::

    from tf_sfw.training import TrainConfig, train
    model, metrics = train(TrainConfig(model="mnist_cnn", dataset="mnist", optimizer="sfw", epochs=1,
                                data_dir="/work/shared/data/keras"), out="/tmp/run")

``out`` receives ``config.json`` (written at the start), ``model.keras`` (the trained model),
``metrics.json`` (final test accuracy/loss, epochs, wall time, parameter counts, per-epoch
history, full config) and, while a run is in progress, ``backup/`` (a
:class:`ResumableBackup` checkpoint of weights, optimizer slots — the SFW momentum buffers —,
learning rate, step counters and schedule state). A run killed at any point continues with
``resume=True`` and ends with bit-identical weights to an uninterrupted run, because

* every random choice is seeded: initial weights (``keras.utils.set_random_seed``), dropout
  (``tf.random.Generator`` state, which is checkpointed), the data order and augmentation
  (stateless functions of ``(seed, epoch, step)``, see :mod:`tf_sfw.data`);
* the data stream restarts exactly at the number of completed steps read from the backup;
* TensorFlow's op determinism is enabled (``deterministic=True``).
"""

import dataclasses
import glob
import json
import math
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import tensorflow as tf

from tf_sfw import data as data_lib
from tf_sfw._keras import keras
from tf_sfw.models import build_model
from tf_sfw.models.registry import MODELS
from tf_sfw.schedules import LossAverageSchedule, StepDecay, get_learning_rate

__all__ = [
    "CONSTRAINTS",
    "OPTIMIZERS",
    "SCHEDULES",
    "ResumableBackup",
    "StopAfterSteps",
    "TrainConfig",
    "build_callbacks",
    "build_constraints",
    "build_optimizer",
    "count_params",
    "random_generators",
    "read_backup_step",
    "train",
]

OPTIMIZERS = ("sfw", "sgd")
CONSTRAINTS = ("k_sparse", "k_support", "l1", "l2", "linf", "unconstrained")
SCHEDULES = ("paper", "step", "loss_average", "constant")
RESCALES = ("gradient", "diameter", "none")


@dataclasses.dataclass
class TrainConfig:
    """Everything that defines a training run (defaults: the paper's setting, SPEC §2-3).

    Attributes:
        model: Builder name in :data:`tf_sfw.models.MODELS`.
        dataset: One of :data:`tf_sfw.data.DATASETS`.
        optimizer: ``"sfw"`` or ``"sgd"`` (momentum SGD, the baseline).
        epochs: Number of epochs.
        batch_size, test_batch_size: Batch sizes (paper: 128 / 100).
        learning_rate: Initial learning rate (paper SFW: 1.0).
        momentum: Momentum (paper: 0.9).
        rescale: SFW step-size rescaling ``"gradient"`` | ``"diameter"`` | ``"none"``.
        constraint: Set of every constrained variable: ``k_sparse`` (paper), ``k_support``,
            ``l1``/``l2``/``linf`` balls, or ``unconstrained`` (SFW then equals momentum SGD).
        k, k_frac: K = max(k, floor(k_frac·n)) for the top-K sets (paper: 10 and 0.05).
        mode: ``"initialization"`` (paper; ``value`` = τ), ``"radius"`` or ``"diameter"``.
        value: τ, the radius or the diameter (paper: τ = 15).
        unconstrained: Regexes (``re.search`` on variable names) of variables trained by SGD
            instead, e.g. ``"bn"`` for BatchNorm.
        unconstrained_bn: Leave every BatchNormalization γ/β unconstrained.
        weight_decay: Decoupled weight decay (None = 0; the paper's SFW uses 0).
        schedule: ``"paper"`` (step decay + loss rule), ``"step"``, ``"loss_average"``, ``"constant"``.
        milestones, decay_factor: Step decay at these 1-based epochs (paper: 61, 121; ÷10).
        augment: Random crop + flip (None = on for cifar10/tiny_imagenet, off otherwise).
        subset: Train on a seeded random subset of this many examples.
        seed: Seed of initial weights, dropout, data order and augmentation.
        deterministic: Enable TensorFlow op determinism (bit-exact resumption).
        validate: Evaluate on the test set after every epoch (adds val_* to the history).
        backup_every: Back up every N steps (None: at every epoch end).
        data_dir: Data directory (see :mod:`tf_sfw.data` for the search order).
        download: Allow Keras' downloader as the last resort.
        verbose: Keras fit verbosity (0, 1, 2).
    """

    model: str = "mnist_cnn"
    dataset: str = "mnist"
    optimizer: str = "sfw"
    epochs: int = 180
    batch_size: int = 128
    test_batch_size: int = 100
    learning_rate: float = 1.0
    momentum: float = 0.9
    rescale: str = "gradient"
    constraint: str = "k_sparse"
    k: int = 10
    k_frac: float = 0.05
    mode: str = "initialization"
    value: float = 15.0
    unconstrained: tuple = ()
    unconstrained_bn: bool = False
    weight_decay: float = None
    schedule: str = "paper"
    milestones: tuple = (61, 121)
    decay_factor: float = 0.1
    augment: bool = None
    subset: int = None
    seed: int = 0
    deterministic: bool = True
    validate: bool = False
    backup_every: int = None
    data_dir: str = None
    download: bool = True
    verbose: int = 2

    def __post_init__(self):
        self.unconstrained = tuple(self.unconstrained or ())
        self.milestones = tuple(self.milestones or ())
        choices = {
            "model": tuple(MODELS),
            "dataset": data_lib.DATASETS,
            "optimizer": OPTIMIZERS,
            "constraint": CONSTRAINTS,
            "schedule": SCHEDULES,
            "rescale": RESCALES,
            "mode": ("initialization", "radius", "diameter"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"`{name}` must be one of {list(allowed)}. Received: {name}={getattr(self, name)!r}")
        for name in ("epochs", "batch_size", "test_batch_size"):
            _positive_int(name, getattr(self, name))
        for name in ("subset", "backup_every"):
            if getattr(self, name) is not None:
                _positive_int(name, getattr(self, name))
        for name in ("learning_rate", "value"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"`{name}` must be a finite number >= 0. Received: {name}={v!r}")
        if isinstance(self.momentum, bool) or not 0 <= self.momentum < 1:
            raise ValueError(f"`momentum` must be in [0, 1). Received: momentum={self.momentum!r}")
        if self.k is not None:
            _positive_int("k", self.k)
        if self.k_frac is not None and not 0 < self.k_frac <= 1:
            raise ValueError(f"`k_frac` must be in (0, 1]. Received: k_frac={self.k_frac}")
        for pattern in self.unconstrained:
            try:
                re.compile(pattern)
            except re.error as err:
                raise ValueError(f"`unconstrained` pattern {pattern!r} is not a valid regular expression: {err}") from None
        if self.weight_decay is not None and not self.weight_decay >= 0:
            raise ValueError(f"`weight_decay` must be >= 0. Received: weight_decay={self.weight_decay}")

    def to_dict(self):
        d = dataclasses.asdict(self)
        d["unconstrained"] = list(self.unconstrained)
        d["milestones"] = list(self.milestones)
        return d

    @classmethod
    def from_dict(cls, d):
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields)
        if unknown:
            raise ValueError(f"Unknown TrainConfig keys: {unknown}. Known: {sorted(fields)}")
        return cls(**d)


def _positive_int(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ValueError(f"`{name}` must be a positive int. Received: {name}={value!r}")


# ----------------------------------------------------------------------------------------
# Builders


def count_params(model):
    """``{"trainable": ..., "non_trainable": ..., "total": ...}`` numbers of scalars."""
    trainable = int(sum(np.prod(v.shape) for v in model.trainable_weights))
    non_trainable = int(sum(np.prod(v.shape) for v in model.non_trainable_weights))
    return {"trainable": trainable, "non_trainable": non_trainable, "total": trainable + non_trainable}


def build_constraints(model, config):
    """Per-variable constraints of ``config`` for the built ``model`` (SFW only)."""
    from tf_sfw.constraints import KSparsePolytope, KSupportNormBall, LpBall, Unconstrained, constraints_for_model

    if config.constraint == "k_sparse":
        default = KSparsePolytope(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "k_support":
        default = KSupportNormBall(k=config.k, k_frac=config.k_frac, mode=config.mode, value=config.value)
    elif config.constraint == "unconstrained":
        default = Unconstrained()
    else:
        p = {"l1": 1.0, "l2": 2.0, "linf": math.inf}[config.constraint]
        default = LpBall(p=p, mode=config.mode, value=config.value)
    overrides = {pattern: Unconstrained() for pattern in config.unconstrained}
    if config.unconstrained_bn:
        overrides[keras.layers.BatchNormalization] = Unconstrained()
    return constraints_for_model(model, default, overrides=overrides or None)


def build_optimizer(model, config):
    """The optimizer of ``config``: ``tf_sfw.SFW`` with per-variable constraints, or momentum SGD."""
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(
            learning_rate=config.learning_rate, momentum=config.momentum, weight_decay=config.weight_decay
        )
    from tf_sfw.optimizers import SFW

    return SFW(
        learning_rate=config.learning_rate,
        momentum=config.momentum,
        rescale=None if config.rescale == "none" else config.rescale,
        constraints=build_constraints(model, config),
        weight_decay=config.weight_decay,
    )


def build_callbacks(config):
    """Learning-rate callbacks of ``config.schedule`` (resumable, see :mod:`tf_sfw.schedules`)."""
    callbacks = []
    if config.schedule in ("paper", "step") and config.milestones:
        callbacks.append(StepDecay(milestones=config.milestones, factor=config.decay_factor))
    if config.schedule in ("paper", "loss_average"):
        callbacks.append(LossAverageSchedule())
    return callbacks


# ----------------------------------------------------------------------------------------
# Resumption


def random_generators(model):
    """The ``tf.random.Generator`` of every layer of ``model`` that draws random numbers (Dropout...).

    Keras' checkpoints of functional models do not include these generators (only layers with
    weights are tracked), so :class:`ResumableBackup` saves their states itself. Generators are
    created here if the layer has not been called yet, so call this at a fixed point (after
    building the model) for reproducible seeds.
    """
    gens = []

    def visit(layer):
        rng = getattr(layer, "_random_generator", None)
        if rng is not None:
            rng._maybe_init()
            if getattr(rng, "_generator", None) is not None:
                gens.append(rng._generator)
        for sub in getattr(layer, "layers", []):
            visit(sub)

    for layer in model.layers:
        visit(layer)
    return gens


def read_backup_step(backup_dir):
    """Number of completed training steps stored in the latest backup under ``backup_dir``, or None."""
    latest = tf.train.latest_checkpoint(os.path.join(str(backup_dir), "chief"))
    if latest is None:
        return None
    return int(tf.train.load_checkpoint(latest).get_tensor("train_counter/.ATTRIBUTES/VARIABLE_VALUE"))


def _wait_for_all_workers(strategy):
    """Block until every worker of a multi-worker ``strategy`` has called this function.

    A no-op unless ``strategy`` is a ``MultiWorkerMirroredStrategy`` over several tasks; then
    it all-reduces a scalar, which cannot finish before every worker has contributed to it.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return
    cluster = strategy.cluster_resolver.cluster_spec()
    if sum(cluster.num_tasks(job) for job in cluster.jobs) <= 1:
        return
    ones = strategy.run(lambda: tf.ones((), tf.float32))
    strategy.reduce(tf.distribute.ReduceOp.SUM, ones, axis=None).numpy()


class ResumableBackup(keras.callbacks.BackupAndRestore):
    """``keras.callbacks.BackupAndRestore`` that also saves the state of stateful callbacks.

    Keras' backup holds the model weights, the optimizer (slots such as the SFW momentum
    buffers, iteration counter and learning rate) and the epoch/step counters. The states of
    callbacks with ``get_state()``/``set_state(state)`` (the learning-rate schedules) and of the
    layers' random generators (dropout masks, see :func:`random_generators`) are saved beside
    it, in ``<backup_dir>/chief/callbacks-<step>.json`` written *before* the checkpoint (so that
    the checkpoint that is restored always has its state file), and restored after Keras'
    restore. Put this callback LAST in the callback list so that the states it saves include
    the batch that triggered the backup.

    Args:
        backup_dir: Directory of the backup (deleted after a successful ``fit``).
        save_freq: ``"epoch"`` or a number of steps.
        stateful_callbacks: Callbacks whose state is saved and restored.
    """

    def __init__(self, backup_dir, save_freq="epoch", stateful_callbacks=()):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=True)
        self.stateful_callbacks = list(stateful_callbacks)

    def _state_dir(self):
        return os.path.join(self.backup_dir, "chief")

    def _state_path(self, step):
        return os.path.join(self._state_dir(), f"callbacks-{int(step)}.json")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        step = int(self.model._train_counter.numpy())
        generators = random_generators(self.model)
        if step == 0 or not (self.stateful_callbacks or generators):
            return
        path = self._state_path(step)
        if not os.path.isfile(path):
            raise FileNotFoundError(
                f"Resuming from the backup in {self.backup_dir} at step {step}, but its callback state "
                f"{path} is missing. Delete {self.backup_dir} to restart the run from scratch."
            )
        with open(path) as f:
            states = json.load(f)
        for i, cb in enumerate(self.stateful_callbacks):
            cb.set_state(states[f"{i}:{type(cb).__name__}"])
        saved = states.get("random_generators", [])
        if len(saved) != len(generators):
            raise ValueError(
                f"The backup in {self.backup_dir} has {len(saved)} random-generator states but the model has "
                f"{len(generators)} random layers: it belongs to a different model."
            )
        for gen, value in zip(generators, saved):
            gen.state.assign(np.asarray(value, dtype=gen.state.dtype.as_numpy_dtype))

    def on_train_end(self, logs=None):
        # Under MultiWorkerMirroredStrategy the chief deletes the whole backup directory,
        # including the other workers' temporary write directories; wait until every worker
        # has finished its last backup so that none is still writing there.
        _wait_for_all_workers(self.model.distribute_strategy)
        super().on_train_end(logs)

    def _backup(self, epoch, batch=0):
        generators = random_generators(self.model)
        if (self.stateful_callbacks or generators) and self.model.distribute_strategy.extended.should_checkpoint:
            # train_counter already counts the step that just finished.
            step = int(self.model._train_counter.numpy())
            os.makedirs(self._state_dir(), exist_ok=True)
            states = {f"{i}:{type(cb).__name__}": cb.get_state() for i, cb in enumerate(self.stateful_callbacks)}
            states["random_generators"] = [gen.state.numpy().tolist() for gen in generators]
            tmp = self._state_path(step) + ".tmp"
            with open(tmp, "w") as f:
                json.dump(states, f)
            os.replace(tmp, self._state_path(step))
            for old in glob.glob(os.path.join(self._state_dir(), "callbacks-*.json")):
                old_step = int(re.search(r"callbacks-(\d+)\.json$", old).group(1))
                if old_step < step - 2 * self._steps_between_backups():
                    os.remove(old)
        super()._backup(epoch, batch)

    def _steps_between_backups(self):
        if isinstance(self.save_freq, int):
            return self.save_freq
        return int((self.params or {}).get("steps") or 1)


class StopAfterSteps(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` after ``steps`` training steps (simulates a killed run in tests).

    Args:
        steps: Number of completed steps (counted from the start of the whole run, i.e.
            ``optimizer.iterations``) after which training is interrupted.
    """

    def __init__(self, steps):
        super().__init__()
        _positive_int("steps", steps)
        self.steps = steps

    def on_train_batch_end(self, batch, logs=None):
        if int(self.model._train_counter.numpy()) >= self.steps:
            raise KeyboardInterrupt(f"StopAfterSteps: interrupted after {self.steps} steps")

    def get_config(self):
        return {"steps": self.steps}


# ----------------------------------------------------------------------------------------
# The run


def _json_default(o):
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, (np.floating,)):
        return float(o)
    raise TypeError(f"not JSON serialisable: {o!r}")


def _write_json(path, obj):
    tmp = str(path) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, default=_json_default)
    os.replace(tmp, path)


def _make_model(config, input_shape, num_classes):
    """Build with seeded initial weights and checkpointable (tf.random.Generator) dropout RNG."""
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


def train(config, out, resume=False, arrays=None, strategy=None, extra_callbacks=(), save_model=True):
    """Train, evaluate and save one run.

    Args:
        config: :class:`TrainConfig` (or a dict of its fields).
        out: Output directory (created). Receives ``config.json``, ``backup/`` during the run,
            ``model.keras`` and ``metrics.json``.
        resume: Continue the interrupted run whose backup is in ``out/backup`` (a fresh start
            if there is none). Without ``resume``, an existing backup is an error (so a run is
            never silently restarted or mixed).
        arrays: Optional ``((x_train, y_train), (x_test, y_test))`` uint8/int arrays used instead
            of loading ``config.dataset`` (tests, custom data).
        strategy: Optional ``tf.distribute`` strategy (e.g. MultiWorkerMirroredStrategy); the
            global batch is ``config.batch_size``. Only the chief writes files.
        extra_callbacks: More Keras callbacks (run before the backup callback).
        save_model: Write ``model.keras``.

    Returns:
        ``(model, metrics)``: the trained model and the dict written to ``out/metrics.json``.

    Raises:
        ValueError: bad configuration, a config differing from the one of the run being
            resumed, or a non-finite training loss.
        FileExistsError: ``out/backup`` exists and ``resume`` is False.
    """
    if isinstance(config, dict):
        config = TrainConfig.from_dict(config)
    if not isinstance(config, TrainConfig):
        raise ValueError(f"`config` must be a TrainConfig or dict. Received: config={config!r}")
    start_time = time.time()
    out = Path(out)
    strategy = strategy or tf.distribute.get_strategy()
    chief = strategy.extended.should_checkpoint
    out.mkdir(parents=True, exist_ok=True)
    backup_dir = out / "backup"
    config_path = out / "config.json"

    initial_step = read_backup_step(backup_dir) if backup_dir.exists() else None
    if initial_step is not None and not resume:
        raise FileExistsError(
            f"{backup_dir} holds the backup of an interrupted run (step {initial_step}). Pass resume=True "
            f"(CLI: --resume) to continue it, or delete {backup_dir} to start over."
        )
    if initial_step is not None and config_path.is_file():
        previous = json.loads(config_path.read_text())
        differ = {k: (previous.get(k), v) for k, v in config.to_dict().items() if k not in ("epochs", "verbose") and previous.get(k) != v}
        if differ:
            raise ValueError(
                f"Cannot resume the run in {out} with a different configuration: {differ} "
                "(previous, requested). Only `epochs` and `verbose` may change on resume."
            )
    initial_step = initial_step or 0
    if chief:
        _write_json(config_path, config.to_dict())

    if config.deterministic:
        tf.config.experimental.enable_op_determinism()

    # Data
    if arrays is None:
        if config.dataset == "tiny_imagenet":
            (xtr, ytr), (xte, yte), _ = data_lib.load_tiny_imagenet_files(config.data_dir)
            decode = data_lib.decode_jpeg_batch
        else:
            (xtr, ytr), (xte, yte) = data_lib.load_arrays(config.dataset, config.data_dir, download=config.download)
            decode = None
    else:
        (xtr, ytr), (xte, yte) = arrays
        decode = None
    xtr, ytr = data_lib._subset(xtr, ytr, config.subset, config.seed)
    info = data_lib.DATASET_INFO[config.dataset]
    input_shape = info["shape"] if decode is not None else tuple(np.shape(xtr)[1:])
    num_classes = info["classes"] if arrays is None else int(max(np.max(ytr), np.max(yte)) + 1)
    augment = config.augment if config.augment is not None else config.dataset in ("cifar10", "tiny_imagenet")
    steps = data_lib.steps_per_epoch(len(ytr), config.batch_size)
    if initial_step > config.epochs * steps:
        raise ValueError(
            f"The backup in {backup_dir} is at step {initial_step}, beyond epochs*steps = {config.epochs * steps}."
        )
    train_ds = data_lib.make_train_dataset(
        xtr, ytr, config.batch_size, config.seed, config.epochs, initial_step, augment, decode_fn=decode
    )
    test_ds = data_lib.make_eval_dataset(xte, yte, config.test_batch_size, decode_fn=decode)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    train_ds, test_ds = train_ds.with_options(options), test_ds.with_options(options)

    # Model / optimizer
    with strategy.scope():
        model = _make_model(config, input_shape, num_classes)
        optimizer = build_optimizer(model, config)
        model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    schedules = build_callbacks(config)
    backup = ResumableBackup(
        str(backup_dir), save_freq=config.backup_every or "epoch", stateful_callbacks=schedules
    )
    callbacks = [*schedules, keras.callbacks.TerminateOnNaN(), *extra_callbacks, backup]
    fit_start = time.time()
    history = model.fit(
        train_ds,
        epochs=config.epochs,
        steps_per_epoch=steps,
        validation_data=test_ds if config.validate else None,
        callbacks=callbacks,
        verbose=config.verbose,
    )
    fit_time = time.time() - fit_start
    if chief:  # fit finished: Keras removed backup/chief; drop the (now empty) backup folder
        shutil.rmtree(backup_dir, ignore_errors=True)
    losses = history.history.get("loss", [])
    if losses and not np.isfinite(losses[-1]):
        raise ValueError(f"Training diverged: the training loss of the last epoch is {losses[-1]}.")

    test_loss, test_accuracy = model.evaluate(test_ds, verbose=0)
    metrics = {
        "test_accuracy": float(test_accuracy),
        "test_loss": float(test_loss),
        "epochs": config.epochs,
        "steps_per_epoch": steps,
        "initial_step": initial_step,
        "augment": bool(augment),
        "train_examples": int(len(ytr)),
        "test_examples": int(len(yte)),
        "wall_time_s": time.time() - start_time,
        "fit_time_s": fit_time,
        "params": count_params(model),
        "final_learning_rate": get_learning_rate(model.optimizer),
        "history": {k: [float(v) for v in vals] for k, vals in history.history.items()},
        "history_first_epoch": int(history.epoch[0]) + 1 if history.epoch else None,
        "config": config.to_dict(),
        "versions": {"tensorflow": tf.__version__, "tf_keras": keras.__version__},
    }
    if chief:
        if save_model:
            model.save(out / "model.keras")
        _write_json(out / "metrics.json", metrics)
    return model, metrics
