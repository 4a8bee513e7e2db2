"""Tests for tf_sfw.pruning.sweep."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, prunable_weights, strip
from tf_sfw.pruning.sweep import (
    evaluate_classifier,
    output_is_probabilities,
    plot_sweep,
    read_sweep_csv,
    sweep,
    write_sweep_csv,
)


def tiny_model(seed=0, softmax=True):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(4, activation="softmax" if softmax else None, name="head")(x)
    return keras.Model(inp, out)


def tiny_data(n=40, seed=1):
    rng = np.random.default_rng(seed)
    return rng.random((n, 6, 6, 1), dtype=np.float32), rng.integers(0, 4, n)


def _bits(model):
    return [w.view(np.uint8).copy() for w in model.get_weights()]


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("include_bias,include_batchnorm", [(False, False), (True, True)])
def test_sweep_rows_match_fresh_pruning_and_restore_is_bit_exact(scope, include_bias, include_batchnorm):
    model = tiny_model()
    bits = _bits(model)
    data = tiny_data()
    sparsities = [0.0, 0.3, 0.9, 0.99]
    rows = sweep(model, data, sparsities, scope=scope, include_bias=include_bias, include_batchnorm=include_batchnorm, batch_size=16)
    for a, b in zip(bits, _bits(model)):
        np.testing.assert_array_equal(a, b)
    counted = prunable_weights(model, include_bias, include_batchnorm)
    n = sum(int(v.shape.num_elements()) for v in counted.values())
    assert [r["sparsity"] for r in rows] == sparsities
    for row, s in zip(rows, sparsities):
        # same result as building a pruned copy with the masks API
        pruned = strip(apply_masks(model, magnitude_masks(model, s, scope=scope, include_bias=include_bias, include_batchnorm=include_batchnorm)))
        loss, acc = evaluate_classifier(pruned, data)
        assert row["accuracy"] == pytest.approx(acc, abs=1e-9)
        assert row["loss"] == pytest.approx(loss, rel=1e-5)
        zeros = sum(int((v.numpy() == 0).sum()) for v in prunable_weights(pruned, include_bias, include_batchnorm).values())
        assert row["achieved_sparsity"] * n == pytest.approx(zeros)
        assert row["nonzero"] <= n - round(row["achieved_sparsity"] * n)
        assert row["nonzero_total"] == sum(int(np.count_nonzero(w)) for w in pruned.get_weights())


def test_sweep_restores_after_error_in_callback():
    model = tiny_model()
    bits = _bits(model)

    def boom(s, m):
        if s > 0.4:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        sweep(model, tiny_data(), [0.0, 0.5], callback=boom)
    for a, b in zip(bits, _bits(model)):
        np.testing.assert_array_equal(a, b)


def test_sweep_does_not_rebuild_model():
    model = tiny_model()
    ids = [id(v) for v in model.weights]
    seen = []
    sweep(model, tiny_data(), [0.2, 0.8], callback=lambda s, m: seen.append((m is model, [id(v) for v in m.weights] == ids)))
    assert seen == [(True, True), (True, True)]


@pytest.mark.parametrize("bad", [[-0.1], [1.0], [0.5, 2.0], [], [float("nan")]])
def test_sweep_invalid_sparsity_raises(bad):
    with pytest.raises(ValueError, match="sparsities"):
        sweep(tiny_model(), tiny_data(), bad)


def test_sweep_errors_for_scope_layers_and_wrapped_model():
    model = tiny_model()
    with pytest.raises(ValueError, match="scope"):
        sweep(model, tiny_data(), [0.5], scope="blocky")
    with pytest.raises(ValueError, match="Unknown layer names"):
        sweep(model, tiny_data(), [0.5], layers=["nope"])
    with pytest.raises(ValueError, match="pruning wrappers"):
        sweep(apply_masks(model, magnitude_masks(model, 0.5)), tiny_data(), [0.5])


@pytest.mark.parametrize("softmax", [True, False])
def test_evaluate_classifier_matches_keras_evaluate(softmax):
    model = tiny_model(softmax=softmax)
    assert output_is_probabilities(model) is softmax
    x, y = tiny_data()
    model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=not softmax), metrics=["accuracy"])
    ref_loss, ref_acc = model.evaluate(x, y, batch_size=40, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(7)
    loss, acc = evaluate_classifier(model, ds)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert acc == pytest.approx(ref_acc, abs=1e-6)


def test_evaluate_classifier_bad_data():
    with pytest.raises(ValueError, match="data"):
        evaluate_classifier(tiny_model(), "nope")
    x, y = tiny_data()
    with pytest.raises(ValueError, match="empty"):
        evaluate_classifier(tiny_model(), (x[:0], y[:0]))


def test_csv_roundtrip_and_plot(tmp_path):
    model = tiny_model()
    rows = sweep(model, tiny_data(), [0.0, 0.5])
    path = tmp_path / "sub" / "sweep.csv"
    write_sweep_csv({"a": rows, "b": rows}, str(path))
    back = read_sweep_csv(str(path))
    assert list(back) == ["a", "b"]
    for r, q in zip(rows, back["a"]):
        for k in r:
            assert q[k] == pytest.approx(r[k])
    write_sweep_csv(rows, str(tmp_path / "single.csv"))
    assert list(read_sweep_csv(str(tmp_path / "single.csv"))) == [None]
    png = tmp_path / "plot.png"
    plot_sweep({"a": rows}, str(png))
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_achieved_sparsity_counts_weights_that_were_already_zero():
    model = tiny_model()
    kernel = model.get_layer("head").kernel
    already = np.zeros(kernel.shape, bool)
    already[:, 0] = True  # a whole column of the head's kernel is already zero
    kernel.assign(np.where(already, 0.0, kernel.numpy()))
    n = sum(int(v.shape.num_elements()) for v in prunable_weights(model).values())
    rows = sweep(model, tiny_data(), [0.0, 0.1], batch_size=16)
    assert rows[0]["achieved_sparsity"] == pytest.approx(already.sum() / n)
    # at 10% the smallest magnitudes, which include the zeros, are pruned: max(zeros, target)
    assert rows[1]["achieved_sparsity"] == pytest.approx(max(already.sum(), math.floor(0.1 * n + 0.5)) / n)
    assert rows[1]["nonzero"] == n - round(rows[1]["achieved_sparsity"] * n)
