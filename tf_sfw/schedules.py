r"""Learning-rate schedules of Miao et al., ICLR 2022 "Learning Pruning-Friendly Networks via
Frank-Wolfe", as resumable Keras callbacks.

Two rules, usable together (they multiply the optimizer's learning rate in place):

* :class:`StepDecay`: at the start of every epoch listed in ``milestones`` (1-based; default
  61 and 121, or relative to the run: ``milestones_frac``),
  :math:`\mathrm{lr} \leftarrow \mathrm{lr}\cdot\mathrm{factor}` (default 0.1).
* :class:`LossAverageSchedule` (the paper's "dynamic change"): after every epoch ``e``
  (1-based) with ``e > start_epoch`` (20) and ``e % every == 0`` (5), with
  :math:`\bar L_5` / :math:`\bar L_{10}` the means of the last 5 / 10 epoch-mean training
  losses: :math:`\bar L_5 > \bar L_{10} \Rightarrow \mathrm{lr} \leftarrow 0.7\,\mathrm{lr}`,
  :math:`\bar L_5 < \bar L_{10} \Rightarrow \mathrm{lr} \leftarrow 1.06\,\mathrm{lr}`, equal: unchanged.
  The new rate holds from epoch ``e + 1``. The loss of an epoch is the real mean over all its
  batches (Keras' ``logs["loss"]`` at epoch end); the reference code's value was only the
  last mini-batch's loss, a defect not copied. lr may exceed 1 (the SFW step size stays clipped).

Frank-Wolfe step-size / averaging schedules (``LearningRateSchedule`` objects, serializable,
XLA-compilable; bodies in `tf_sfw.fw_schedules`): :class:`PowerDecay`
(:math:`\eta_t = \min(1, a/(t+b)^p)`), :class:`AveragingMomentum` (:math:`\mu_t = 1-\rho_t`)
for one-shot Frank-Wolfe (Chen et al., ICML 2018), and :class:`RestartingPowerDecay` (SVRF's
:math:`\gamma_k = 2/(k+1)`, restarted every snapshot; Hazan & Luo, ICML 2016).

Both callbacks are idempotent under resumption: they remember which epochs they already
handled (``get_state``/``set_state``, persisted by :class:`tf_sfw.training.ResumableBackup`),
so an epoch re-entered after a mid-epoch restart is not decayed twice, and the epoch-mean loss
of an epoch split by a restart combines the batches of both processes.
"""

import math

import numpy as np

from tf_sfw import fw_schedules
from tf_sfw._keras import keras
from tf_sfw.validation import (  # the milestone checks live there: TrainConfig runs without TensorFlow
    check_int,
    check_milestones,
    check_milestones_frac,
    check_positive_int,
    check_positive_number,
)

# The paper's absolute milestones (180-epoch runs).
PAPER_MILESTONES = (61, 121)

__all__ = [
    "AveragingMomentum",
    "LossAverageSchedule",
    "PowerDecay",
    "RestartingPowerDecay",
    "StepDecay",
    "check_milestones",
    "check_milestones_frac",
    "combine_partial_mean",
    "get_learning_rate",
    "relative_milestones",
    "set_learning_rate",
]


_SCHEDULE = keras.optimizers.schedules.LearningRateSchedule


@keras.saving.register_keras_serializable(package="tf_sfw")
class PowerDecay(fw_schedules.PowerDecayMixin, _SCHEDULE):
    __doc__ = fw_schedules.PowerDecayMixin.__doc__


@keras.saving.register_keras_serializable(package="tf_sfw")
class AveragingMomentum(fw_schedules.AveragingMomentumMixin, _SCHEDULE):
    __doc__ = fw_schedules.AveragingMomentumMixin.__doc__


@keras.saving.register_keras_serializable(package="tf_sfw")
class RestartingPowerDecay(fw_schedules.RestartingPowerDecayMixin, _SCHEDULE):
    __doc__ = fw_schedules.RestartingPowerDecayMixin.__doc__

    def _inner_step(self, step):
        import tensorflow as tf

        return tf.math.floormod(tf.cast(step, tf.int64), self.period)


def get_learning_rate(optimizer):
    """Current learning rate of ``optimizer`` as a Python float.

    Raises:
        ValueError: if the learning rate is a ``LearningRateSchedule`` (epoch callbacks need a
            plain, assignable rate).
    """
    lr = getattr(optimizer, "_learning_rate", None)
    if lr is None:
        lr = optimizer.learning_rate
    if isinstance(lr, keras.optimizers.schedules.LearningRateSchedule):
        raise ValueError(
            "Epoch learning-rate callbacks need a float learning rate, but the optimizer uses the "
            f"schedule {type(lr).__name__}. Received: learning_rate={lr!r}"
        )
    return float(keras.backend.get_value(lr))


def set_learning_rate(optimizer, value):
    """Assign ``value`` to the optimizer's learning rate (a checkpointed variable)."""
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"The learning rate must be a finite number >= 0. Received: learning_rate={value}")
    get_learning_rate(optimizer)  # validates that it is not a schedule
    optimizer.learning_rate = value


def relative_milestones(fractions, epochs):
    r"""1-based milestone epochs of relative ``fractions`` of a run of ``epochs`` epochs.

    Fraction :math:`f` gives epoch :math:`\mathrm{round}(f \cdot E) + 1`, the first epoch after
    a fraction ``f`` of the run; fractions 1/3 and 2/3 of E = 180 give the paper's 61 and 121.
    Epochs outside ``[2, E]`` (the rate of epoch 1 is the initial one; epochs after the run
    never start) and duplicates are dropped.
    """
    fractions = check_milestones_frac(fractions)
    epochs = check_positive_int(epochs, "epochs")
    return tuple(sorted({round(f * epochs) + 1 for f in fractions} & set(range(2, epochs + 1))))


def combine_partial_mean(carried_sum, carried_count, mean, count):
    """Mean over ``carried_count + count`` batches of a carried sum and a running ``mean`` of ``count``.

    Joins an epoch split by a restart: the batches before the backup (their loss sum, carried in
    the backup) and the ``count`` batches after it (Keras' running mean in the new process).
    """
    total = carried_count + count
    return (carried_sum + mean * count) / total if total else mean


class StepDecay(keras.callbacks.Callback):
    r"""Multiply the learning rate by ``factor`` at the start of each 1-based epoch in ``milestones``.

    With the defaults, :math:`\mathrm{lr}_e = \mathrm{lr}_0 \cdot 0.1^{[e \ge 61] + [e \ge 121]}`
    (1-based epoch ``e``) when no other rule changes the rate.

    Milestones may be given relative to the run length instead: ``milestones_frac=(1/3, 2/3)``
    decays at epochs ``round(f * E) + 1`` of a run of ``E`` epochs (:func:`relative_milestones`;
    61 and 121 for E = 180), resolved from ``params["epochs"]`` when training begins.

    Args:
        milestones: Increasing 1-based epoch numbers (>= 2) at whose start the rate is multiplied
            (default: the paper's 61 and 121 unless ``milestones_frac`` is given).
        factor: Multiplier in ``(0, 1]`` (0.1 divides by 10).
        verbose: If truthy, print each change.
        milestones_frac: Increasing fractions of the run in (0, 1) (instead of ``milestones``).
    """

    def __init__(self, milestones=None, factor=0.1, verbose=0, milestones_frac=None):
        super().__init__()
        if milestones is None and milestones_frac is None:
            milestones = PAPER_MILESTONES
        if milestones_frac is not None:
            if milestones is not None:
                raise ValueError(
                    "Give either `milestones` (epochs) or `milestones_frac` (fractions of the run), not both. "
                    f"Received: milestones={milestones!r}, milestones_frac={milestones_frac!r}"
                )
            self.milestones_frac = check_milestones_frac(milestones_frac)
            self.milestones = None  # resolved from params["epochs"] at on_train_begin
        else:
            self.milestones_frac = None
            self.milestones = check_milestones(milestones)
        check_positive_number(factor, "factor")
        if factor > 1:
            raise ValueError(f"`factor` must be in (0, 1]. Received: factor={factor}")
        self.factor = factor
        self.verbose = verbose
        self._last_epoch = -1  # last 0-based epoch whose start was handled

    def on_train_begin(self, logs=None):
        if self.milestones_frac is not None:
            epochs = (self.params or {}).get("epochs")
            if not epochs:
                raise ValueError("StepDecay with `milestones_frac` needs the number of epochs of the run (params['epochs']).")
            self.milestones = relative_milestones(self.milestones_frac, epochs)

    def on_epoch_begin(self, epoch, logs=None):
        if epoch <= self._last_epoch:
            return  # re-entered after a mid-epoch restart: already applied
        self._last_epoch = epoch
        if epoch + 1 in self.milestones:
            lr = get_learning_rate(self.model.optimizer) * self.factor
            set_learning_rate(self.model.optimizer, lr)
            if self.verbose:
                print(f"\nStepDecay: epoch {epoch + 1}: learning rate -> {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["lr"] = get_learning_rate(self.model.optimizer)

    def get_state(self):
        """JSON-serialisable progress (for resumption)."""
        return {"last_epoch": self._last_epoch}

    def set_state(self, state):
        """Restore :meth:`get_state`."""
        self._last_epoch = int(state["last_epoch"])

    def get_config(self):
        relative = self.milestones_frac is not None
        return {
            "milestones": None if relative else list(self.milestones),
            "factor": self.factor,
            "verbose": self.verbose,
            "milestones_frac": list(self.milestones_frac) if relative else None,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class LossAverageSchedule(keras.callbacks.Callback):
    r"""The loss-average learning-rate rule of Miao et al. (ICLR 2022).

    After 1-based epoch ``e`` with ``e > start_epoch`` and ``e % every == 0``:

    .. math::
        \bar L_s = \tfrac{1}{s}\sum_{i=e-s+1}^{e} L_i,\quad
        \bar L_l = \tfrac{1}{l}\sum_{i=e-l+1}^{e} L_i,\quad
        \mathrm{lr} \leftarrow \mathrm{lr}\cdot
        \begin{cases}\mathrm{decrease} & \bar L_s > \bar L_l\\
        \mathrm{increase} & \bar L_s < \bar L_l\\ 1 & \text{otherwise}\end{cases}

    with :math:`L_i` the mean training loss of epoch ``i`` over all its batches, ``s =
    short_window`` (5), ``l = long_window`` (10). Epochs with fewer than ``l`` recorded losses
    are skipped.

    Args:
        start_epoch: Rule active for epochs ``e > start_epoch`` (default 20).
        every: Apply at epochs that are multiples of ``every`` (default 5).
        short_window: Length of the short average (default 5).
        long_window: Length of the long average (default 10, > ``short_window``).
        decrease: Factor when the short average is higher (default 0.7, in (0, 1]).
        increase: Factor when the short average is lower (default 1.06, >= 1).
        verbose: If truthy, print each change.

    Attributes:
        history: dict ``{1-based epoch: epoch-mean loss}``.
    """

    def __init__(
        self, start_epoch=20, every=5, short_window=5, long_window=10, decrease=0.7, increase=1.06, verbose=0
    ):
        super().__init__()
        check_int(start_epoch, "start_epoch", minimum=0)
        check_int(every, "every", minimum=1)
        check_int(short_window, "short_window", minimum=1)
        check_int(long_window, "long_window", minimum=1)
        if long_window <= short_window:
            raise ValueError(
                f"`long_window` must be > `short_window`. Received: long_window={long_window}, short_window={short_window}"
            )
        check_positive_number(decrease, "decrease")
        check_positive_number(increase, "increase")
        if decrease > 1:
            raise ValueError(f"`decrease` must be in (0, 1]. Received: decrease={decrease}")
        if increase < 1:
            raise ValueError(f"`increase` must be >= 1. Received: increase={increase}")
        self.start_epoch = int(start_epoch)
        self.every = int(every)
        self.short_window = int(short_window)
        self.long_window = int(long_window)
        self.decrease = decrease
        self.increase = increase
        self.verbose = verbose
        self.history = {}
        self._last_epoch = -1  # last 0-based epoch whose end was handled
        # Loss sum / batch count of the current epoch carried over from before a restart,
        # and batches seen / running mean in this process.
        self._carry = (None, 0.0, 0)  # (0-based epoch, loss sum, batches)
        self._epoch = None
        self._seen = 0
        self._running = None

    # -- pure rule ---------------------------------------------------------------------
    def factor_after(self, epoch_1based, history):
        """Multiplier applied after 1-based epoch ``epoch_1based`` given ``{epoch: loss}``."""
        e = epoch_1based
        if e <= self.start_epoch or e % self.every != 0:
            return 1.0
        window = [history.get(i) for i in range(e - self.long_window + 1, e + 1)]
        if any(v is None for v in window):
            return 1.0
        short = float(np.mean(window[-self.short_window :]))
        long = float(np.mean(window))
        if not (math.isfinite(short) and math.isfinite(long)):
            raise ValueError(
                f"LossAverageSchedule: non-finite epoch loss in epochs {e - self.long_window + 1}..{e}: {window}"
            )
        if short > long:
            return self.decrease
        if short < long:
            return self.increase
        return 1.0

    # -- callback hooks ----------------------------------------------------------------
    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch
        self._seen = 0
        self._running = None

    def on_train_batch_end(self, batch, logs=None):
        if logs and "loss" in logs:
            self._seen += 1
            self._running = float(logs["loss"])  # Keras reports the running mean of this epoch

    def _epoch_mean(self, epoch, logs):
        mean = float(logs["loss"]) if logs and "loss" in logs else self._running
        if mean is None:
            raise ValueError(f"LossAverageSchedule: no training loss was logged in epoch {epoch + 1}.")
        c_epoch, c_sum, c_count = self._carry
        if c_epoch == epoch and c_count:
            mean = combine_partial_mean(c_sum, c_count, mean, self._seen)
        return mean

    def _finish_epoch(self, epoch, mean):
        if epoch <= self._last_epoch:
            return
        self._last_epoch = epoch
        self._carry = (None, 0.0, 0)
        if not math.isfinite(mean):
            raise ValueError(f"LossAverageSchedule: the mean training loss of epoch {epoch + 1} is {mean}.")
        self.history[epoch + 1] = mean
        factor = self.factor_after(epoch + 1, self.history)
        if factor != 1.0:
            lr = get_learning_rate(self.model.optimizer) * factor
            set_learning_rate(self.model.optimizer, lr)
            if self.verbose:
                print(f"\nLossAverageSchedule: after epoch {epoch + 1}: learning rate x{factor} -> {lr:.6g}")

    def on_epoch_end(self, epoch, logs=None):
        self._finish_epoch(epoch, self._epoch_mean(epoch, logs))
        if logs is not None:
            logs["lr"] = get_learning_rate(self.model.optimizer)

    # -- resumption --------------------------------------------------------------------
    def get_state(self):
        """JSON-serialisable progress, including the partial loss sum of the running epoch."""
        c_epoch, c_sum, c_count = self._carry
        epoch = self._epoch if self._epoch is not None else c_epoch
        total, count = (c_sum, c_count) if (c_epoch is not None and c_epoch == epoch) else (0.0, 0)
        if self._seen and self._running is not None:
            total, count = total + self._running * self._seen, count + self._seen
        partial = [epoch, total, count] if (count and epoch > self._last_epoch) else None
        return {
            "history": {str(k): v for k, v in self.history.items()},
            "last_epoch": self._last_epoch,
            "partial": partial,
        }

    def set_state(self, state):
        """Restore :meth:`get_state`; an epoch whose batches were all done is finished now."""
        self.history = {int(k): float(v) for k, v in state["history"].items()}
        self._last_epoch = int(state["last_epoch"])
        self._carry = (None, 0.0, 0)
        partial = state.get("partial")
        if partial:
            epoch, total, count = int(partial[0]), float(partial[1]), int(partial[2])
            steps = (self.params or {}).get("steps")
            if steps is not None and count >= steps:
                self._finish_epoch(epoch, total / count)  # the backup was taken at its last batch
            else:
                self._carry = (epoch, total, count)

    def get_config(self):
        return {
            "start_epoch": self.start_epoch,
            "every": self.every,
            "short_window": self.short_window,
            "long_window": self.long_window,
            "decrease": self.decrease,
            "increase": self.increase,
            "verbose": self.verbose,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
