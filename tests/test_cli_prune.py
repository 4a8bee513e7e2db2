"""Tests for the ``tf-sfw prune`` and ``tf-sfw sweep`` commands (tiny model, tiny MNIST subset)."""

import csv
import json
import os

import numpy as np
import pytest

from tf_sfw.cli._common import UsageError, parse_sparsities, parse_sparsity
from tf_sfw.cli.main import main
from conftest import SHARED_DATA_DIR

DATA_DIR = SHARED_DATA_DIR
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
    with pytest.raises(UsageError, match="sparsity"):
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
        "--out", str(out), "--dataset", "mnist", "--data-dir", _data_dir(), "--eval-examples", "200", "--train-examples", "256",
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
    # the export names its data set, so a later `tf-sfw sweep --model OUT/saved_model` needs no --dataset
    assert json.loads((out / "saved_model" / "config.json").read_text())["dataset"] == "mnist"
    assert metrics["dataset"] == "mnist"


@needs_mnist
def test_prune_with_reconstruction(tmp_path, model_path):
    """--reconstruct N refits the kept weights (zeros kept) and reports the refit model's accuracy."""
    out = tmp_path / "rec"
    code = main(["prune", "--model", model_path, "--sparsity", "0.9", "--reconstruct", "128", "--out", str(out),
                 "--dataset", "mnist", "--data-dir", _data_dir(), "--eval-examples", "200", "--latency-batch", "8"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reconstruct"] == 128 and "reconstructed_accuracy" in metrics
    assert metrics["counted"] - metrics["nonzero"] >= round(0.9 * metrics["counted"])
    from tf_sfw._keras import keras
    from tf_sfw.pruning import magnitude_masks

    dense = keras.models.load_model(model_path)
    exported = keras.models.load_model(str(out / "saved_model" / "model.keras"))
    masks = magnitude_masks(dense, 0.9)
    for key, mask in masks.items():
        kernel = exported.get_layer(key.split("/")[0]).kernel.numpy()
        assert np.all(kernel[mask == 0] == 0)
        assert not np.allclose(kernel[mask == 1], dense.get_layer(key.split("/")[0]).kernel.numpy()[mask == 1])


@needs_mnist
def test_sweep_command(tmp_path, model_path):
    out = tmp_path / "sweep"
    code = main(["sweep", "--model", model_path, "--sparsities", "0,0.5,0.9", "--out", str(out),
                 "--dataset", "mnist", "--data-dir", _data_dir(), "--eval-examples", "200"])
    assert code == 0
    with open(out / "sweep.csv") as f:
        rows = list(csv.DictReader(f))
    assert [float(r["sparsity"]) for r in rows] == [0.0, 0.5, 0.9]
    assert (out / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    assert len(json.loads((out / "metrics.json").read_text())["rows"]) == 3


@needs_mnist
def test_sweep_command_with_reconstruction(tmp_path, model_path, capsys):
    out = tmp_path / "sweep_refit"
    code = main(["sweep", "--model", model_path, "--sparsities", "0,0.9", "--reconstruct", "64", "--out", str(out),
                 "--dataset", "mnist", "--data-dir", _data_dir(), "--eval-examples", "200"])
    assert code == 0 and "refit acc" in capsys.readouterr().out
    with open(out / "sweep.csv") as f:
        plain = list(csv.DictReader(f))
    with open(out / "sweep_refit.csv") as f:
        refit = list(csv.DictReader(f))
    assert [r["nonzero"] for r in refit] == [r["nonzero"] for r in plain]  # the same zeros
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reconstruct"] == 64 and len(metrics["refit_rows"]) == 2


@pytest.mark.parametrize(
    "argv,code,match",
    [
        (["prune", "--sparsity", "1.0"], 2, "--sparsity"),
        (["prune", "--sparsity", "-0.2"], 2, "--sparsity"),
        (["prune", "--sparsity", "0.5", "--layers", "nope"], 1, "Unknown layer names"),
        (["sweep", "--sparsities", "0.5,1.5"], 2, "--sparsities"),
        (["prune", "--sparsity", "0.5", "--reconstruct", "-1"], 2, "--reconstruct"),
        (["prune", "--sparsity", "0.5", "--reconstruct", "8", "--include-bias"], 2, "--include-bias"),
        (["sweep", "--reconstruct", "8", "--include-batchnorm"], 2, "--include-batchnorm"),
    ],
)
def test_bad_input_gives_clear_error(tmp_path, model_path, capsys, argv, code, match):
    command, extra = argv[0], argv[1:]
    base = [command, "--model", model_path, "--out", str(tmp_path / "o")]
    if command == "prune":
        base.append("--no-eval")
    assert main(base + extra) == code
    err = capsys.readouterr().err
    assert match in err and "Traceback" not in err


def test_missing_model_file(tmp_path, capsys):
    missing = str(tmp_path / "missing.keras")
    code = main(["prune", "--model", missing, "--sparsity", "0.5", "--out", str(tmp_path), "--no-eval"])
    assert code == 1  # a runtime failure, not a usage error
    err = capsys.readouterr().err
    assert "`--model` does not exist" in err and missing in err


def test_unprunable_model(tmp_path, capsys):
    from tf_sfw._keras import keras

    inp = keras.Input((28, 28, 1))
    path = str(tmp_path / "noweights.keras")
    keras.Model(inp, keras.layers.Flatten()(inp)).save(path)
    code = main(["prune", "--model", path, "--sparsity", "0.5", "--out", str(tmp_path / "o"), "--no-eval"])
    assert code == 1
    assert "no prunable weights" in capsys.readouterr().err


# ----------------------------------------------------------------------------------------
# The evaluation data set comes from the model's config.json when --dataset is not given


def _saved_with_config(tmp_path, model_path, dataset, where="same"):
    """Copy of the tiny model in a run folder whose config.json names ``dataset``."""
    import shutil

    run = tmp_path / "run"
    folder = run / "saved_model" if where == "parent" else run
    folder.mkdir(parents=True)
    target = folder / "model.keras"
    shutil.copy(model_path, target)
    if dataset is not None:
        (run / "config.json").write_text(json.dumps({"dataset": dataset, "model": "mnist_cnn"}))
    return target, run


@pytest.mark.parametrize("where", ["same", "parent"])
@pytest.mark.parametrize("dataset", ["mnist", "fashion_mnist"])
def test_dataset_of_model_reads_config_json(tmp_path, model_path, dataset, where):
    from tf_sfw.cli._common import dataset_of_model

    target, run = _saved_with_config(tmp_path, model_path, dataset, where)
    for path in (target, target.parent):  # the model file, or its folder (an export folder)
        assert dataset_of_model(str(path)) == (dataset, str(run / "config.json"))


def test_dataset_of_model_without_config(tmp_path, model_path):
    from tf_sfw.cli._common import dataset_of_model

    target, _ = _saved_with_config(tmp_path, model_path, None)
    assert dataset_of_model(str(target)) == (None, None)


@pytest.mark.parametrize("command", ["prune", "sweep"])
def test_no_dataset_and_no_config_is_refused(tmp_path, model_path, command, capsys):
    """Item: a Fashion-MNIST model used to be evaluated on MNIST silently; now --dataset is required."""
    target, _ = _saved_with_config(tmp_path, model_path, None)
    argv = [command, "--model", str(target), "--out", str(tmp_path / "o"), "--data-dir", _data_dir()]
    argv += ["--sparsity", "0.5"] if command == "prune" else ["--sparsities", "0.5"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "`--dataset` is required" in err and str(target) in err
    assert not (tmp_path / "o").exists()


@needs_mnist
@pytest.mark.skipif(
    not os.path.isdir(os.path.join(_data_dir(), "datasets", "fashion-mnist")), reason="Fashion-MNIST not available offline"
)
@pytest.mark.parametrize("command", ["prune", "sweep"])
def test_dataset_taken_from_config_json(tmp_path, model_path, command, capsys):
    target, run = _saved_with_config(tmp_path, model_path, "fashion_mnist")
    out = tmp_path / "o"
    argv = [command, "--model", str(target), "--out", str(out), "--data-dir", _data_dir(), "--eval-examples", "100"]
    argv += ["--sparsity", "0.5", "--latency-batch", "4"] if command == "prune" else ["--sparsities", "0.5"]
    assert main(argv) == 0
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "fashion_mnist"
    assert f"evaluating on fashion_mnist (from {run / 'config.json'}" in capsys.readouterr().err
    # an explicit --dataset wins, with a warning when it differs from the config
    assert main(argv + ["--dataset", "mnist"]) == 0
    assert json.loads((out / "metrics.json").read_text())["dataset"] == "mnist"
    assert "says the model was trained on fashion_mnist" in capsys.readouterr().err


def test_dataset_with_wrong_input_shape_is_refused(tmp_path, capsys):
    """A CIFAR-shaped model evaluated on MNIST: a clear error naming --dataset, no graph traceback."""
    from tf_sfw._keras import keras

    if not os.path.isfile(os.path.join(_data_dir(), "datasets", "mnist.npz")):
        pytest.skip("MNIST not available offline")
    inp = keras.Input((32, 32, 3))
    out = keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(inp))
    path = str(tmp_path / "cifar_like.keras")
    keras.Model(inp, out).save(path)
    code = main(["sweep", "--model", path, "--dataset", "mnist", "--data-dir", _data_dir(), "--out", str(tmp_path / "o"),
                 "--sparsities", "0.5", "--eval-examples", "10"])
    assert code == 2
    err = capsys.readouterr().err
    assert "--dataset mnist" in err and "(32, 32, 3)" in err and "Traceback" not in err
