"""Tests for tf_sfw.training.callbacks: run history across restarts, CSV/TensorBoard logs, divergence."""

import csv
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.training import TrainConfig, TrainingDivergedError, run_status, train
from tf_sfw.training import callbacks as callbacks_lib
from tf_sfw.training.callbacks import DivergenceGuard, RunHistory

sys.path.insert(0, str(Path(__file__).parent))
from test_training_resume import ARRAYS, CONFIG  # noqa: E402  (same tiny data: 6 steps/epoch)


def _model(lr=1.0):
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr), loss="mse")
    return model


def _drive(cb, epochs, start=(0, 0), stop=None):
    """Feed ``epochs`` = [[batch losses of epoch 1], ...] through ``cb`` as Keras would (running means).

    Starts at (epoch, batch) ``start`` and stops before (epoch, batch) ``stop`` (a kill).
    """
    for e in range(start[0], len(epochs)):
        cb.on_epoch_begin(e)
        first = start[1] if e == start[0] else 0
        for b in range(first, len(epochs[e])):
            if stop is not None and (e, b) == stop:
                return
            seen = epochs[e][first : b + 1]
            cb.on_train_batch_end(b, {"loss": float(np.mean(seen)), "accuracy": float(np.mean(seen)) / 10})
        seen = epochs[e][first:]
        cb.on_epoch_end(e, {"loss": float(np.mean(seen)), "accuracy": float(np.mean(seen)) / 10, "val_loss": 7.0})


EPOCHS = [[4.0, 2.0, 3.0, 1.0], [2.0, 2.5, 0.5, 1.0], [1.0, 0.25, 0.5, 0.75]]


@pytest.mark.parametrize("stop", [(1, 1), (1, 3), (2, 0), (0, 2)])
def test_run_history_joins_an_epoch_split_by_a_restart(tmp_path, stop):
    model = _model()
    first = RunHistory()
    first.set_model(model)
    _drive(first, EPOCHS, stop=stop)
    state = json.loads(json.dumps(first.get_state()))
    second = RunHistory(csv_path=tmp_path / "log.csv")
    second.set_model(model)
    second.set_state(state)
    _drive(second, EPOCHS, start=stop)
    np.testing.assert_allclose(second.history["loss"], [np.mean(e) for e in EPOCHS], rtol=1e-12)
    np.testing.assert_allclose(second.history["accuracy"], [np.mean(e) / 10 for e in EPOCHS], rtol=1e-12)
    assert second.history["val_loss"] == [7.0] * 3 and second.history["lr"] == [1.0] * 3
    rows = list(csv.DictReader(open(tmp_path / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    np.testing.assert_allclose([float(r["loss"]) for r in rows], second.history["loss"])


def test_divergence_guard_rules():
    model = _model()
    guard = DivergenceGuard(factor=10.0, description="optimizer='sgd', learning_rate=1")
    guard.set_model(model)
    guard.on_epoch_begin(0)
    guard.on_train_batch_end(0, {"loss": 2.0})
    guard.on_train_batch_end(1, {"loss": 20.0})  # exactly 10x: not above
    with pytest.raises(TrainingDivergedError, match=r"epoch 1, batch 3.*exceeds 10 x.*learning_rate=1.*--lr"):
        guard.on_train_batch_end(2, {"loss": 20.5})
    restored = DivergenceGuard(factor=None)
    restored.set_model(model)
    restored.set_state(json.loads(json.dumps(guard.get_state())))
    restored.on_epoch_begin(3)
    restored.on_train_batch_end(0, {"loss": 1e30})  # ratio test disabled: finite losses pass
    with pytest.raises(TrainingDivergedError, match="epoch 4, batch 2.*not finite"):
        restored.on_train_batch_end(1, {"loss": float("nan")})


@pytest.mark.parametrize(
    "lr,factor,match",
    [
        (1e6, 100.0, "exceeds 100 x the first batch's loss"),  # the SGD at lr 1e6: loss 6.7e19, exit 0
        (1e6, None, "is not finite"),  # NaN: named as divergence, not as a LossAverageSchedule failure
    ],
)
def test_diverging_run_stops_with_clear_error(tmp_path, lr, factor, match):
    config = TrainConfig(**{**CONFIG, "optimizer": "sgd", "learning_rate": lr, "divergence_factor": factor})
    with pytest.raises(TrainingDivergedError, match=match) as info:
        train(config, tmp_path, arrays=ARRAYS)
    message = str(info.value)
    assert "learning_rate=1e+06" in message and "--lr" in message and "SGD" in message
    assert "LossAverageSchedule" not in message
    assert run_status(tmp_path) == "empty"  # no unfinished run, no config.json: a rerun may start
    assert not (tmp_path / "config.json").exists() and not (tmp_path / "backup").exists()


@pytest.fixture(scope="module")
def logged_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("logged")
    config = TrainConfig(**{**CONFIG, "epochs": 3, "milestones_frac": (0.6, 0.85)})
    _, metrics = train(config, out, arrays=ARRAYS)
    return out, metrics


def test_csv_log_matches_history_and_relative_milestones(logged_run):
    out, metrics = logged_run
    rows = list(csv.DictReader(open(out / "log.csv")))
    assert [int(r["epoch"]) for r in rows] == [1, 2, 3]
    assert set(rows[0]) == {"epoch", "loss", "accuracy", "lr"}
    for key in ("loss", "accuracy", "lr"):
        np.testing.assert_allclose([float(r[key]) for r in rows], metrics["history"][key], rtol=1e-12)
    # relative milestones 0.6, 0.85 of the 18-step recipe schedule: decays at steps 10 and 15,
    # inside epochs 2 and 3 (the logged lr is the one of each epoch's last step)
    np.testing.assert_allclose(metrics["history"]["lr"], [1.0, 0.1, 0.01], rtol=1e-6)


def test_tensorboard_logs(logged_run, tmp_path, monkeypatch):
    out, _ = logged_run
    if callbacks_lib.tensorboard_available():
        assert list((out / "logs").rglob("events.out.tfevents.*"))
    else:
        assert not (out / "logs").exists()  # optional dependency missing: no logs, no failure
    monkeypatch.setattr(callbacks_lib, "tensorboard_available", lambda: False)
    import tf_sfw.training.run as run_lib

    monkeypatch.setattr(run_lib, "tensorboard_available", lambda: False)
    config = TrainConfig(**{**CONFIG, "epochs": 1, "tensorboard": True})
    with pytest.raises(ValueError, match=r"pip install tensorboard.*tensorboard=True"):
        train(config, tmp_path / "out", arrays=ARRAYS)
    assert not (tmp_path / "out").exists()  # refused before anything was written
