"""Resumable training state: the backup callback, the run-state marker and the test kill hook.

Every access to private tf_keras attributes of the training package is in this module:

* ``model._train_counter`` (:func:`train_counter`): the number of training steps of the whole
  run, the counter that Keras' ``BackupAndRestore`` saves and restores and that the data
  stream restarts from; tf_keras has no public accessor for it.
* ``layer._random_generator._generator`` (:func:`random_generators`): the ``tf.random.Generator``
  of Dropout-like layers. Keras' checkpoints of functional models do not track them, so their
  states are saved beside the checkpoint.
* ``BackupAndRestore._backup`` (:class:`ResumableBackup`): the hook where Keras writes a
  backup, extended to save the callbacks' states first; tf_keras offers no public hook there.

A run in ``out`` is *interrupted* while ``out/run_state.json`` exists: it is written atomically
before the first training step and removed only after ``metrics.json`` is written. Whatever
point a kill lands at (during a checkpoint write included), the marker says that ``out`` holds
an unfinished run, and the backup's ``checkpoint`` state file names the last complete backup.
"""

import glob
import json
import os
import re
import signal
import time

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.validation import check_positive_int

__all__ = [
    "KILL_ENV",
    "KillHook",
    "ResumableBackup",
    "StopAfterSteps",
    "clear_run_state",
    "random_generators",
    "read_backup_step",
    "read_run_state",
    "run_status",
    "train_counter",
    "write_run_state",
]

RUN_STATE = "run_state.json"
# Test hook: "step:N" (after every callback of step N, the backup included), "epoch:E" (after
# every callback of the end of 1-based epoch E) or "backup:N" (inside the backup of step N,
# after its state file and before its checkpoint): the process SIGKILLs itself there.
KILL_ENV = "TF_SFW_TEST_KILL"


def train_counter(model):
    """Completed training steps of the run (Keras' ``_train_counter``, restored on resume)."""
    return int(model._train_counter.numpy())


def random_generators(model):
    """The ``tf.random.Generator`` of every layer of ``model`` that draws random numbers (Dropout...).

    Generators are created here if the layer has not been called yet, so call this at a fixed
    point (after building the model) for reproducible seeds.
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
    """Number of completed training steps stored in the latest complete backup, or None."""
    latest = tf.train.latest_checkpoint(os.path.join(str(backup_dir), "chief"))
    if latest is None:
        return None
    return int(tf.train.load_checkpoint(latest).get_tensor("train_counter/.ATTRIBUTES/VARIABLE_VALUE"))


# -- run-state marker ---------------------------------------------------------------------


def write_run_state(out, config_dict, status="running", error=None):
    """Write ``out/run_state.json`` atomically (the run in ``out`` is unfinished while it exists)."""
    state = {"status": status, "config": config_dict, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    if error is not None:
        state["error"] = str(error)
    tmp = os.path.join(out, RUN_STATE + ".tmp")
    with open(tmp, "w") as f:
        json.dump(state, f, indent=2)
    os.replace(tmp, os.path.join(out, RUN_STATE))


def read_run_state(out):
    """The dict of ``out/run_state.json``, or None."""
    path = os.path.join(out, RUN_STATE)
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f)


def clear_run_state(out):
    """Remove ``out/run_state.json`` (the run is finished or was abandoned)."""
    try:
        os.remove(os.path.join(out, RUN_STATE))
    except FileNotFoundError:
        pass


def run_status(out):
    """``"interrupted"``, ``"complete"`` or ``"empty"``: what ``out`` holds.

    Interrupted: the run-state marker exists, or a backup without it (runs written before
    the marker existed). Complete: ``metrics.json`` without either.
    """
    if read_run_state(out) is not None or read_backup_step(os.path.join(out, "backup")) is not None:
        return "interrupted"
    if os.path.isfile(os.path.join(out, "metrics.json")):
        return "complete"
    return "empty"


# -- kill hook ----------------------------------------------------------------------------


def _kill_point():
    spec = os.environ.get(KILL_ENV)
    if not spec:
        return None
    kind, _, value = spec.partition(":")
    if kind not in ("step", "epoch", "backup") or not value.isdigit():
        raise ValueError(f"{KILL_ENV} must be 'step:N', 'epoch:E' or 'backup:N'. Received: {KILL_ENV}={spec!r}")
    return kind, int(value)


def _kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


class KillHook(keras.callbacks.Callback):
    """Test hook: SIGKILL this process at the point named by ``$TF_SFW_TEST_KILL``.

    Put it LAST, after the backup, so that "step:N" and "epoch:E" kill after the backup of that
    step / epoch end (if any) is fully written. Returns None from :meth:`from_env` when unset.
    """

    def __init__(self, kind, value):
        super().__init__()
        self.kind, self.value = kind, value

    @classmethod
    def from_env(cls):
        point = _kill_point()
        return None if point is None or point[0] == "backup" else cls(*point)

    def on_train_batch_end(self, batch, logs=None):
        if self.kind == "step" and train_counter(self.model) >= self.value:
            _kill_self()

    def on_epoch_end(self, epoch, logs=None):
        if self.kind == "epoch" and epoch + 1 >= self.value:
            _kill_self()


# -- backup -------------------------------------------------------------------------------


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
    callbacks with ``get_state()``/``set_state(state)`` (learning-rate schedules, the run
    history) and of the layers' random generators (dropout, see :func:`random_generators`)
    are saved beside it, in ``<backup_dir>/chief/callbacks-<step>.json`` written *before* the
    checkpoint (so that the checkpoint that is restored always has its state file), and
    restored after Keras' restore. A step backup that falls on the last batch of an epoch is
    taken at the end of that epoch instead, after the epoch-end callbacks, so that a resumed
    run (which continues with the next epoch) misses none of them. Put this callback LAST
    (before :class:`KillHook` only).

    The backup is not deleted at the end of ``fit``: :func:`tf_sfw.training.train` deletes it
    after the run's outputs are written.

    Args:
        backup_dir: Directory of the backup.
        save_freq: ``"epoch"`` or a number of steps.
        stateful_callbacks: Callbacks whose state is saved and restored.
    """

    def __init__(self, backup_dir, save_freq="epoch", stateful_callbacks=()):
        super().__init__(backup_dir, save_freq=save_freq, delete_checkpoint=False)
        self.stateful_callbacks = list(stateful_callbacks)
        self._pending = None
        point = _kill_point()
        self._kill_at_backup = point[1] if point and point[0] == "backup" else None

    def _state_dir(self):
        return os.path.join(self.backup_dir, "chief")

    def _state_path(self, step):
        return os.path.join(self._state_dir(), f"callbacks-{int(step)}.json")

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        step = train_counter(self.model)
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
        # Under MultiWorkerMirroredStrategy the chief later deletes the whole backup directory,
        # including the other workers' temporary write directories; wait until every worker
        # has finished its last backup so that none is still writing there.
        _wait_for_all_workers(self.model.distribute_strategy)
        super().on_train_end(logs)

    def on_epoch_end(self, epoch, logs=None):
        super().on_epoch_end(epoch, logs)
        if self._pending is not None:
            pending, self._pending = self._pending, None
            self._write_backup(*pending)

    def _backup(self, epoch, batch=0):
        steps = (self.params or {}).get("steps")
        if self.save_freq != "epoch" and steps and batch == steps - 1:
            self._pending = (epoch, batch)  # the last batch of the epoch: back up at its end
            return
        self._write_backup(epoch, batch)

    def _write_backup(self, epoch, batch):
        step = train_counter(self.model)  # already counts the step that just finished
        generators = random_generators(self.model)
        if (self.stateful_callbacks or generators) and self.model.distribute_strategy.extended.should_checkpoint:
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
        if self._kill_at_backup is not None and step >= self._kill_at_backup:
            _kill_self()
        super()._backup(epoch, batch)

    def _steps_between_backups(self):
        if isinstance(self.save_freq, int):
            return self.save_freq
        return int((self.params or {}).get("steps") or 1)


class StopAfterSteps(keras.callbacks.Callback):
    """Raise ``KeyboardInterrupt`` after ``steps`` training steps (simulates a killed run in tests).

    Args:
        steps: Number of completed steps (counted from the start of the whole run) after which
            training is interrupted.
    """

    def __init__(self, steps):
        super().__init__()
        self.steps = check_positive_int(steps, "steps")

    def on_train_batch_end(self, batch, logs=None):
        if train_counter(self.model) >= self.steps:
            raise KeyboardInterrupt(f"StopAfterSteps: interrupted after {self.steps} steps")

    def get_config(self):
        return {"steps": self.steps}
