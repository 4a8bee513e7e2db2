"""Quick end-to-end test of ``tf-sfw demo`` on a small MNIST subset (the full run is in README)."""

import csv
import json
import os

import numpy as np
import pytest

from tf_sfw.cli.demo import format_table
from tf_sfw.cli.main import main
from conftest import SHARED_DATA_DIR

DATA_DIR = os.environ.get("TF_SFW_DATA_DIR", SHARED_DATA_DIR)


@pytest.mark.skipif(not os.path.isfile(os.path.join(DATA_DIR, "datasets", "mnist.npz")), reason="MNIST not available offline")
def test_demo_quick_end_to_end(tmp_path, capsys):
    out, export = tmp_path / "demo", tmp_path / "export"
    code = main([
        "demo", "--data-dir", DATA_DIR, "--epochs", "1", "--train-examples", "256", "--test-examples", "200",
        "--sparsities", "0,0.5,0.9", "--out", str(out), "--export-dir", str(export), "--verbose", "0",
    ])
    assert code == 0
    printed = capsys.readouterr().out
    assert "SGD acc" in printed and "SFW acc" in printed and "SFW refit" in printed and "90.0%" in printed
    with open(out / "demo.csv") as f:
        rows = list(csv.DictReader(f))
    assert {r["model"] for r in rows} == {"sgd", "sfw", "sgd+refit", "sfw+refit"} and len(rows) == 12
    # the refit rows keep the one-shot zeros: same non-zero counts, other accuracies
    for name in ("sgd", "sfw"):
        plain = [r for r in rows if r["model"] == name]
        refit = [r for r in rows if r["model"] == f"{name}+refit"]
        assert [r["nonzero"] for r in plain] == [r["nonzero"] for r in refit]
    assert (out / "demo.png").read_bytes()[:4] == b"\x89PNG"
    summary = json.loads((out / "demo.json").read_text())
    assert summary["export"]["max_abs_prediction_diff_after_reload"] < 1e-5
    assert summary["export"]["refit"] is True  # --reconstruct 1024 by default: the refit model is exported
    assert summary["export"]["max_abs_prediction_diff_raw_uint8"] < 1e-5  # uint8 pixels through serving_raw
    # the saved models and the export name their data set, for `tf-sfw prune` / `sweep` without --dataset
    assert json.loads((out / "config.json").read_text())["dataset"] == "mnist"
    assert json.loads((export / "config.json").read_text())["dataset"] == "mnist"
    assert summary["export"]["metrics"]["compressed_bytes"] < summary["export"]["metrics"]["dense_compressed_bytes"]
    assert (out / "mnist_cnn_sgd.keras").is_file() and (out / "mnist_cnn_sfw.keras").is_file()
    # the exported model is the SFW model at exactly 90% kernel sparsity
    from tf_sfw.pruning.export import load_keras_model
    from tf_sfw.pruning.metrics import sparsity_report

    report = sparsity_report(load_keras_model(str(export)))
    assert report["counted"] - report["nonzero"] >= int(np.floor(0.9 * report["counted"] + 0.5))
    sfw_90 = [r for r in rows if r["model"] == "sfw" and float(r["sparsity"]) == 0.9][0]
    assert int(sfw_90["nonzero"]) == report["nonzero"]


def test_demo_rejects_bad_sparsity(capsys):
    assert main(["demo", "--export-sparsity", "1.0", "--data-dir", "/nonexistent"]) == 2
    assert "`--export-sparsity` must be in [0, 1)" in capsys.readouterr().err


def test_demo_optimizers_come_from_the_training_builders(monkeypatch):
    """The demo builds its optimizers with tf_sfw.training.build_optimizer (one place builds optimizers)."""
    import argparse

    import tf_sfw.training as training
    from tf_sfw.cli import demo

    seen = []
    real = training.build_optimizer

    def spy(model, config, total_steps=None):
        seen.append((dict(config), total_steps))
        return real(model, config, total_steps=total_steps)

    monkeypatch.setattr(training, "build_optimizer", spy)
    args = argparse.Namespace(seed=0, sgd_lr=0.05, batch_size=4, epochs=3, verbose=0)
    x, y = np.zeros((8, 28, 28, 1), np.uint8), np.arange(8) % 10
    models = {name: demo._train(name, x, y, args)[0] for name in ("sgd", "sfw")}
    configs = [c for c, _ in seen]
    assert [c["optimizer"] for c in configs] == ["sgd", "sfw"]
    assert [t for _, t in seen] == [6, 6]  # 3 epochs x 2 steps: the schedules span the run
    assert configs[0]["learning_rate"] == 0.05 and configs[1]["learning_rate"] == 1.0
    assert configs[1]["rescale"] == "gradient"
    assert type(models["sfw"].optimizer).__name__ == "SFW"
    assert models["sgd"].optimizer.get_config()["momentum"] == 0.9
    # Both train on the recipe's schedule (same shape), SFW with the recipe's defaults.
    from tf_sfw.recipe import RecipeSchedule
    from tf_sfw.recipe_math import DEFAULTS

    schedules = {name: model.optimizer._learning_rate for name, model in models.items()}
    assert all(isinstance(s, RecipeSchedule) for s in schedules.values())
    assert schedules["sfw"].get_config() == dict(schedules["sgd"].get_config(), learning_rate=1.0)
    assert schedules["sfw"].milestones == tuple(DEFAULTS["milestones"])
    assert schedules["sfw"].warmup == DEFAULTS["warmup"]
    for key in ("k", "k_frac", "momentum", "rescale", "constrain", "unconstrained_learning_rate", "k_annealing"):
        assert configs[1][key] == DEFAULTS[key]
    assert configs[1]["value"] == DEFAULTS["tau"] and configs[1]["constraint"] == DEFAULTS["ball"]


def test_format_table():
    rows_a = [{"accuracy": 0.5, "nonzero": 10}, {"accuracy": 0.25, "nonzero": 5}]
    rows_b = [{"accuracy": 0.75, "nonzero": 10}, {"accuracy": 0.7, "nonzero": 5}]
    table = format_table([0.0, 0.5], rows_a, rows_b).splitlines()
    assert len(table) == 4
    assert "50.00%" in table[2] and "75.00%" in table[2] and "50.0%" in table[3] and "70.00%" in table[3]
    refit = format_table([0.0, 0.5], rows_a, rows_b, refit=(rows_b, rows_a)).splitlines()
    assert "SGD refit" in refit[0] and "SFW refit" in refit[0]
    assert [cell.strip() for cell in refit[3].split("|")] == ["50.0%", "25.00%", "70.00%", "70.00%", "25.00%", "5"]
