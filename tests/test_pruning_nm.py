"""Tests of tf_sfw.pruning.nm: one-shot N:M masks in tfmot's m_by_n layout."""

import numpy as np
import pytest
import tensorflow as tf
from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

from tf_sfw._keras import keras
from tf_sfw.pruning import masks as masks_lib
from tf_sfw.pruning import nm

RNG = np.random.default_rng(11)


def np_nm_mask(w, n, m):
    """Reference: for every output index and every run of m along axis -2, keep the n largest
    magnitudes (lower index first among equals), by explicit loops."""
    w = np.asarray(w)
    moved = np.moveaxis(w, -2, -1)
    mask = np.zeros_like(moved, dtype=np.float32)
    flat_w, flat_m = moved.reshape(-1, moved.shape[-1]), mask.reshape(-1, moved.shape[-1])
    for row in range(flat_w.shape[0]):
        for start in range(0, flat_w.shape[1], m):
            block = np.abs(flat_w[row, start : start + m])
            keep = sorted(range(len(block)), key=lambda i: (-block[i], i))[:n]
            for i in keep:
                flat_m[row, start + i] = 1.0
    return np.moveaxis(flat_m.reshape(moved.shape), -1, -2)


@pytest.mark.parametrize("shape", [(8, 5), (6, 3), (3, 3, 4, 2), (1, 1, 10, 3)])
@pytest.mark.parametrize("n, m", [(2, 4), (1, 4), (3, 8)])
def test_nm_masks_for_weights_match_reference(shape, n, m):
    w = RNG.normal(size=shape).astype(np.float32)
    w[tuple(0 for _ in shape)] = 0.0  # a zero and an exact tie
    w.flat[-1] = w.flat[-2]
    masks = nm.nm_masks_for_weights({"layer/kernel": w}, n, m)
    np.testing.assert_array_equal(masks["layer/kernel"], np_nm_mask(w, n, m))
    assert masks["layer/kernel"].dtype == np.float32
    assert nm.is_nm_sparse(w * masks["layer/kernel"], n, m)


def test_is_nm_sparse_and_tfmot_tuple():
    w = np.ones((8, 2), np.float32)
    assert not nm.is_nm_sparse(w, 2, 4)
    w[[0, 1, 4, 5], :] = 0.0
    assert nm.is_nm_sparse(w, 2, 4)
    assert not nm.is_nm_sparse(w, 1, 4)
    assert nm.tfmot_m_by_n(2, 4) == (2, 4)
    assert nm.tfmot_m_by_n(1, 4) == (3, 4)
    with pytest.raises(ValueError, match="n=5, m=4"):
        nm.tfmot_m_by_n(5, 4)
    with pytest.raises(ValueError, match="weights"):
        nm.nm_masks_for_weights({}, 2, 4)


def cnn():
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Conv2D(8, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(12, 3, activation="relu", name="c2"),
            keras.layers.Flatten(),
            keras.layers.Dense(10, activation="relu", name="d1"),
            keras.layers.Dense(3, name="d2"),
        ]
    )


@pytest.mark.parametrize("n, m", [(2, 4), (1, 4)])
def test_prune_nm_model_is_accepted_by_tfmot(n, m):
    model = cnn()
    assert not pruning_utils.is_pruned_m_by_n(model.get_layer("c2").kernel, m_by_n=nm.tfmot_m_by_n(n, m))
    pruned = masks_lib.strip(nm.prune_nm(model, n, m))
    for name in ("c1", "c2", "d1", "d2"):
        before, after = model.get_layer(name).kernel.numpy(), pruned.get_layer(name).kernel.numpy()
        assert pruning_utils.is_pruned_m_by_n(tf.constant(after), m_by_n=nm.tfmot_m_by_n(n, m)), name
        kept = after != 0
        np.testing.assert_array_equal(after[kept], before[kept])  # kept weights unchanged
        np.testing.assert_array_equal(kept, np_nm_mask(before, n, m) == 1)
        # Biases are not pruned.
        np.testing.assert_array_equal(pruned.get_layer(name).bias.numpy(), model.get_layer(name).bias.numpy())
    # The original model is untouched.
    assert not pruning_utils.is_pruned_m_by_n(model.get_layer("c2").kernel, m_by_n=nm.tfmot_m_by_n(n, m))


def test_nm_masks_restricted_to_layers():
    model = cnn()
    masks = nm.nm_masks(model, 2, 4, layers=["c2", "d1"])
    assert list(masks) == ["c2/kernel", "d1/kernel"]
    # c2 has C_in = 8: exactly half of its kernel is kept.
    assert masks["c2/kernel"].mean() == 0.5
