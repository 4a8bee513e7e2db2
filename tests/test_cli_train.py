"""Tests for `tf-sfw train` (tf_sfw/cli/train.py): argument mapping, errors, a real run, kill -9 + --resume."""

import importlib
import json
import os
import signal
import subprocess
import sys
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


def test_defaults_are_the_paper_setting():
    from tf_sfw.training import TrainConfig

    config = cli_train.config_from_args(_parse("--out", "x"))
    assert config == TrainConfig(data_dir=None)
    assert (config.learning_rate, config.momentum, config.k, config.k_frac, config.value) == (1.0, 0.9, 150, 0.1, 15.0)
    # the recipe's schedule: warm-up, then decay at 75% and 90% of the steps (tf_sfw.recipe_math.DEFAULTS)
    from tf_sfw.recipe_math import DEFAULTS

    assert config.schedule == "recipe" and config.milestones is None and config.milestones_frac == DEFAULTS["milestones"]
    assert (config.warmup, config.constrain) == (DEFAULTS["warmup"], DEFAULTS["constrain"])
    paper = cli_train.config_from_args(_parse("--out", "x", "--schedule", "paper"))
    assert paper.milestones_frac == (1 / 3, 2 / 3)  # the paper's epochs 61 and 121 of 180
    assert config.batch_size == 128 and config.test_batch_size == 100


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
        (["--k-annealing", "1", "0.3", "--k-annealing-until", "0.25"], {"k_annealing": (1.0, 0.3), "k_annealing_until": 0.25}),
        ([], {"k_annealing": "auto", "k_annealing_until": 0.5, "sgd_start": 0.0}),
        (["--sgd-start", "0.2"], {"sgd_start": 0.2}),
        (["--k-annealing", "None"], {"k_annealing": None}),
        (["--k-annealing", "auto", "--optimizer", "sgd"], {"k_annealing": "auto"}),
    ],
)
def test_argument_mapping(argv, expected):
    config = cli_train.config_from_args(_parse("--out", "x", *argv))
    for key, value in expected.items():
        assert getattr(config, key) == value


def test_bad_value_returns_2(tmp_path, capsys):
    assert cli_main.main(["train", "--out", str(tmp_path), "--epochs", "0"]) == 2
    assert "`--epochs` must be an integer >= 1. Received: --epochs=0" in capsys.readouterr().err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--k-annealing", "1.0", "0"], "`--k-annealing` must be"),
        (["--k-annealing", "1.0", "abc"], "Received: --k-annealing='abc' ('auto', 'none', or k_frac values"),
        (["--k-annealing-until", "0"], "`--k-annealing-until` must be"),
        (["--k-annealing", "1.0", "--optimizer", "sgd"], "`--k-annealing` needs --optimizer sfw and a top-K --constraint"),
        (["--k-annealing", "1.0", "--constraint", "nm"], "Received: --optimizer=sfw --constraint=nm"),
    ],
)
def test_bad_k_annealing_returns_2(tmp_path, capsys, argv, message):
    assert cli_main.main(["train", "--out", str(tmp_path / "run"), *argv]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_missing_data_returns_1(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "kh"))
    monkeypatch.delenv("TF_SFW_DATA_DIR", raising=False)
    code = cli_main.main(["train", "--dataset", "cifar10", "--out", str(tmp_path / "o"), "--data-dir", str(tmp_path), "--no-download"])
    assert code == 1  # a runtime failure (missing files); 2 is for invalid command lines
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
@pytest.mark.parametrize("kill_at,resumed_from", [("backup:20", 16)])
def test_kill_and_resume_matches_uninterrupted(tmp_path, kill_at, resumed_from):
    """A CLI run SIGKILLed at a known point (test hook) and continued with --resume ends with the
    same weights as an uninterrupted run.

    ``backup:20`` kills the process inside the backup of step 20, after its callback-state file
    and before its checkpoint: the hardest place for detecting the interrupted run, which must
    still be refused without --resume and resume from the previous backup (step 16).
    """
    from tf_sfw.training.resume import KILL_ENV, RUN_STATE

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}
    env.pop(KILL_ENV, None)
    ref = tmp_path / "ref"
    assert cli_main.main(_cmd(ref)[3:]) == 0  # the uninterrupted reference, in this process
    metrics = json.loads((ref / "metrics.json").read_text())
    assert metrics["epochs"] == 2 and metrics["steps_per_epoch"] == 32 and metrics["initial_step"] == 0

    run = tmp_path / "run"
    killed = subprocess.run(_cmd(run), env={**env, KILL_ENV: kill_at}, capture_output=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr.decode()[-2000:]
    assert (run / RUN_STATE).is_file() and not (run / "metrics.json").exists() and not (run / "config.json").exists()
    # without --resume the interrupted run is refused, whatever point the kill landed at
    refused = subprocess.run(_cmd(run), env=env, capture_output=True, timeout=300)
    assert refused.returncode != 0 and "--resume" in refused.stderr.decode()
    subprocess.run(_cmd(run, "--resume"), check=True, timeout=300, env=env, capture_output=True)
    resumed = json.loads((run / "metrics.json").read_text())
    assert resumed["initial_step"] == resumed_from
    for a, b in zip(_weights(run), _weights(ref), strict=True):
        np.testing.assert_array_equal(a, b)
    assert resumed["test_accuracy"] == metrics["test_accuracy"]
    # every epoch, the interrupted one averaged over all of its steps (float32 running means: 1e-6)
    assert set(resumed["history"]) == set(metrics["history"]) >= {"loss", "accuracy", "lr"}
    for key, values in metrics["history"].items():
        assert resumed["history"][key] == pytest.approx(values, rel=1e-6), key
    assert not (run / RUN_STATE).exists() and not (run / "backup").exists()
    # --resume on the finished run: refused, the run is left as it is
    before = {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()}
    again = subprocess.run(_cmd(run, "--resume"), env=env, capture_output=True, timeout=300)
    assert again.returncode != 0 and "already complete" in again.stderr.decode()
    assert {f.name: f.read_bytes() for f in run.iterdir() if f.is_file()} == before


@pytest.mark.parametrize("exists", [False, True])
def test_resume_without_a_run_is_refused(tmp_path, capsys, exists):
    """--resume with no backup and no unfinished run does not start a fresh run silently."""
    out = tmp_path / "out"
    if exists:
        out.mkdir()
    code = cli_main.main(["train", "--out", str(out), "--resume", "--epochs", "1", "--data-dir", str(tmp_path)])
    assert code != 0
    err = capsys.readouterr().err
    assert "Nothing to resume" in err and str(out) in err
    assert not (out / "config.json").exists()
