"""Tests for the ``tf-sfw prune`` and ``tf-sfw sweep`` commands (tiny model, tiny MNIST subset)."""

import csv
import json
import os

import numpy as np
import pytest

from tf_sfw.cli.main import main
from tf_sfw.cli.sweep import parse_sparsities, parse_sparsity

DATA_DIR = "/work/shared/data/keras"
needs_mnist = pytest.mark.skipif(
    not os.path.isfile(os.path.join(os.environ.get("TF_SFW_DATA_DIR", DATA_DIR), "datasets", "mnist.npz")),
    reason="MNIST not available offline",
)


def _data_dir():
    return os.environ.get("TF_SFW_DATA_DIR", DATA_DIR)


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from tf_sfw._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(4, 3, strides=2, activation="relu", name="conv")(inp)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(10, activation="softmax", name="head")(x)
    model = keras.Model(inp, out)
    path = str(tmp_path_factory.mktemp("model") / "tiny.keras")
    model.save(path)
    return path


@pytest.mark.parametrize("text,expected", [("0", 0.0), ("0.9", 0.9), ("90%", 0.9), (" 0.5 ", 0.5)])
def test_parse_sparsity(text, expected):
    assert parse_sparsity(text) == pytest.approx(expected)


@pytest.mark.parametrize("text", ["1", "1.0", "-0.1", "100%", "abc", ""])
def test_parse_sparsity_rejects(text):
    with pytest.raises(ValueError, match="sparsity"):
        parse_sparsity(text)


def test_parse_sparsities():
    assert parse_sparsities("0, 0.5,90%") == pytest.approx([0.0, 0.5, 0.9])
    with pytest.raises(ValueError, match="at least one"):
        parse_sparsities(",")


@needs_mnist
@pytest.mark.parametrize("scope_flag,retrain", [("--global", 0), ("--layerwise", 1)])
def test_prune_command(tmp_path, model_path, scope_flag, retrain):
    out = tmp_path / "out"
    code = main([
        "prune", "--model", model_path, "--sparsity", "0.8", scope_flag, "--retrain-epochs", str(retrain),
        "--out", str(out), "--data-dir", _data_dir(), "--eval-examples", "200", "--train-examples", "256",
        "--latency-batch", "16",
    ])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["scope"] == scope_flag[2:]
    assert metrics["counted"] == 3 * 3 * 4 + 13 * 13 * 4 * 10
    if scope_flag == "--global":
        assert metrics["counted"] - metrics["nonzero"] >= round(0.8 * metrics["counted"])
    for key in ("dense_accuracy", "pruned_accuracy", "compressed_bytes", "relative_latency", "per_layer"):
        assert key in metrics
    assert ("retrained_accuracy" in metrics) == bool(retrain)
    from tf_sfw.pruning.export import load_exported, predict_exported

    loaded = load_exported(str(out / "saved_model"))
    assert predict_exported(loaded, np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 10)


@needs_mnist
def test_sweep_command(tmp_path, model_path):
    out = tmp_path / "sweep"
    code = main(["sweep", "--model", model_path, "--sparsities", "0,0.5,0.9", "--out", str(out),
                 "--data-dir", _data_dir(), "--eval-examples", "200"])
    assert code == 0
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["sparsity"]) for r in rows] == [0.0, 0.5, 0.9]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((out / "metrics.json").read_text())["rows"]) == 3


@pytest.mark.parametrize(
    "argv,match",
    [
        (["prune", "--sparsity", "1.0"], "sparsity"),
        (["prune", "--sparsity", "-0.2"], "sparsity"),
        (["prune", "--sparsity", "0.5", "--layers", "nope"], "Unknown layer names"),
        (["sweep", "--sparsities", "0.5,1.5"], "sparsities"),
    ],
)
def test_bad_input_gives_clear_error(tmp_path, model_path, capsys, argv, match):
    command, extra = argv[0], argv[1:]
    base = [command, "--model", model_path, "--out", str(tmp_path / "o")]
    if command == "prune":
        base.append("--no-eval")
    assert main(base + extra) == 2
    assert match in capsys.readouterr().err


def test_missing_model_file(tmp_path, capsys):
    code = main(["prune", "--model", str(tmp_path / "missing.keras"), "--sparsity", "0.5", "--out", str(tmp_path), "--no-eval"])
    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_unprunable_model(tmp_path, capsys):
    from tf_sfw._keras import keras

    inp = keras.Input((28, 28, 1))
    path = str(tmp_path / "noweights.keras")
    keras.Model(inp, keras.layers.Flatten()(inp)).save(path)
    code = main(["prune", "--model", path, "--sparsity", "0.5", "--out", str(tmp_path / "o"), "--no-eval"])
    assert code == 2
    assert "no prunable weights" in capsys.readouterr().err
