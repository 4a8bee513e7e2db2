"""Tests for tf_sfw.training.resume and the run-state rules of tf_sfw.training.run.

Kills are real (SIGKILL through the ``TF_SFW_TEST_KILL`` hook, in a child process) or simulated
(``StopAfterSteps`` raising ``KeyboardInterrupt`` in this process); either way the resumed run
must end bit-identical to an uninterrupted one.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.training import (
    NothingToResumeError,
    OutputDirError,
    RunAlreadyCompleteError,
    StopAfterSteps,
    TrainConfig,
    UnfinishedRunError,
    read_backup_step,
    run_status,
    train,
)
from tf_sfw.training.resume import KILL_ENV, RUN_STATE, read_run_state

DATA = r"""
import numpy as np

def arrays(n=128, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 10, n)
    x = rng.integers(0, 100, (n, 28, 28, 1)).astype(np.uint8)
    for i, label in enumerate(y):
        x[i, 2 * label + 4 : 2 * label + 6] += 150
    return (x[: n - 32], y[: n - 32]), (x[n - 32 :], y[n - 32 :])

CONFIG = dict(model="mnist_cnn", dataset="mnist", epochs=2, batch_size=16, test_batch_size=32,
              milestones_frac=(0.5,), backup_every=2, verbose=0)
"""
CHILD = DATA + r"""
import sys
from tf_sfw.training import TrainConfig, train
train(TrainConfig(**CONFIG), sys.argv[1], arrays=arrays())
"""
# Killed between writing the files of a checkpoint and recording it in the `checkpoint` state
# file (the instant of the former flaky CLI test): SIGKILL at the first state-file update of
# the argv[2]-th backup.
CHILD_MID_CHECKPOINT = DATA + r"""
import os, signal, sys
import tensorflow as tf
from tf_sfw.training import TrainConfig, train

calls = {"n": 0}
record_state = tf.train.CheckpointManager._record_state

def killing_record_state(self):
    calls["n"] += 1
    if calls["n"] == 2 * int(sys.argv[2]) - 1:  # two updates per save: the first of save number argv[2]
        os.kill(os.getpid(), signal.SIGKILL)
    return record_state(self)

tf.train.CheckpointManager._record_state = killing_record_state
train(TrainConfig(**CONFIG), sys.argv[1], arrays=arrays())
"""
namespace = {}
exec(DATA, namespace)
ARRAYS, CONFIG = namespace["arrays"](), namespace["CONFIG"]  # 96 training examples: 6 steps/epoch
STEPS = 12


def _config(**kw):
    return TrainConfig(**{**CONFIG, **kw})


def _state(model):
    return [w.numpy() for w in model.weights] + [v.numpy() for v in model.optimizer.variables()]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    model, metrics = train(_config(), tmp_path_factory.mktemp("ref"), arrays=ARRAYS)
    return _state(model), metrics


def _assert_same_run(model, metrics, reference):
    ref_state, ref_metrics = reference
    state = _state(model)
    assert len(state) == len(ref_state)
    for a, b in zip(state, ref_state):
        np.testing.assert_array_equal(a, b)
    assert metrics["test_accuracy"] == ref_metrics["test_accuracy"]
    assert set(metrics["history"]) == set(ref_metrics["history"])
    for key, values in ref_metrics["history"].items():
        assert metrics["history"][key] == pytest.approx(values, rel=1e-6), key


def _kill_points(n, seed=2026):
    """``n`` seeded random kill points: after a random step, inside a random backup, or at an epoch end."""
    rng = np.random.default_rng(seed)
    kinds = rng.choice(["step", "backup", "epoch"], size=n, p=[0.45, 0.45, 0.1])
    return [f"{k}:{rng.integers(1, 3) if k == 'epoch' else rng.integers(1, STEPS + 1)}" for k in kinds]


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [*_kill_points(3), "epoch:2"])  # epoch:2: killed after the last backup
def test_random_sigkill_resumes_bit_exactly(tmp_path, reference, kill_at):
    """kill -9 (the process SIGKILLs itself) at a seeded random point, then resume: bit-exact."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", KILL_ENV: kill_at}
    child = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path)], env=env, capture_output=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert run_status(tmp_path) == "interrupted" and not (tmp_path / "metrics.json").exists()
    with pytest.raises(UnfinishedRunError, match="--resume"):
        train(_config(), tmp_path, arrays=ARRAYS)
    keras.backend.clear_session()
    with _maybe_restart_warning(tmp_path):
        model, metrics = train(_config(), tmp_path, resume=True, arrays=ARRAYS)
    _assert_same_run(model, metrics, reference)
    assert run_status(tmp_path) == "complete" and not (tmp_path / "backup").exists()


@pytest.mark.slow
@pytest.mark.parametrize("save,resumed_from", [(1, 0), (3, 4)])
def test_sigkill_inside_checkpoint_write_is_detected(tmp_path, reference, save, resumed_from):
    """Killed after a checkpoint's files but before its state file: an unfinished run, resumed exactly."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop(KILL_ENV, None)
    child = subprocess.run([sys.executable, "-c", CHILD_MID_CHECKPOINT, str(tmp_path), str(save)], env=env,
                           capture_output=True, timeout=300)
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-2000:]
    assert list((tmp_path / "backup" / "chief").glob(f"ckpt-{save}.index"))  # the files of the save exist
    assert (read_backup_step(tmp_path / "backup") or 0) == resumed_from  # ... but it is not recorded
    with pytest.raises(UnfinishedRunError, match="--resume"):
        train(_config(), tmp_path, arrays=ARRAYS)
    keras.backend.clear_session()
    with _maybe_restart_warning(tmp_path):
        model, metrics = train(_config(), tmp_path, resume=True, arrays=ARRAYS)
    assert metrics["initial_step"] == resumed_from
    _assert_same_run(model, metrics, reference)


def _maybe_restart_warning(out):
    """A RuntimeWarning is expected only when the kill came before the first backup."""
    if read_backup_step(out / "backup") is None:
        return pytest.warns(RuntimeWarning, match="before its first backup")
    return contextlib.nullcontext()


def test_kill_before_first_backup_restarts_from_zero(tmp_path, reference):
    """Killed before any backup: refused without resume; resumed from step 0 with a warning."""
    with pytest.raises(KeyboardInterrupt):
        train(_config(), tmp_path, arrays=ARRAYS, extra_callbacks=[StopAfterSteps(1)])
    assert read_backup_step(tmp_path / "backup") is None and read_run_state(tmp_path)["status"] == "running"
    with pytest.raises(UnfinishedRunError, match="before its first backup"):
        train(_config(), tmp_path, arrays=ARRAYS)
    keras.backend.clear_session()
    with pytest.warns(RuntimeWarning, match="restarting it from step 0"):
        model, metrics = train(_config(), tmp_path, resume=True, arrays=ARRAYS)
    assert metrics["initial_step"] == 0
    _assert_same_run(model, metrics, reference)


def test_resume_of_finished_run_is_refused_and_leaves_it(tmp_path):
    train(_config(epochs=1), tmp_path, arrays=ARRAYS)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    with pytest.raises(RunAlreadyCompleteError, match="already complete"):
        train(_config(epochs=1), tmp_path, resume=True, arrays=ARRAYS)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()} == before


@pytest.mark.parametrize("make", [lambda out: None, lambda out: out.mkdir(), lambda out: (out / "backup").mkdir(parents=True)])
def test_resume_without_run_is_refused(tmp_path, make):
    out = tmp_path / "out"
    make(out)
    with pytest.raises(NothingToResumeError, match="Nothing to resume"):
        train(_config(epochs=1), out, resume=True, arrays=ARRAYS)
    assert not (out / RUN_STATE).exists() and not (out / "config.json").exists()


def test_failed_run_leaves_no_config_and_no_unfinished_run(tmp_path):
    """An error before the first backup leaves neither config.json nor a run marker: a rerun starts."""

    class Boom(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        train(_config(epochs=1), tmp_path, arrays=ARRAYS, extra_callbacks=[Boom()])
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert run_status(tmp_path) == "empty"
    train(_config(epochs=1, backup_every=None), tmp_path, arrays=ARRAYS)
    assert json.loads((tmp_path / "config.json").read_text())["epochs"] == 1


def test_failed_run_with_backup_stays_resumable(tmp_path, reference):
    class FailAt(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if int(self.model.optimizer.iterations.numpy()) == 7:
                raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        train(_config(), tmp_path, arrays=ARRAYS, extra_callbacks=[FailAt()])
    state = read_run_state(tmp_path)
    assert state["status"] == "failed" and "worker lost" in state["error"]
    assert read_backup_step(tmp_path / "backup") == 6 and not (tmp_path / "config.json").exists()
    keras.backend.clear_session()
    model, metrics = train(_config(), tmp_path, resume=True, arrays=ARRAYS)
    _assert_same_run(model, metrics, reference)


@pytest.mark.parametrize("where", ["file", "below_file"])
def test_unwritable_out(tmp_path, where):
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if where == "file" else tmp_path / "f" / "sub"
    with pytest.raises(OutputDirError, match=r"output directory `out`.*Received: out=") as info:
        train(_config(epochs=1), out, arrays=ARRAYS)
    assert info.value.path == str(out)


def test_kill_env_is_validated(monkeypatch, tmp_path):
    monkeypatch.setenv(KILL_ENV, "soon")
    with pytest.raises(ValueError, match=KILL_ENV):
        train(_config(epochs=1), tmp_path, arrays=ARRAYS)
