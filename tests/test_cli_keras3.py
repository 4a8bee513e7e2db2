"""`tf-sfw train|prune|sweep --keras 3` on each Keras 3 backend, end to end on a tiny MNIST subset
(the commands run in the subprocess workers of `tests/keras3_runner.py`; checks against NumPy here)."""

import numpy as np
import pytest

from keras3_runner import keras3_app, keras3_apps  # noqa: F401  (fixtures)

REFUSED = {
    "resume": "`--resume`",
    "sfw_init": "`--sfw-init`",
    "schedule_paper": "`--schedule paper`",
    "constraint_nm": "`--constraint nm`",
    "model_vgg16": "`--model vgg16`",
}


@pytest.mark.parametrize("case,flag", sorted(REFUSED.items()))
def test_flags_the_keras3_path_lacks_are_refused_naming_flag_and_keras3(keras3_app, case, flag):
    _, report = keras3_app
    code, stderr = report["errors"][case]
    lines = stderr.strip().splitlines()
    assert code == 2 and len(lines) == 1, stderr
    assert flag in lines[0] and "`--keras 3`" in lines[0] and lines[0].startswith("tf-sfw train: error:")
    assert report["refused_left_nothing"]


def test_backend_needs_keras3(keras3_app):
    _, report = keras3_app
    code, stderr = report["errors"]["backend_without_keras3"]
    assert code == 2 and "`--backend` needs `--keras 3`" in stderr


def test_train_writes_the_run_files_and_config_names_backend(keras3_app):
    _, report = keras3_app
    assert report["train"][0] == 0, report["train"][1]
    assert report["train_files"] == ["config.json", "log.csv", "metrics.json", "model.keras"]
    metrics = report["train_metrics"]
    assert metrics["train_examples"] == 256 and metrics["steps_per_epoch"] == 4 and metrics["test_examples"] == 10000
    assert 0.0 <= metrics["test_accuracy"] <= 1.0 and np.isfinite(metrics["test_loss"])
    assert metrics["at_chance_level"] is (metrics["test_accuracy"] <= 0.15)  # the check of tf_sfw.training.chance_level
    assert report["train_config"]["backend"] == report["backend"] and report["train_config"]["keras"] == 3
    assert report["trained_optimizer"] == "SFW"  # model.keras reloads with tf_sfw.keras3.SFW


def test_prune_keeps_the_mask_through_fine_tuning_and_exports(keras3_app):
    arrays, report = keras3_app
    assert report["prune"][0] == 0, report["prune"][1]
    metrics = report["prune_metrics"]
    kernels = [arrays[f"pruned_{layer}"] for layer in ("conv2d", "conv2d_1", "dense")]
    counted = sum(k.size for k in kernels)
    zeros = sum(int(np.sum(k == 0)) for k in kernels)
    assert counted == metrics["counted"] == 34720
    assert zeros == counted // 2 == counted - metrics["nonzero"]  # exactly 50%, still after a fine-tuning epoch
    assert metrics["retrain_epochs"] == 1 and "retrained_accuracy" in metrics
    assert metrics["reconstruct"] == 64 and 0.0 <= metrics["reconstructed_accuracy"] <= 1.0  # refit, then fine-tuned
    expected = "saved_model.pb" if report["backend"] == "tensorflow" else None
    assert "model.keras" in report["export_files"] and "config.json" in report["export_files"]
    assert (expected in report["export_files"]) if expected else "saved_model.pb" not in report["export_files"]
    # The export reloads to the fine-tuned model: its accuracy on the same 300 images.
    accuracy = float(np.mean(np.argmax(arrays["probs"], axis=1) == arrays["labels"]))
    assert accuracy == pytest.approx(metrics["retrained_accuracy"], abs=1e-6)


def test_sweep_of_the_export_counts_exact_zeros(keras3_app):
    arrays, report = keras3_app
    assert report["sweep"][0] == 0, report["sweep"][1]
    rows = report["sweep_metrics"]["rows"]
    assert [r["sparsity"] for r in rows] == [0.0, 0.5, 0.8]
    assert rows[0]["achieved_sparsity"] == pytest.approx(0.5)  # the export is already 50% sparse
    assert rows[1]["accuracy"] == rows[0]["accuracy"]  # pruning it to 50% changes nothing
    assert rows[2]["nonzero"] == round(0.2 * 34720)
    refit = report["sweep_metrics"]["refit_rows"]  # --reconstruct 64: the same zeros, the kept weights refit
    assert [r["nonzero"] for r in refit] == [r["nonzero"] for r in rows]
    accuracy = float(np.mean(np.argmax(arrays["probs"], axis=1) == arrays["labels"]))
    assert rows[0]["accuracy"] == pytest.approx(accuracy, abs=1e-6)


def test_commands_import_no_tensorflow_outside_its_backend(keras3_app):
    _, report = keras3_app
    if report["backend"] != "tensorflow":
        assert report["tensorflow_imported_by_commands"] is False


def test_demo_sweeps_with_and_without_the_refit_and_exports_the_refit_model(keras3_app):
    _, report = keras3_app
    assert report["demo"][0] == 0, report["demo"][1]
    sweep = report["demo_sweep"]
    assert sorted(sweep) == ["sfw", "sfw+refit", "sgd", "sgd+refit"]
    for name in ("sgd", "sfw"):  # the refit keeps the zeros of plain magnitude pruning
        assert [r["nonzero"] for r in sweep[f"{name}+refit"]] == [r["nonzero"] for r in sweep[name]]
        assert [r["sparsity"] for r in sweep[name]] == [0.0, 0.5, 0.9]
    export = report["demo_export"]
    assert export["refit"] is True and export["sparsity"] == 0.9
    assert export["max_abs_prediction_diff_after_reload"] == 0.0
    # The exported model is the refit one: its reloaded accuracy is the refit sweep's at 90%.
    assert export["reloaded_accuracy"] == pytest.approx(sweep["sfw+refit"][2]["accuracy"], abs=1e-6)
