"""Callbacks of a training run: the full-run history (CSV log), divergence detection, TensorBoard.

Both :class:`RunHistory` and :class:`DivergenceGuard` are resumable: their progress is saved
with every backup (``get_state``/``set_state``, see :class:`tf_sfw.training.ResumableBackup`),
so the history of a resumed run holds every epoch, and an epoch split by a restart reports
the mean over all of its batches.
"""

import csv
import importlib.util
import math
import os

from tf_sfw._keras import keras
from tf_sfw.schedules import combine_partial_mean, get_learning_rate
from tf_sfw.training.errors import TrainingDivergedError

__all__ = ["DivergenceGuard", "RunHistory", "tensorboard_available", "tensorboard_callback"]


def current_learning_rate(optimizer):
    """The learning rate of the optimizer's last step: a schedule (``schedule="recipe"``) is
    evaluated at ``iterations - 1``; a float rate is read as epoch callbacks set it."""
    lr = getattr(optimizer, "_learning_rate", None)
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        return float(lr(max(0, int(optimizer.iterations.numpy()) - 1)))
    return get_learning_rate(optimizer)


def _number(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class RunHistory(keras.callbacks.Callback):
    """Per-epoch logs of the whole run (across restarts), optionally mirrored to a CSV file.

    Keras reports, at the end of an epoch, the mean of each training metric over the batches
    run *in this process*. When the epoch was split by a restart, the batches before the
    backup are carried in the backup (their sum and count) and joined here with
    :func:`tf_sfw.schedules.combine_partial_mean`; the joined means replace the values in
    ``logs`` so that every later callback (TensorBoard, Keras' ``History``) sees them. Put
    this callback after the learning-rate schedules (which join the loss themselves) and
    before any logger.

    Args:
        csv_path: If given, ``epoch`` plus every logged value is rewritten to this CSV file
            (atomically) after every epoch; it always matches :attr:`history`.

    Attributes:
        history: ``{key: [value of epoch 1, epoch 2, ...]}`` (``loss``, ``accuracy``, ``lr``, ``val_*``).
    """

    def __init__(self, csv_path=None):
        super().__init__()
        self.csv_path = None if csv_path is None else os.fspath(csv_path)
        self.history = {}
        self.epochs = 0  # number of finished epochs recorded
        self._carry = None  # {"epoch", "count", "sums"} of the epoch interrupted by a restart
        self._epoch, self._seen, self._running = None, 0, {}

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch, self._seen, self._running = epoch, 0, {}
        if self._carry is not None and self._carry["epoch"] != epoch:
            self._carry = None

    def on_train_batch_end(self, batch, logs=None):
        self._seen += 1
        self._running = {k: v for k, v in ((k, _number(v)) for k, v in (logs or {}).items()) if v is not None}

    def on_epoch_end(self, epoch, logs=None):
        logs = {} if logs is None else logs
        if epoch < self.epochs:
            return  # already recorded (cannot happen with Keras' resumption, kept for safety)
        if self._carry is not None and self._carry["epoch"] == epoch:
            count = self._carry["count"]
            for key, carried in self._carry["sums"].items():
                if key in logs:
                    logs[key] = combine_partial_mean(carried, count, float(logs[key]), self._seen)
        if "lr" not in logs:
            logs["lr"] = current_learning_rate(self.model.optimizer)
        for key, value in logs.items():
            value = _number(value)
            if value is not None:
                self.history.setdefault(key, []).append(value)
        self.epochs = epoch + 1
        self._carry, self._seen, self._running = None, 0, {}
        if self.csv_path is not None:
            self.write_csv(self.csv_path)

    def write_csv(self, path):
        """Write ``epoch`` (1-based) and every history column to ``path`` (atomically)."""
        keys = sorted(self.history)
        tmp = f"{path}.tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["epoch", *keys])
            for i in range(self.epochs):
                writer.writerow([i + 1, *(self.history[k][i] if i < len(self.history[k]) else "" for k in keys)])
        os.replace(tmp, path)

    def get_state(self):
        """JSON-serialisable history plus the batch sums of the running epoch."""
        partial = None
        carry = self._carry if (self._carry is not None and self._carry["epoch"] == self._epoch) else None
        if self._seen or carry:
            sums = dict(carry["sums"]) if carry else {}
            for key, mean in self._running.items():
                sums[key] = sums.get(key, 0.0) + mean * self._seen
            partial = {"epoch": self._epoch, "count": (carry["count"] if carry else 0) + self._seen, "sums": sums}
        return {"history": self.history, "epochs": self.epochs, "partial": partial}

    def set_state(self, state):
        """Restore :meth:`get_state`."""
        self.history = {k: [float(v) for v in vals] for k, vals in state["history"].items()}
        self.epochs = int(state["epochs"])
        partial = state.get("partial")
        self._carry = None
        if partial:
            self._carry = {"epoch": int(partial["epoch"]), "count": int(partial["count"]),
                           "sums": {k: float(v) for k, v in partial["sums"].items()}}


class DivergenceGuard(keras.callbacks.Callback):
    """Stop training with :class:`TrainingDivergedError` when the training loss diverges.

    After every batch, with :math:`\\bar L` Keras' running mean of the epoch's loss and
    :math:`L_0` the loss of the run's first batch, training stops when :math:`\\bar L` is not
    finite or :math:`\\bar L > \\mathrm{factor}\\cdot L_0`. The message names the optimizer
    and learning rate and suggests a lower one. Put it FIRST among the callbacks so that no
    other callback (schedule, backup) sees a diverged state.

    Args:
        factor: Ratio limit (None: only non-finite losses stop the run).
        description: The optimizer setting shown in the message, e.g. ``"optimizer='sgd', learning_rate=1e6"``.
    """

    def __init__(self, factor=100.0, description=""):
        super().__init__()
        self.factor = factor
        self.description = description
        self.initial_loss = None

    def on_train_batch_end(self, batch, logs=None):
        loss = _number((logs or {}).get("loss"))
        if loss is None:
            return
        if self.initial_loss is None and math.isfinite(loss):
            self.initial_loss = loss
        if not math.isfinite(loss):
            self._fail(batch, loss, "is not finite")
        if self.factor is not None and self.initial_loss and loss > self.factor * self.initial_loss:
            self._fail(batch, loss, f"exceeds {self.factor:g} x the first batch's loss {self.initial_loss:.4g}")

    def _fail(self, batch, loss, why):
        self.model.stop_training = True
        lr = current_learning_rate(self.model.optimizer)
        epoch = getattr(self, "_epoch", 0) + 1
        setting = f" ({self.description})" if self.description else ""
        raise TrainingDivergedError(
            f"Training diverged in epoch {epoch}, batch {batch + 1}: the running mean training loss {loss:.4g} {why}. "
            f"Optimizer {type(self.model.optimizer).__name__}{setting}, current learning rate {lr:.4g}. "
            f"Lower the learning rate (`learning_rate`; CLI: --lr), e.g. to {lr / 10:.3g}."
        )

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def get_state(self):
        return {"initial_loss": self.initial_loss}

    def set_state(self, state):
        self.initial_loss = state.get("initial_loss")


def tensorboard_available():
    """Whether the ``tensorboard`` package (needed by ``tf.summary.scalar``) is installed."""
    return importlib.util.find_spec("tensorboard") is not None


def tensorboard_callback(log_dir, setting=None):
    """Keras' TensorBoard callback writing epoch scalars to ``log_dir`` (no graph, no profiler), or None.

    ``tf.summary.scalar`` needs the ``tensorboard`` package, an optional dependency
    (``pip install tensorboard`` or ``pip install tf_sfw[tensorboard]``); the same holds for
    tfmot's ``PruningSummaries``, a subclass of this callback. ``setting`` is the run's
    ``tensorboard`` option: None writes the logs only when the package is installed, True
    requires it (ValueError otherwise), False writes none.
    """
    if setting is False or (setting is None and not tensorboard_available()):
        return None
    if not tensorboard_available():
        raise ValueError(
            "TensorBoard logs need the `tensorboard` package, which is not installed "
            "(pip install tensorboard). Received: tensorboard=True"
        )
    return keras.callbacks.TensorBoard(
        log_dir=os.fspath(log_dir), write_graph=False, write_images=False, profile_batch=0, update_freq="epoch"
    )
