"""Tests for tf_sfw.schedules: step decay (absolute and relative milestones) and the loss-average rule."""

import json

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.schedules import (
    LossAverageSchedule,
    StepDecay,
    combine_partial_mean,
    get_learning_rate,
    relative_milestones,
    set_learning_rate,
)


def _model(lr=1.0):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _drive(callbacks, losses, model, steps=1):
    """Run epoch hooks with fake epoch-mean losses; return the lr in force during each epoch."""
    for cb in callbacks:
        cb.set_model(model)
        cb.set_params({"steps": steps, "epochs": len(losses)})
    used = []
    for epoch, loss in enumerate(losses):
        for cb in callbacks:
            cb.on_epoch_begin(epoch)
        used.append(get_learning_rate(model.optimizer))
        for b in range(steps):
            for cb in callbacks:
                cb.on_train_batch_end(b, {"loss": loss})
        for cb in callbacks:
            cb.on_epoch_end(epoch, {"loss": loss})
    return used


# Fake epoch losses (1-based epoch e): decreasing 10 - 0.1 e up to epoch 25, then flat at 20.
LOSSES = [10 - 0.1 * e for e in range(1, 26)] + [20.0] * 15


def test_loss_average_hand_computed():
    # e=20: rule inactive (needs e > 20).  e=25: mean(L21..25) < mean(L16..25) -> x1.06.
    # e=30: mean(L26..30)=20 > mean(L21..30) -> x0.7.  e=35, 40: both means 20 -> unchanged.
    expected = [1.0] * 25 + [1.06] * 5 + [1.06 * 0.7] * 10
    used = _drive([LossAverageSchedule()], LOSSES, _model())
    np.testing.assert_allclose(used, expected, rtol=1e-6)


def test_step_decay_hand_computed():
    used = _drive([StepDecay(milestones=(3, 5), factor=0.1)], [1.0] * 6, _model(2.0))
    np.testing.assert_allclose(used, [2.0, 2.0, 0.2, 0.2, 0.02, 0.02], rtol=1e-6)


def test_paper_defaults_combined():
    """Step decay at 61/121 and the loss rule multiply (180 epochs, flat loss: only the decay acts)."""
    used = _drive([StepDecay(), LossAverageSchedule()], [1.0] * 180, _model(1.0))
    expected = [1.0] * 60 + [0.1] * 60 + [0.01] * 60
    np.testing.assert_allclose(used, expected, rtol=1e-6)


def test_loss_rule_with_custom_windows():
    sched = LossAverageSchedule(start_epoch=2, every=2, short_window=1, long_window=2, decrease=0.5, increase=2.0)
    # e=2: L2=1 < mean(L1,L2)=1.5 -> x2.  e=4: L4=3 > mean(2,3) -> x0.5.  e=6: equal -> x1.
    used = _drive([sched], [2.0, 1.0, 2.0, 3.0, 3.0, 3.0, 1.0], _model(1.0))
    np.testing.assert_allclose(used, [1, 1, 1, 1, 0.5, 0.5, 0.5], rtol=1e-6)  # start_epoch=2 excludes e=2 only
    sched = LossAverageSchedule(start_epoch=1, every=2, short_window=1, long_window=2, decrease=0.5, increase=2.0)
    used = _drive([sched], [2.0, 1.0, 2.0, 3.0, 3.0, 3.0, 1.0], _model(1.0))
    np.testing.assert_allclose(used, [1, 1, 2, 2, 1, 1, 1], rtol=1e-6)
    assert sched.history == {i + 1: v for i, v in enumerate([2.0, 1.0, 2.0, 3.0, 3.0, 3.0, 1.0])}


def test_epoch_mean_is_real_mean_in_fit():
    """With Keras fit, the recorded loss of an epoch equals the mean of its batch losses."""
    keras.utils.set_random_seed(0)
    x = np.random.default_rng(0).normal(size=(12, 2)).astype("float32")
    y = np.random.default_rng(1).normal(size=(12, 1)).astype("float32")
    model = _model(0.05)
    sched = LossAverageSchedule()
    batch_losses = []

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            xb, yb = x[batch * 4 : (batch + 1) * 4], y[batch * 4 : (batch + 1) * 4]
            batch_losses.append(float(np.mean((self.model(xb).numpy() - yb) ** 2)))

    model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0, callbacks=[Record(), sched])
    np.testing.assert_allclose(sched.history[1], np.mean(batch_losses[:3]), rtol=1e-5)
    np.testing.assert_allclose(sched.history[2], np.mean(batch_losses[3:]), rtol=1e-5)
    assert sched.history[2] != pytest.approx(batch_losses[-1], rel=1e-3)  # not the last batch's loss


def test_resume_mid_epoch_is_idempotent():
    """Split a run inside epoch 61 and inside epoch 25; the resumed run matches the uninterrupted one."""
    losses = LOSSES + [5.0] * 30  # 70 epochs
    steps = 4
    full_model = _model(1.0)
    full = [StepDecay(), LossAverageSchedule()]
    used_full = _drive(full, losses, full_model, steps=steps)

    for stop_epoch, stop_batch in [(24, 1), (60, 2), (24, 3)]:
        model = _model(1.0)
        first = [StepDecay(), LossAverageSchedule()]
        for cb in first:
            cb.set_model(model)
            cb.set_params({"steps": steps})
        for epoch in range(stop_epoch + 1):
            for cb in first:
                cb.on_epoch_begin(epoch)
            last = steps if epoch < stop_epoch else stop_batch + 1
            for b in range(last):
                for cb in first:
                    cb.on_train_batch_end(b, {"loss": losses[epoch]})
            if epoch < stop_epoch:
                for cb in first:
                    cb.on_epoch_end(epoch, {"loss": losses[epoch]})
        states = [json.loads(json.dumps(cb.get_state())) for cb in first]
        lr_at_backup = get_learning_rate(model.optimizer)
        # "new process": fresh callbacks and an optimizer restored to the backup's learning rate
        model2 = _model(lr_at_backup)
        second = [StepDecay(), LossAverageSchedule()]
        for cb, state in zip(second, states):
            cb.set_model(model2)
            cb.set_params({"steps": steps})
            cb.set_state(state)
        resume_epoch = stop_epoch if stop_batch < steps - 1 else stop_epoch + 1
        used = []
        for epoch in range(resume_epoch, len(losses)):
            for cb in second:
                cb.on_epoch_begin(epoch)
            used.append(get_learning_rate(model2.optimizer))
            start = stop_batch + 1 if epoch == stop_epoch else 0
            for b in range(start, steps):
                for cb in second:
                    cb.on_train_batch_end(b, {"loss": losses[epoch]})
            for cb in second:
                cb.on_epoch_end(epoch, {"loss": losses[epoch]})
        np.testing.assert_allclose(used, used_full[resume_epoch:], rtol=1e-6)
        assert second[1].history == pytest.approx(full[1].history)


@pytest.mark.parametrize(
    "cls,kwargs",
    [
        (StepDecay, {}),
        (StepDecay, {"milestones": [10, 20, 30], "factor": 0.5, "verbose": 1}),
        (LossAverageSchedule, {}),
        (LossAverageSchedule, {"start_epoch": 3, "every": 2, "short_window": 2, "long_window": 4, "decrease": 0.5, "increase": 1.5, "verbose": 0}),
    ],
)
def test_config_round_trip(cls, kwargs):
    obj = cls(**kwargs)
    config = obj.get_config()
    assert set(config) == set(cls.__init__.__code__.co_varnames[1 : cls.__init__.__code__.co_argcount])
    json.dumps(config)
    clone = cls.from_config(config)
    assert clone.get_config() == config
    for key, value in kwargs.items():
        assert config[key] == (list(value) if isinstance(value, (list, tuple)) else value)


@pytest.mark.parametrize(
    "cls,kwargs,match",
    [
        (StepDecay, {"milestones": [1, 5]}, "milestones"),
        (StepDecay, {"milestones": [10, 5]}, "increasing"),
        (StepDecay, {"milestones": 5}, "milestones"),
        (StepDecay, {"factor": 0}, "factor"),
        (StepDecay, {"factor": 2.0}, "factor"),
        (LossAverageSchedule, {"every": 0}, "every"),
        (LossAverageSchedule, {"short_window": 10, "long_window": 5}, "long_window"),
        (LossAverageSchedule, {"decrease": 1.5}, "decrease"),
        (LossAverageSchedule, {"increase": 0.9}, "increase"),
        (LossAverageSchedule, {"start_epoch": -1}, "start_epoch"),
        (LossAverageSchedule, {"decrease": float("nan")}, "decrease"),
    ],
)
def test_invalid_arguments(cls, kwargs, match):
    with pytest.raises(ValueError, match=match):
        cls(**kwargs)


def test_nan_loss_rejected():
    with pytest.raises(ValueError, match="epoch 3"):
        _drive([LossAverageSchedule()], [1.0, 1.0, float("nan")], _model())


def test_schedule_learning_rate_rejected():
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(keras.optimizers.schedules.ExponentialDecay(1.0, 10, 0.5)), loss="mse")
    with pytest.raises(ValueError, match="ExponentialDecay"):
        _drive([StepDecay(milestones=(2,))], [1.0, 1.0], model)
    with pytest.raises(ValueError, match="learning_rate=-1"):
        set_learning_rate(_model().optimizer, -1.0)


@pytest.mark.parametrize(
    "fractions,epochs,expected",
    [
        ((1 / 3, 2 / 3), 180, (61, 121)),  # the paper's milestones
        ((1 / 3, 2 / 3), 9, (4, 7)),
        ((1 / 3, 2 / 3), 3, (2, 3)),
        ((0.5,), 1, ()),  # a one-epoch run has no epoch to decay at
        ((0.1, 0.2), 4, (2,)),  # round(0.4) + 1 = 1 is dropped, round(0.8) + 1 = 2 kept
        ((0.5, 0.99), 10, (6,)),  # round(9.9) + 1 = 11 is after the run
    ],
)
def test_relative_milestones(fractions, epochs, expected):
    assert relative_milestones(fractions, epochs) == expected


def test_step_decay_relative_milestones_in_fit():
    """milestones_frac is resolved from the run length: 1/3, 2/3 of 6 epochs decay at epochs 3 and 5."""
    model = _model(1.0)
    used = []

    class Record(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            used.append(get_learning_rate(self.model.optimizer))

    x = np.zeros((4, 2), "float32")
    model.fit(x, x[:, :1], epochs=6, verbose=0, callbacks=[StepDecay(milestones_frac=(1 / 3, 2 / 3), factor=0.5), Record()])
    np.testing.assert_allclose(used, [1, 1, 0.5, 0.5, 0.25, 0.25], rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"milestones_frac": (0.0, 0.5)}, "milestones_frac"),
        ({"milestones_frac": (0.5, 1.0)}, "milestones_frac"),
        ({"milestones_frac": (0.6, 0.3)}, "increasing"),
        ({"milestones_frac": (0.5,), "milestones": (3,)}, "either"),
    ],
)
def test_relative_milestones_invalid(kwargs, match):
    with pytest.raises(ValueError, match=match):
        StepDecay(**kwargs)


@pytest.mark.parametrize("a_sum,a_count,mean,count", [(6.0, 3, 4.0, 1), (0.0, 0, 2.5, 4), (10.0, 4, 0.0, 0)])
def test_combine_partial_mean(a_sum, a_count, mean, count):
    values = [a_sum / a_count] * a_count + [mean] * count if a_count else [mean] * count
    assert combine_partial_mean(a_sum, a_count, mean, count) == pytest.approx(np.mean(values))
