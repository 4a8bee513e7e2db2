"""Tests of `tf_sfw.keras3.pruning`: one-shot magnitude pruning of Keras 3 models without tfmot,
on the TensorFlow and JAX backends (and PyTorch when installed).

Keras 3 runs in the workers of `tests/keras3_pruning_runner.py` (one per backend and session);
the references here are NumPy: an independent implementation of the counting and tie rule,
and the classifier's forward pass.
"""

import math

import numpy as np
import pytest

from keras3_pruning_runner import (  # noqa: F401  (fixtures)
    FINE_TUNE_EPOCHS,
    FINE_TUNE_SPARSITY,
    FINE_TUNE_STEPS,
    MASK_SPARSITIES,
    SWEEP_SPARSITIES,
    keras3_pruning,
    keras3_pruning_runs,
)

CLASSIFIER_KERNELS = ("hidden/kernel", "out/kernel")


def _reference_masks(weights, sparsity, scope):
    """NumPy reference: ``min(floor(s n + 1/2), n - 1)`` zeros at the smallest ``|w|``, among
    equal magnitudes the higher flat index (over the concatenation in key order) first."""
    groups = [list(weights)] if scope == "global" else [[k] for k in weights]
    masks = {}
    for keys in groups:
        flat = np.concatenate([np.abs(weights[k]).ravel() for k in keys])
        n = flat.size
        z = max(0, min(math.floor(sparsity * n + 0.5), n - 1))
        order = np.lexsort((-np.arange(n), flat))  # magnitude ascending, then index descending
        keep = np.ones(n, dtype=np.float32)
        keep[order[:z]] = 0.0
        start = 0
        for k in keys:
            size = weights[k].size
            masks[k] = keep[start : start + size].reshape(weights[k].shape)
            start += size
    return masks


def _weights(arrays, prefix, keys):
    return {k: arrays[f"{prefix}|{k}"] for k in keys}


def test_keras3_prunable_weights_keyed_by_nested_path(keras3_pruning):
    _, report = keras3_pruning
    assert report["keys"] == ["conv/kernel", "enc/d1/kernel", "head/kernel"]
    assert report["keys_all"] == [
        "conv/kernel", "conv/bias", "enc/d1/kernel", "enc/d1/bias", "enc/bn/gamma", "enc/bn/beta", "head/kernel", "head/bias",
    ]  # BatchNormalization moving statistics never count
    assert report["keys_layers"] == ["enc/d1/kernel", "head/kernel"]


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("sparsity", MASK_SPARSITIES)
@pytest.mark.parametrize("extra", [False, True], ids=["kernels", "with_bias_bn"])
def test_keras3_magnitude_masks_match_numpy_reference(keras3_pruning, scope, sparsity, extra):
    arrays, report = keras3_pruning
    keys = report["keys_all"] if extra else report["keys"]
    weights = _weights(arrays, "w", keys)
    expected = _reference_masks(weights, sparsity, scope)
    got = {k: arrays[f"mask|{scope}|{sparsity}|{extra}|{k}"] for k in keys}
    for k in keys:
        np.testing.assert_array_equal(got[k], expected[k], err_msg=k)
        assert got[k].dtype == np.float32
    # Exact counts, even though most magnitudes tie (multiples of 0.25).
    sizes = [weights[k].size for k in keys] if scope == "layerwise" else [sum(w.size for w in weights.values())]
    zeros = [int(np.sum(got[k] == 0)) for k in keys] if scope == "layerwise" else [sum(int(np.sum(m == 0)) for m in got.values())]
    assert zeros == [min(math.floor(sparsity * n + 0.5), n - 1) for n in sizes]
    # The same masks as the tf_keras flavour's mask math on the same weights.
    from tf_sfw.pruning.magnitude import global_magnitude_masks, layerwise_magnitude_masks

    tf_keras_masks = (global_magnitude_masks if scope == "global" else layerwise_magnitude_masks)(weights, sparsity)
    for k in keys:
        np.testing.assert_array_equal(got[k], tf_keras_masks[k])


def test_keras3_layerwise_masks_per_key_sparsity(keras3_pruning):
    arrays, report = keras3_pruning
    weights = _weights(arrays, "w", report["keys"])
    for k in report["keys"]:
        got = arrays[f"mask|dict|{k}"]
        if k == "head/kernel":
            np.testing.assert_array_equal(got, _reference_masks({k: weights[k]}, 0.5, "layerwise")[k])
            assert got.sum() == weights[k].size - round(0.5 * weights[k].size)
        else:
            assert np.all(got == 1)


def test_keras3_apply_masks_zeroes_in_place(keras3_pruning):
    arrays, report = keras3_pruning
    assert report["apply_returns_model"]
    masks = _reference_masks(_weights(arrays, "w", report["keys"]), 0.55, "global")
    for k in report["keys_all"]:
        before, after = arrays[f"w|{k}"], arrays[f"applied|{k}"]
        expected = np.where(masks[k] == 1, before, 0.0) if k in masks else before
        np.testing.assert_array_equal(after, expected, err_msg=k)


def test_keras3_fine_tune_keeps_pruned_weights_exactly_zero(keras3_pruning):
    arrays, report = keras3_pruning
    assert report["ft_iterations"] == FINE_TUNE_EPOCHS * FINE_TUNE_STEPS
    assert report["ft_epochs_run"] == FINE_TUNE_EPOCHS
    before = _weights(arrays, "ft_before", CLASSIFIER_KERNELS)
    expected = _reference_masks(before, FINE_TUNE_SPARSITY, "global")
    for k in CLASSIFIER_KERNELS:
        mask, after = arrays[f"ft_mask|{k}"], arrays[f"ft_after|{k}"]
        np.testing.assert_array_equal(mask, expected[k])
        assert np.all(after[mask == 0] == 0), k  # exactly zero after model.fit
        assert np.mean(after[mask == 1] != before[k][mask == 1]) > 0.5, k  # kept entries trained
        # Control: the same masks applied once, then the same fit without holding them.
        control = arrays[f"control|{k}"]
        assert np.count_nonzero(control[mask == 0]) > 0.5 * np.sum(mask == 0), k


def test_keras3_fine_tune_holds_masks_as_constraints_and_removes_them(keras3_pruning):
    _, report = keras3_pruning
    seen = report["ft_seen"]
    assert seen["held"] == "MaskConstraint"
    assert seen["batches"] == FINE_TUNE_EPOCHS * FINE_TUNE_STEPS
    assert seen["pruned_nonzero"] == 0  # after every optimizer step, not only at the end
    assert seen["wraps_own"]  # the layer's own kernel_constraint stays, applied first
    assert seen["held_keys"] == sorted(CLASSIFIER_KERNELS)
    assert report["ft_constraint_restored"]
    assert report["ft_out_constraint"] == "None"
    assert report["ft_held_after"] == []


def test_keras3_fixed_masks_in_a_user_fit_loop(keras3_pruning):
    arrays, _ = keras3_pruning
    for k in CLASSIFIER_KERNELS:
        mask = arrays[f"ft_mask|{k}"]
        assert np.all(arrays[f"user|{k}"][mask == 0] == 0), k  # Adam, a step traced before holding
        # After the block the step is traced again without the masks: pruned entries move.
        assert np.count_nonzero(arrays[f"user_released|{k}"][mask == 0]) > 0, k


def _forward(arrays, masks, x):
    w = {p.split("/", 1)[1]: arrays[f"sw_before|{p}"] for p in ("clf/hidden/kernel", "clf/hidden/bias", "clf/out/kernel", "clf/out/bias")}
    w1 = w["hidden/kernel"].astype(np.float64) * masks["hidden/kernel"]
    w2 = w["out/kernel"].astype(np.float64) * masks["out/kernel"]
    h = np.maximum(x.astype(np.float64) @ w1 + w["hidden/bias"], 0.0)
    logits = h @ w2 + w["out/bias"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_keras3_sweep_matches_numpy_and_restores_weights(keras3_pruning, scope):
    arrays, report = keras3_pruning
    x, y = arrays["x"], arrays["y"]
    kernels = {k: arrays[f"sw_before|clf/{k}"] for k in CLASSIFIER_KERNELS}
    rows = report[f"sweep_{scope}"]
    sparsities = SWEEP_SPARSITIES if scope == "global" else (0.5,)
    assert [r["sparsity"] for r in rows] == list(sparsities)
    n = sum(a.size for a in kernels.values())
    for row, s in zip(rows, sparsities):
        masks = _reference_masks(kernels, s, scope)
        p = _forward(arrays, masks, x)
        assert row["loss"] == pytest.approx(float(np.mean(-np.log(p[np.arange(len(y)), y]))), rel=1e-5)
        assert row["accuracy"] == pytest.approx(float(np.mean(np.argmax(p, axis=1) == y)), abs=1e-12)
        zeros = sum(int(np.sum(m == 0)) for m in masks.values())
        assert row["nonzero"] == n - zeros
        assert row["achieved_sparsity"] == pytest.approx(zeros / n, abs=1e-12)
        assert row["nonzero_total"] == row["nonzero"] + 16 + 3  # biases: uniform draws, non-zero
    for path in report["sw_paths"]:  # restored bit for bit, also after an error mid-sweep
        np.testing.assert_array_equal(arrays[f"sw_after|{path}"], arrays[f"sw_before|{path}"])
        np.testing.assert_array_equal(arrays[f"sw_after_error|{path}"], arrays[f"sw_before|{path}"])


def test_keras3_evaluate_classifier_matches_numpy(keras3_pruning):
    arrays, report = keras3_pruning
    x, y = arrays["x"], arrays["y"]
    p = _forward(arrays, {k: 1.0 for k in CLASSIFIER_KERNELS}, x)
    loss, accuracy = report["evaluate"]
    assert loss == pytest.approx(float(np.mean(-np.log(p[np.arange(len(y)), y]))), rel=1e-5)
    assert accuracy == pytest.approx(float(np.mean(np.argmax(p, axis=1) == y)), abs=1e-12)


def test_keras3_sweep_rows_round_trip_through_the_shared_csv(keras3_pruning, tmp_path):
    from tf_sfw.keras3 import pruning
    from tf_sfw.pruning import sweep_common

    assert pruning.write_sweep_csv is sweep_common.write_sweep_csv  # one copy for both flavours
    _, report = keras3_pruning
    path = str(tmp_path / "sweep.csv")
    pruning.write_sweep_csv(report["sweep_global"], path, label="k3")
    [(label, rows)] = pruning.read_sweep_csv(path).items()
    assert label == "k3"
    assert len(rows) == len(report["sweep_global"])
    for row, expected in zip(rows, report["sweep_global"]):
        assert row == pytest.approx(expected, rel=1e-15)


def test_keras3_export_keras_reload_gives_identical_predictions(keras3_pruning):
    arrays, report = keras3_pruning
    np.testing.assert_array_equal(arrays["pred_keras"], arrays["pred"])
    assert report["reloaded_zeros"] == report["model_zeros"] > 0  # pruned entries stored as zeros
    expected = {"directory": ".", "keras": "model.keras", "config": "config.json"}
    if report["backend"] == "tensorflow":
        expected["saved_model"] = "."
    assert report["export_paths"] == expected


def test_keras3_saved_model_serves_identical_outputs(keras3_pruning):
    arrays, report = keras3_pruning
    if report["backend"] != "tensorflow":
        assert "`saved_model=True`" in report["errors"]["saved_model"]
        assert f"backend={report['backend']!r}" in report["errors"]["saved_model"]
        pytest.skip("a SavedModel is written on the TensorFlow backend only")
    np.testing.assert_allclose(arrays["pred_saved_model"], arrays["pred"], rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(arrays["pred_saved_model_batch1"], arrays["pred"][:1], rtol=1e-6, atol=1e-7)
    assert "uint8" in report["errors_tf"]["uint8"] and "[0, 1]" in report["errors_tf"]["uint8"]


def test_keras3_reconstruct_matches_the_tf_keras_refit(keras3_pruning):
    """The same CNN and weights refit by tf_sfw.pruning.reconstruct (tf_keras; tested against NumPy
    lstsq there) and by tf_sfw.keras3.pruning.reconstruct on this backend: the same weights."""
    from tf_sfw._keras import keras as tf_keras
    from tf_sfw.pruning import magnitude_masks, reconstruct

    arrays, report = keras3_pruning
    conv_in = tf_keras.Input((7, 7, 2))
    h = tf_keras.layers.Conv2D(3, 3, strides=2, padding="same", name="conv")(conv_in)
    h = tf_keras.layers.ReLU()(h)
    h = tf_keras.layers.Conv2D(4, 2, padding="valid", use_bias=False, name="conv2")(h)
    cnn = tf_keras.Model(conv_in, tf_keras.layers.Dense(2, name="fc")(tf_keras.layers.Flatten()(h)))
    order = report["rec_weight_order"]
    cnn.set_weights([arrays[f"rec_dense|{path}"] for path in order])
    expected = reconstruct(cnn, magnitude_masks(cnn, 0.6), arrays["rec_x"], batch_size=10)
    for path, want in zip(order, expected.get_weights()):
        got = arrays[f"rec_refit|{path}"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5, err_msg=path)
        assert np.array_equal(got == 0, want == 0) or not path.endswith("kernel"), path
    assert report["rec_returns_model"] is True
    assert "damping" in report["rec_errors"]["damping"]
    assert "calibration_x" in report["rec_errors"]["calibration"]
    assert "nope/kernel" in report["rec_errors"]["mask_key"]


def test_keras3_pruning_leaves_tensorflow_out_under_jax(keras3_pruning):
    _, report = keras3_pruning
    if report["backend"] != "jax":
        pytest.skip("the TensorFlow-free check is for KERAS_BACKEND=jax")
    assert report["tf_after_import"] is False
    assert report["tf_before_export"] is False  # masks, fine_tune, sweep, evaluate_classifier


@pytest.mark.parametrize(
    "name, parts",
    [
        ("sparsity", ["`sparsity`", "sparsity=1.5"]),
        ("scope", ["`scope`", "scope='row'"]),
        ("model", ["`model`", "str"]),
        ("layers", ["`layers`", "nope"]),
        ("mask_key", ["`masks`", "nope/kernel"]),
        ("mask_shape", ["out/kernel", "(2, 2)", "(16, 3)"]),
        ("mask_values", ["out/kernel", "0 and 1"]),
        ("masks_empty", ["`masks`", "masks={}"]),
        ("epochs", ["`epochs`", "epochs=-1"]),
        ("steps", ["`steps`", "steps=0"]),
        ("sparsities", ["`sparsities`", "sparsities=1.0"]),
        ("sweep_scope", ["`scope`", "scope='row'"]),
        ("y_length", ["`y`", "len(y)=10"]),
        ("y_missing", ["`y`", "y=None"]),
        ("load_missing", ["`path`", "missing.keras"]),
    ],
)
def test_keras3_pruning_bad_inputs_name_the_argument(keras3_pruning, name, parts):
    _, report = keras3_pruning
    message = report["errors"][name]
    assert message is not None, f"{name}: no ValueError"
    for part in parts:
        assert part in message, (name, message)
