"""Smoke tests of scripts/reproduce_structured.py on a tiny fake MNIST file."""

import csv
import json

import numpy as np
import pytest

from conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("reproduce_structured")


def _fake_mnist(root, n_train=96, n_test=40):
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for split, n in (("train", n_train), ("test", n_test)):
        labels = rng.integers(0, 10, n)
        arrays[f"x_{split}"] = (rng.integers(0, 60, (n, 28, 28)) + (labels * 19)[:, None, None]).astype(np.uint8)
        arrays[f"y_{split}"] = labels.astype(np.uint8)
    np.savez(root / "mnist.npz", **arrays)
    return root


@pytest.mark.parametrize(
    "argv",
    [["--width", "0.5"], ["--fractions", "0.5", "1.0"], ["--ft-fraction", "0.05"], ["--epochs", "0"],
     ["--latency-repeats", "0"], ["--reestimate-bn", "-1"], ["--nm", "3", "2"], ["--nm", "2", "4", "--runs", "GroupSFW"],
     ["--runs", "NMSFW"], ["--widths-from", "x.csv"], ["--compensate", "bias"], ["--score", "gamma"],
     ["--validation", "-1"], ["--score-calibration", "0"], ["--validation", "10", "--test-subset", "5"],
     ["--reconstruct-intercept"], ["--model", "resnet18", "--refit-reestimate-bn"],
     ["--reconstruct", "8", "--refit-reestimate-bn"], ["--score", "greedy_least_squares", "--mode", "global"],
     ["--cost", "flops"], ["--mode", "global", "--cost", "params"]],
)
def test_bad_arguments_exit(script, argv):
    with pytest.raises(SystemExit):
        script.parse_args(argv)


@pytest.mark.parametrize("argv, mode", [([], None), (["--compensate", "zero"], "zero"), (["--compensate", "mean"], "mean")])
def test_compensation_is_off_by_default(script, argv, mode):
    assert script.parse_args(argv).compensate == mode
    assert script.parse_args(argv).score == "kernel"


@pytest.mark.parametrize("train_steps, expected", [(938, 18), (2814, 56), (50, 1), (4, 1)])
def test_fine_tune_steps_at_most_two_percent(script, train_steps, expected):
    args = script.parse_args([])
    assert script.fine_tune_steps(args, train_steps) == expected


@pytest.mark.parametrize("argv, batches", [([], 0), (["--model", "resnet18"], 20), (["--model", "resnet18", "--reestimate-bn", "0"], 0),
                                           (["--reestimate-bn", "3"], 3)])
def test_batchnorm_reestimation_defaults_on_for_resnet(script, argv, batches):
    assert script.parse_args(argv).reestimate_bn == batches


def test_calibration_sample_is_the_same_training_batches_each_time(script):
    args = script.parse_args(["--reestimate-bn", "3", "--batch-size", "4"])
    x, y = np.arange(40 * 4, dtype=np.uint8).reshape(40, 2, 2, 1), np.arange(40) % 10
    data = script.calibration_data(args, x, y, 0)
    first, second = [b[0].numpy() for b in data], [b[0].numpy() for b in data]
    assert len(first) == 3 and all(b.shape == (4, 2, 2, 1) for b in first)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert all(np.isin(np.round(b * 255), x).all() for b in first)  # scaled training images
    assert script.calibration_data(script.parse_args([]), x, y, 0) is None


def test_resnet_input_is_padded_to_32(script, tmp_path):
    data_dir = _fake_mnist(tmp_path / "data")
    args = script.parse_args(["--model", "resnet18", "--width", "0.25", "--data-dir", str(data_dir), "--subset", "10"])
    (x_train, y_train), (x_test, _) = script.load_data(args, 0)
    assert x_train.shape == (10, 32, 32, 1) and x_test.shape == (40, 32, 32, 1)
    full = np.load(data_dir / "mnist.npz")["x_test"]
    np.testing.assert_array_equal(x_test[:, 2:30, 2:30, 0], full)
    assert x_test[:, :2].max() == 0 and x_test[:, 30:].max() == 0
    model = script.build(args, 0)
    assert model.input_shape == (None, 32, 32, 1)
    assert model.get_layer("conv1").kernel.shape[-1] == 16


def test_validation_holds_out_the_last_training_images(script, tmp_path):
    data_dir = _fake_mnist(tmp_path / "data")
    args = script.parse_args(["--data-dir", str(data_dir), "--validation", "30"])
    (x_train, y_train), (x_val, y_val) = script.load_data(args, 0)
    full = np.load(data_dir / "mnist.npz")
    assert x_train.shape[0] == 66 and x_val.shape[0] == 30
    np.testing.assert_array_equal(x_val[..., 0], full["x_train"][-30:])
    np.testing.assert_array_equal(y_val, full["y_train"][-30:])
    assert not any(np.array_equal(a[..., 0], b) for a in x_train for b in full["x_train"][-30:])
    with pytest.raises(ValueError, match="--validation must be smaller than the 96"):
        script.load_data(script.parse_args(["--data-dir", str(data_dir), "--validation", "96"]), 0)


def test_end_to_end_on_tiny_data(script, tmp_path):
    data_dir = _fake_mnist(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--batch-size", "32", "--runs", "GroupSFW",
            "--fractions", "0", "0.5", "--latency-repeats", "1", "--reload-examples", "8", "--reconstruct", "16"]
    assert script.main(argv) == 0
    with open(out / "results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(script.FIELDS)
    assert [(r["run"], float(r["fraction"])) for r in rows] == [("GroupSFW", 0.0), ("GroupSFW", 0.5)]
    dense, half = rows
    # Nothing removed: the same size as the dense reference (a trained, compiled model would
    # also export its optimizer slots and look ~1.7x larger).
    assert int(dense["params"]) == int(dense["dense_params"]) and int(dense["flops"]) == int(dense["dense_flops"])
    assert float(dense["saved_model_ratio"]) == pytest.approx(1.0, abs=0.01)
    # mnist_cnn: 32 + 64 prunable filters; layerwise 50% keeps 16 + 32 (and the 10 classifier units):
    # 3·3·1·16 + 16 + 3·3·16·32 + 32 + 5·5·32·10 + 10 parameters.
    assert (int(half["channels"]), int(half["kept_channels"])) == (96, 48)
    assert int(half["dense_params"]) == 34_826
    assert int(half["params"]) == 9 * 16 + 16 + 9 * 16 * 32 + 32 + 25 * 32 * 10 + 10
    assert json.loads(half["widths"]) == {"conv2d": 16, "conv2d_1": 32, "dense": 10}
    assert dense["bn_accuracy"] == "" and dense["bn_batches"] == ""  # mnist_cnn: no BatchNorm, off by default
    assert 0 < float(half["flops_ratio"]) < 0.5 and float(half["saved_model_ratio"]) < 1.0
    for r in rows:
        assert float(r["reload_max_abs_diff"]) < 1e-6 and r["reload_same_argmax"] == "True"
        assert 0.0 <= float(r["accuracy"]) <= 1.0 and 0.0 <= float(r["ft_accuracy"]) <= 1.0
        assert int(r["ft_steps"]) == 1 and 0.0 <= float(r["refit_accuracy"]) <= 1.0
        assert float(r["latency_b1_s"]) > 0 and float(r["latency_b128_s"]) > 0
    for name in ("accuracy_vs_latency_mnist_mnist_cnn.png", "accuracy_vs_fraction_mnist_mnist_cnn.png", "summary.md",
                 "runs.json", "log.txt"):
        assert (out / name).stat().st_size > 0
    (out / "accuracy_vs_latency_mnist_mnist_cnn.png").unlink()
    assert script.main(["--replot", "--out", str(out)]) == 0
    assert (out / "accuracy_vs_latency_mnist_mnist_cnn.png").stat().st_size > 0


def test_latency_check_times_shrunken_reference_and_csv_architectures(script, tmp_path):
    widths = {"conv2d": 20, "conv2d_1": 24, "dense": 10}
    with open(tmp_path / "results.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=script.FIELDS, extrasaction="ignore")
        writer.writeheader()
        for run, w in (("SGD", {"conv2d": 8, "conv2d_1": 8, "dense": 10}), ("SFW", widths)):
            writer.writerow({"dataset": "mnist", "model": "mnist_cnn", "run": run, "seed": 0, "fraction": 0.5,
                             "widths": json.dumps(w)})
    argv = ["--latency-check", "0.5", "--latency-repeats", "2", "--out", str(tmp_path),
            "--widths-from", str(tmp_path / "results.csv"), "--widths-run", "SFW"]
    assert script.main(argv) == 0
    with open(tmp_path / "latency_check_mnist_cnn.json") as f:
        result = json.load(f)
    halved = 9 * 16 + 16 + 9 * 16 * 32 + 32 + 25 * 32 * 10 + 10
    assert result["dense_params"] == 34_826 and result["params"] == halved == result["shrunk"]["params"]
    # The hand-built reference (every hidden layer at half width) has the shrunken architecture.
    assert result["reference"]["widths"] == result["shrunk"]["widths"] == {"conv2d": 16, "conv2d_1": 32, "dense": 10}
    assert result["reference"]["params"] == halved and result["reference"]["flops"] == result["shrunk"]["flops"]
    assert result["from_csv"]["widths"] == widths
    assert result["from_csv"]["params"] == 9 * 20 + 20 + 9 * 20 * 24 + 24 + 25 * 24 * 10 + 10
    for key in ("shrunk", "reference", "from_csv"):
        r = result[key]
        assert r["dense_params"] == 34_826 and r["latency_b128_s"] > 0 and r["dense_latency_b128_s"] > 0
        assert r["latency_ratio_b128"] == pytest.approx(r["latency_b128_s"] / r["dense_latency_b128_s"])
    assert result["shrunk"]["saved_model_ratio"] < 1.0


def test_latency_check_of_a_flops_weighted_global_plan(script, tmp_path):
    from tf_sfw.pruning.shrink import kept_widths, structured_prune

    argv = ["--latency-check", "0.5", "--latency-repeats", "1", "--out", str(tmp_path), "--mode", "global",
            "--cost", "flops"]
    assert script.main(argv) == 0
    with open(tmp_path / "latency_check_mnist_cnn.json") as f:
        result = json.load(f)
    model = script.build(script.parse_args(argv), 0)
    assert result["cost"] == "flops" and result["mode"] == "global"
    assert result["shrunk"]["widths"] == kept_widths(structured_prune(model, 0.5, mode="global", cost="flops"))
    assert sum(result["shrunk"]["widths"][k] for k in ("conv2d", "conv2d_1")) == 48


@pytest.mark.parametrize("fraction, expected", [(0.5, {"conv2d": 16, "conv2d_1": 32}), (0.3, {"conv2d": 22, "conv2d_1": 45})])
def test_scaled_widths_leave_the_classifier(script, fraction, expected):
    assert script.scaled_widths(script.build(script.parse_args([]), 0), fraction) == expected


def test_nm_mode_prunes_to_two_of_four_and_tfmot_accepts(script, tmp_path):
    data_dir = _fake_mnist(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["--nm", "2", "4", "--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--batch-size", "32",
            "--runs", "NMSFW"]
    assert script.main(argv) == 0
    with open(out / "nm_results.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(script.NM_FIELDS) and [r["run"] for r in rows] == ["NMSFW"]
    # mnist_cnn kernels: conv2d (C_in = 1: blocks of one weight, nothing removed), conv2d_1 (C_in = 32) and
    # dense (C_in = 1600) lose exactly half of their weights.
    at_least = (9 * 32 * 64 / 2 + 1600 * 10 / 2) / (9 * 32 + 9 * 32 * 64 + 1600 * 10)
    for r in rows:
        assert r["tfmot_accepts"] == "True" and int(r["tfmot_checked_kernels"]) == 3
        assert at_least <= float(r["kernel_zero_fraction"]) < at_least + 0.01
        assert float(r["delta_points"]) == pytest.approx(100 * (float(r["nm_accuracy"]) - float(r["dense_accuracy"])), abs=1e-3)
        assert int(r["train_steps"]) == 3
    summary = (out / "nm_summary.md").read_text()
    assert "| NMSFW | 0 |" in summary and "m_by_n=(2, 4)" in summary


@pytest.mark.parametrize("score", ["activation", "greedy_least_squares"])
def test_calibrated_score_on_validation_end_to_end(script, tmp_path, score):
    data_dir = _fake_mnist(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["--data-dir", str(data_dir), "--out", str(out), "--epochs", "1", "--batch-size", "32", "--runs", "SGD",
            "--fractions", "0.5", "--latency-repeats", "1", "--reload-examples", "8", "--validation", "24",
            "--score", score, "--score-calibration", "16"]
    assert script.main(argv) == 0
    with open(out / "results.csv", newline="") as f:
        (row,) = list(csv.DictReader(f))
    assert json.loads(row["widths"]) == {"conv2d": 16, "conv2d_1": 32, "dense": 10}
    summary = (out / "summary.md").read_text()
    assert f"--score {score}" in summary and "validation accuracy" in summary
    assert "72 train, 24 validation" in (out / "log.txt").read_text()


def test_models_dir_reloads_the_trained_network_and_new_fine_tune_options(script, tmp_path):
    data_dir = _fake_mnist(tmp_path / "data")
    models = tmp_path / "models"
    base = ["--data-dir", str(data_dir), "--epochs", "1", "--batch-size", "32", "--runs", "SGD", "--fractions", "0.5",
            "--latency-repeats", "1", "--reload-examples", "8", "--models-dir", str(models)]
    assert script.main(base + ["--out", str(tmp_path / "a")]) == 0
    assert (models / "SGD_seed0.weights.h5").exists() and (models / "SGD_seed0.json").exists()
    argv = base + ["--out", str(tmp_path / "b"), "--ft-teacher", "--ft-freeze-bn", "--reconstruct", "16",
                   "--reconstruct-intercept"]
    assert script.main(argv) == 0
    log = (tmp_path / "b" / "log.txt").read_text()
    assert "loaded from" in log and "epochs (" not in log  # not trained again
    rows = [list(csv.DictReader(open(tmp_path / d / "results.csv", newline=""))) for d in ("a", "b")]
    assert rows[0][0]["accuracy"] == rows[1][0]["accuracy"]  # the same network, the same plain shrink
    summary = (tmp_path / "b" / "summary.md").read_text()
    assert "distillation" in summary and "BatchNorm frozen" in summary and "moving mean" in summary
    with pytest.raises(SystemExit, match="trained with"):  # other training settings: refused
        script.main(base + ["--out", str(tmp_path / "c"), "--sgd-lr", "0.1"])
    with pytest.raises(SystemExit):
        script.parse_args(["--reconstruct-intercept"])


def test_refit_then_reestimate_recomputes_the_refit_models_batchnorm_statistics(script):
    from tf_sfw._keras import keras

    inputs = keras.Input((4,))
    net = keras.Model(inputs, keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="fc")(inputs)))
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(16, 4)).astype("float32") + 2.0, np.zeros(16)) for _ in range(3)]
    seen = []
    run = script.refit_then_reestimate(lambda model, shrunk, plan: seen.append(plan) or shrunk, batches)
    assert run(None, net, {"fc": [0]}) is net and seen == [{"fc": [0]}]
    fc = net.get_layer("fc")
    expected = np.mean([(x @ fc.kernel.numpy() + fc.bias.numpy()).mean(0) for x, _ in batches], axis=0)
    np.testing.assert_allclose(net.get_layer("bn").moving_mean.numpy(), expected, rtol=1e-5, atol=1e-5)
