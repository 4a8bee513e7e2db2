"""Smoke tests of scripts/reproduce_sfw_pruning.py on tiny fake data files (quick mode, few steps)."""

import csv
import gzip
import pickle
import struct

import numpy as np
import pytest

from conftest import load_script


@pytest.fixture(scope="module")
def script():
    return load_script("reproduce_sfw_pruning")


def _write_idx(path, array, magic):
    header = struct.pack(">i", magic) + struct.pack(f">{array.ndim}i", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def _fake_fashion_mnist(root, n_train=240, n_test=60):
    directory = root / "datasets" / "fashion-mnist"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        labels = rng.integers(0, 10, n)
        # Class-dependent brightness so that a few steps can learn something.
        images = rng.integers(0, 60, (n, 28, 28)) + (labels * 19)[:, None, None]
        _write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images, 2051)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels, 2049)
    return root


def _fake_cifar10(root, per_batch=8, n_test=8):
    directory = root / "cifar-10-batches-py"
    directory.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name, n in [(f"data_batch_{i}", per_batch) for i in range(1, 6)] + [("test_batch", n_test)]:
        batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8), b"labels": rng.integers(0, 10, n).tolist()}
        with open(directory / name, "wb") as f:
            pickle.dump(batch, f)
    return root


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_cifar10_defaults_are_the_paper_hyperparameters(script):
    args = script.parse_args(["--dataset", "cifar10", "--model", "vgg16"])
    assert (args.epochs, args.batch_size, args.test_batch_size) == (180, 128, 100)
    assert (args.sfw_lr, args.momentum, args.tau, args.k, args.k_frac) == (1.0, 0.9, 15.0, 10, 0.05)
    assert args.paper_schedule is True
    assert script.parse_args(["--dataset", "fashion_mnist"]).paper_schedule is False


@pytest.mark.parametrize(
    "argv",
    [["--dataset", "mnist", "--model", "resnet18"], ["--dataset", "cifar10", "--model", "mnist_cnn"], ["--epochs", "0"],
     ["--sparsities", "0.5", "1.0"]],
)
def test_bad_arguments_exit(script, argv):
    with pytest.raises(SystemExit):
        script.parse_args(argv)


@pytest.mark.parametrize("epochs, expected", [(1, ()), (3, (2, 3)), (12, (5, 9)), (180, (61, 121))])
def test_short_run_milestones(script, epochs, expected):
    assert script.short_run_milestones(epochs) == expected


def test_quick_mode_writes_table_curves_and_plots(script, tmp_path):
    data_dir = _fake_fashion_mnist(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["--quick", "--dataset", "fashion_mnist", "--data-dir", str(data_dir), "--out", str(out),
            "--batch-size", "32", "--steps-per-epoch", "2", "--sparsities", "0", "0.8"]
    assert script.main(argv) == 0
    table = _read(out / "table.csv")
    assert list(table[0]) == list(script.TABLE_FIELDS)
    combos = {(r["optimizer"], r["sfw_init"], float(r["sparsity"]), r["retrain"]) for r in table}
    expected = {(o, str(i), s, str(rt)) for o, i in script.RUNS for s in (0.0, 0.4) for rt in (False, True)}
    assert combos == expected
    assert all(0.0 <= float(r["test_accuracy"]) <= 1.0 and np.isfinite(float(r["test_loss"])) for r in table)
    curves = _read(out / "curves.csv")
    assert len(curves) == 3 * 2
    for row in curves:
        assert abs(float(row["achieved_sparsity"]) - float(row["sparsity"])) < 0.01
    for name in ("curves_fashion_mnist_simple_cnn.png", "histogram_fashion_mnist_simple_cnn.png", "summary.md", "runs.json"):
        assert (out / name).stat().st_size > 0
    (out / "curves_fashion_mnist_simple_cnn.png").unlink()
    assert script.main(["--replot", "--out", str(out)]) == 0
    assert (out / "curves_fashion_mnist_simple_cnn.png").stat().st_size > 0


def test_cifar10_resnet18_config_runs_a_few_steps(script, tmp_path):
    data_dir = _fake_cifar10(tmp_path / "data")
    out = tmp_path / "out"
    argv = ["--dataset", "cifar10", "--model", "resnet18", "--epochs", "1", "--data-dir", str(data_dir), "--out", str(out),
            "--batch-size", "4", "--steps-per-epoch", "2", "--runs", "SFW", "--no-table", "--sparsities", "0", "0.5"]
    assert script.main(argv) == 0
    curves = _read(out / "curves.csv")
    assert [(r["model"], r["optimizer"], float(r["sparsity"])) for r in curves] == [("resnet18", "SFW", 0.0), ("resnet18", "SFW", 0.5)]
    assert all(np.isfinite(float(r["test_loss"])) for r in curves)


def test_reference_bias_norms_follow_pytorch_bias_init(script):
    from tf_sfw.models import simple_cnn

    model = simple_cnn(input_shape=(28, 28, 1))
    norms = script.reference_bias_norms(model)
    assert set(norms) == {f"{name}/bias:0" for name in ("conv1", "conv2", "fc1", "fc2", "fc3")}
    # U(-a, a), a = 1/sqrt(fan_in): E b^2 = a^2 / 3, so E||b||^2 = n / (3 fan_in).
    assert norms["conv1/bias:0"] == pytest.approx(np.sqrt(6 / (3 * 25)))
    assert norms["fc1/bias:0"] == pytest.approx(np.sqrt(120 / (3 * 256)))
    args = script.parse_args([])
    cons = script.sfw_constraints(args, model)
    bias = model.get_layer("conv1").bias
    k = min(10, 6)
    assert cons.for_variable(bias).radius(6) == pytest.approx(15.0 * norms["conv1/bias:0"] / np.sqrt(k))
    args.bias_radius = "fallback"
    assert script.sfw_constraints(args, model).for_variable(bias).radius(6) == pytest.approx(15.0 / np.sqrt(k))
