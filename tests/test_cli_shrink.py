"""``tf-sfw shrink``: structured pruning from the command line (tiny BatchNorm CNN, tiny MNIST)."""

import json

import numpy as np
import pytest

from conftest import write_tiny_mnist
from tf_sfw.cli.main import main


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(write_tiny_mnist(tmp_path_factory.mktemp("data"), 300, 60, directories=("", "datasets")))


@pytest.fixture(scope="module")
def model_path(tmp_path_factory, data_dir):
    from tf_sfw._keras import keras

    keras.utils.set_random_seed(0)
    inp = keras.Input((28, 28, 1))
    x = keras.layers.Conv2D(8, 3, strides=2, use_bias=False, name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(8, 3, strides=2, activation="relu", name="conv_1")(x)
    x = keras.layers.Flatten(name="flat")(x)
    model = keras.Model(inp, keras.layers.Dense(10, activation="softmax", name="head")(x))
    data = np.load(f"{data_dir}/mnist.npz")
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(data["x_train"][..., None] / 255.0, data["y_train"], epochs=2, verbose=0)
    path = str(tmp_path_factory.mktemp("model") / "bn_cnn.keras")
    model.save(path)
    return path


def _run(tmp_path, model_path, data_dir, *extra):
    out = tmp_path / "out"
    code = main(["shrink", "--model", model_path, "--dataset", "mnist", "--data-dir", data_dir, "--out", str(out),
                 "--latency-repeats", "2", *extra])
    return code, out


def test_half_of_every_layer_removed_refit_fine_tuned_and_exported(tmp_path, model_path, data_dir):
    code, out = _run(tmp_path, model_path, data_dir, "--fraction", "50%", "--score-calibration", "64",
                     "--reconstruct", "128", "--reestimate-bn", "2", "--retrain-steps", "3", "--distill",
                     "--batch-size", "32")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["widths"] == {"conv": 4, "conv_1": 4, "head": 10}
    assert metrics["dense_widths"] == {"conv": 8, "conv_1": 8, "head": 10}
    for stage in ("dense", "shrunk", "refit", "bn", "retrained"):
        assert 0.0 <= metrics[f"{stage}_accuracy"] <= 1.0
    assert metrics["bn_batches"] == 2 and metrics["distill"] is True and metrics["retrain_steps"] == 3
    assert metrics["score"] == "greedy_least_squares"  # the default score of --mode layerwise
    # 3·3·1·4 + 4·2 (BN gamma, beta; moving statistics are not trainable but counted) + 3·3·4·4 + 4 + 6·6·4·10 + 10
    assert metrics["params"] == 36 + 16 + 144 + 4 + 1440 + 10
    assert metrics["params_ratio"] < 0.55 and metrics["flops_ratio"] < 0.55
    assert metrics["latency_ratio_b128"] > 0 and metrics["reload_max_abs_diff"] < 1e-5
    from tf_sfw.pruning.export import load_keras_model

    exported = load_keras_model(str(out / "saved_model" / "model.keras"))
    assert exported.get_layer("conv").kernel.shape == (3, 3, 1, 4)
    assert json.loads((out / "saved_model" / "config.json").read_text())["dataset"] == "mnist"


def test_nothing_removed_keeps_the_dense_predictions(tmp_path, model_path, data_dir):
    code, out = _run(tmp_path, model_path, data_dir, "--fraction", "0", "--score", "kernel", "--reconstruct", "0",
                     "--eval-examples", "40")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["shrunk_accuracy"] == metrics["dense_accuracy"] and metrics["eval_examples"] == 40
    assert metrics["widths"] == metrics["dense_widths"] and "refit_accuracy" not in metrics


@pytest.mark.parametrize("extra, code, message", [
    (["--fraction", "1.0"], 2, "--fraction"),
    (["--fraction", "0.5", "--distill"], 2, "--distill"),
    (["--fraction", "0.5", "--reconstruct", "100000"], 2, "--reconstruct"),
    (["--fraction", "0.5", "--score", "norm"], 2, "--score"),
    (["--fraction", "0.5", "--score", "greedy_least_squares", "--mode", "global"], 2, "needs `--mode layerwise`"),
    (["--fraction", "0.5", "--cost", "flops"], 2, "needs `--mode global`. Received: --mode layerwise"),
    (["--fraction", "0.5", "--mode", "global", "--cost", "latency"], 2, "--cost"),
])
def test_bad_arguments_name_the_flag(tmp_path, model_path, data_dir, capsys, extra, code, message):
    assert _run(tmp_path, model_path, data_dir, *extra)[0] == code
    assert message in capsys.readouterr().err


def test_missing_model_is_an_error_naming_the_flag(tmp_path, data_dir, capsys):
    code, out = _run(tmp_path, str(tmp_path / "missing.keras"), data_dir, "--fraction", "0.5")
    assert code == 1 and "--model" in capsys.readouterr().err and not out.exists()


def test_default_calibration_sizes_take_the_whole_small_training_set(tmp_path, model_path, data_dir):
    code, out = _run(tmp_path, model_path, data_dir, "--fraction", "0.25", "--mode", "global")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["reconstruct"] == 300 and "refit_accuracy" in metrics  # default 2048, only 300 images here
    assert sum(metrics["widths"][k] for k in ("conv", "conv_1")) == 12  # a quarter of the 16 filters, globally
    assert metrics["score"] == "activation"  # the default score of --mode global


def test_no_eval_with_kernel_scores_needs_no_data(tmp_path, model_path):
    out = tmp_path / "noeval"
    code = main(["shrink", "--model", model_path, "--fraction", "0.5", "--score", "kernel", "--reconstruct", "0",
                 "--no-eval", "--dataset", "mnist", "--data-dir", str(tmp_path / "no-data-here"), "--out", str(out),
                 "--latency-repeats", "1"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["widths"] == {"conv": 4, "conv_1": 4, "head": 10}
    assert not any(key.endswith("_accuracy") for key in metrics) and "eval_examples" not in metrics


def test_greedy_least_squares_channels_match_the_library_plan(tmp_path, model_path, data_dir):
    code, out = _run(tmp_path, model_path, data_dir, "--fraction", "0.5", "--score", "greedy_least_squares",
                     "--score-calibration", "64", "--reconstruct", "0")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["score"] == "greedy_least_squares" and metrics["widths"] == {"conv": 4, "conv_1": 4, "head": 10}
    from tf_sfw.pruning.export import load_keras_model
    from tf_sfw.pruning.structured import filter_scores, structured_plan

    model = load_keras_model(model_path)
    images = np.load(f"{data_dir}/mnist.npz")["x_train"][:64, ..., None].astype(np.float32) / 255.0
    plan = structured_plan(filter_scores(model, score="greedy_least_squares", calibration_x=images), 0.5, "layerwise")
    exported = load_keras_model(str(out / "saved_model" / "model.keras"))
    kernel = model.get_layer("conv").get_weights()[0][..., plan["conv"]]
    np.testing.assert_array_equal(exported.get_layer("conv").get_weights()[0], kernel)


def test_flops_cost_plan_matches_the_library_plan(tmp_path, model_path, data_dir):
    code, out = _run(tmp_path, model_path, data_dir, "--fraction", "0.5", "--mode", "global", "--cost", "flops",
                     "--score", "kernel", "--reconstruct", "0")
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["cost"] == "flops" and metrics["mode"] == "global"
    from tf_sfw.pruning.export import load_keras_model
    from tf_sfw.pruning.shrink import kept_widths, structured_prune

    expected = kept_widths(structured_prune(load_keras_model(model_path), 0.5, mode="global", cost="flops"))
    assert metrics["widths"] == expected
    assert expected != kept_widths(structured_prune(load_keras_model(model_path), 0.5, mode="global"))  # costs matter
