"""Tests for `tf-sfw train` (tf_sfw/cli/train.py): argument mapping, errors, a real run, kill -9 + --resume."""

import importlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tf_sfw.cli import train as cli_train

cli_main = importlib.import_module("tf_sfw.cli.main")  # the package re-exports the function `main`

SHARED_KERAS = Path(__file__).resolve().parents[2] / "shared" / "data" / "keras"
needs_shared = pytest.mark.skipif(
    not (SHARED_KERAS / "datasets" / "mnist.npz").is_file(),
    reason=f"shared real data not found at {SHARED_KERAS} (expected datasets/mnist.npz)",
)


def _parse(*argv):
    return cli_main.build_parser().parse_args(["train", *argv])


def test_choices_match_library():
    from tf_sfw import data, models, training

    assert cli_train.MODELS == tuple(models.MODELS)
    assert cli_train.DATASETS == data.DATASETS
    assert cli_train.OPTIMIZERS == training.OPTIMIZERS
    assert cli_train.CONSTRAINTS == training.CONSTRAINTS
    assert cli_train.SCHEDULES == training.SCHEDULES
    assert cli_train.RESCALES == training.RESCALES


def test_defaults_are_the_paper_setting():
    from tf_sfw.training import TrainConfig

    config = cli_train.config_from_args(_parse("--out", "x"))
    assert config == TrainConfig(data_dir=None)
    assert (config.learning_rate, config.momentum, config.k, config.k_frac, config.value) == (1.0, 0.9, 10, 0.05, 15.0)
    assert config.milestones == (61, 121) and config.batch_size == 128 and config.test_batch_size == 100


@pytest.mark.parametrize(
    "argv,expected",
    [
        (["--optimizer", "sgd"], {"optimizer": "sgd", "learning_rate": 0.1}),
        (["--optimizer", "sgd", "--lr", "0.02"], {"learning_rate": 0.02}),
        (["--tau", "5", "--k-frac", "0.1", "--k", "3"], {"value": 5.0, "k_frac": 0.1, "k": 3}),
        (["--unconstrained", "bias", "--unconstrained", "^fc"], {"unconstrained": ("bias", "^fc")}),
        (["--milestones", "3", "7", "--decay-factor", "0.5"], {"milestones": (3, 7), "decay_factor": 0.5}),
        (["--milestones"], {"milestones": ()}),
        (["--no-augment", "--subset", "100", "--backup-every", "10"], {"augment": False, "subset": 100, "backup_every": 10}),
        (["--no-deterministic", "--no-download", "--validate"], {"deterministic": False, "download": False, "validate": True}),
        (["--rescale", "none", "--constraint", "l2", "--mode", "radius"], {"rescale": "none", "constraint": "l2", "mode": "radius"}),
    ],
)
def test_argument_mapping(argv, expected):
    config = cli_train.config_from_args(_parse("--out", "x", *argv))
    for key, value in expected.items():
        assert getattr(config, key) == value


def test_bad_value_returns_2(tmp_path, capsys):
    assert cli_main.main(["train", "--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "`epochs` must be a positive int. Received: epochs=0" in capsys.readouterr().err


def test_missing_data_returns_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.delenv("TF_SFW_DATA_DIR", raising=False)
    code = cli_main.main(["train", "--dataset", "cifar10", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path), "--no-download"])
    assert code == 2
    err = capsys.readouterr().err
    assert "cifar-10-batches-py" in err and str(tmp_path) in err and "--data-dir" in err


def _cmd(out, *extra):
    return [
        sys.executable, "-m", "tf_sfw.cli.main", "train", "--model", "mnist_cnn", "--dataset", "mnist",
        "--data-dir", str(SHARED_KERAS), "--out", str(out), "--subset", "512", "--batch-size", "16",
        "--epochs", "2", "--milestones", "2", "--backup-every", "4", "--verbose", "0", *extra,
    ]


def _weights(out):
    from tf_sfw._keras import keras

    return [w.numpy() for w in keras.models.load_model(out / "model.keras", compile=False).weights]


@needs_shared
@pytest.mark.slow
def test_kill_and_resume_matches_uninterrupted(tmp_path):
    """A `kill -9`ed CLI run continued with --resume ends with the same weights as an uninterrupted run."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    ref = tmp_path / "ref"
    assert cli_main.main(_cmd(ref)[3:]) == 0  # the uninterrupted reference, in this process
    metrics = json.loads((ref / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["steps_per_epoch"] == 32 and metrics["initial_step"] == 0

    run = tmp_path / "run"
    proc = subprocess.Popen(_cmd(run), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 240
        while time.time() < deadline and proc.poll() is None:
            if list((run / "backup" / "chief").glob("ckpt-*.index")):
                break
            time.sleep(0.05)
        killed = proc.poll() is None
        if killed:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    if not killed:
        pytest.skip("the run finished before it could be killed (machine too fast for this test)")
    assert not (run / "metrics.json").exists()
    # without --resume the interrupted run is refused
    assert cli_main.main(_cmd(run)[3:]) == 2
    subprocess.run(_cmd(run, "--resume"), check=True, timeout=300, env=env, capture_output=True)
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["initial_step"] > 0
    for a, b in zip(_weights(run), _weights(ref)):
        np.testing.assert_array_equal(a, b)
    assert resumed["test_accuracy"] == metrics["test_accuracy"]
