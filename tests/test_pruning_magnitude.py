"""Tests for tf_sfw.pruning.magnitude (pure selection math vs. brute force)."""

import math

import numpy as np
import pytest

from tf_sfw.pruning.magnitude import (
    global_magnitude_masks,
    layerwise_magnitude_masks,
    magnitude_order,
    masks_from_order,
    num_pruned,
    validate_sparsity,
)


def _weights(seed, shapes, ties=False):
    rng = np.random.default_rng(seed)
    out = {}
    for i, shape in enumerate(shapes):
        w = rng.normal(size=shape).astype(np.float32)
        if ties:  # few distinct magnitudes, both signs, and exact zeros
            w = (np.round(w * 2) / 2).astype(np.float32)
        out[f"layer{i}/kernel"] = w
    return out


def _brute_force_global(weights, sparsity):
    """Prune the z smallest (|w|, -flat index) pairs by sorting Python tuples (ties: the
    higher index is pruned first, the lower one kept -- the rule of tf_sfw.selection)."""
    flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
    n = flat.size
    z = min(int(math.floor(sparsity * n + 0.5)), n - 1)  # rounded half up, at least one kept
    ranked = sorted(range(n), key=lambda i: (float(flat[i]), -i))
    keep = np.ones(n, dtype=np.float32)
    keep[ranked[:z]] = 0
    out, start = {}, 0
    for k, w in weights.items():
        out[k] = keep[start : start + w.size].reshape(w.shape)
        start += w.size
    return out


SHAPES = [[(3, 3, 1, 4), (7,), (12, 5)], [(50,)], [(2, 2), (1,), (9, 3)]]


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sparsity", [0.0, 0.1, 0.33, 0.5, 0.9, 0.99])
def test_global_matches_brute_force_and_count_is_exact(shapes, ties, sparsity):
    weights = _weights(1, shapes, ties)
    masks = global_magnitude_masks(weights, sparsity)
    expected = _brute_force_global(weights, sparsity)
    assert list(masks) == list(weights)
    n = sum(w.size for w in weights.values())
    zeros = sum(int((m == 0).sum()) for m in masks.values())
    assert zeros == min(int(math.floor(sparsity * n + 0.5)), n - 1)
    for k in weights:
        assert masks[k].shape == weights[k].shape
        np.testing.assert_array_equal(masks[k], expected[k])


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sparsity", [0.0, 0.25, 0.5, 0.8, 0.95])
def test_global_threshold_property(ties, sparsity):
    """Every pruned magnitude is <= every kept magnitude (one global threshold)."""
    weights = _weights(2, [(6, 6), (40,), (3, 3, 2, 2)], ties)
    masks = global_magnitude_masks(weights, sparsity)
    pruned = np.concatenate([np.abs(w)[masks[k] == 0] for k, w in weights.items()])
    kept = np.concatenate([np.abs(w)[masks[k] == 1] for k, w in weights.items()])
    if pruned.size and kept.size:
        assert pruned.max() <= kept.min()


@pytest.mark.parametrize("shapes", SHAPES)
@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("sparsity", [0.0, 0.2, 0.5, 0.75, 0.9])
def test_layerwise_matches_brute_force_per_tensor(shapes, ties, sparsity):
    weights = _weights(3, shapes, ties)
    masks = layerwise_magnitude_masks(weights, sparsity)
    for k, w in weights.items():
        expected = _brute_force_global({k: w}, sparsity)[k]
        np.testing.assert_array_equal(masks[k], expected)
        assert int((masks[k] == 0).sum()) == min(int(math.floor(sparsity * w.size + 0.5)), w.size - 1)


def test_layerwise_per_key_sparsity_and_missing_keys_unpruned():
    weights = _weights(4, [(10, 10), (20,), (5,)])
    masks = layerwise_magnitude_masks(weights, {"layer0/kernel": 0.3, "layer1/kernel": 0.5})
    assert int((masks["layer0/kernel"] == 0).sum()) == 30
    assert int((masks["layer1/kernel"] == 0).sum()) == 10
    assert int((masks["layer2/kernel"] == 0).sum()) == 0


def test_layerwise_unknown_key_raises():
    with pytest.raises(ValueError, match="Unknown weight keys"):
        layerwise_magnitude_masks(_weights(0, [(4,)]), {"nope/kernel": 0.5})


@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan"), "0.5", True, None])
@pytest.mark.parametrize("fn", [global_magnitude_masks, layerwise_magnitude_masks])
def test_invalid_sparsity_raises(bad, fn):
    with pytest.raises(ValueError, match="sparsity"):
        fn(_weights(0, [(4, 4)]), bad)


def test_validate_sparsity_message_names_value():
    with pytest.raises(ValueError, match=r"Received: sparsity=1\.0"):
        validate_sparsity(1.0)
    assert validate_sparsity(np.float32(0.5)) == 0.5


@pytest.mark.parametrize("bad", [{}, [np.ones(3)], {"a/kernel": np.array([1.0, np.nan])}, {"a/kernel": np.zeros((0,))}])
def test_invalid_weights_raise(bad):
    with pytest.raises(ValueError):
        global_magnitude_masks(bad, 0.5)


def test_masks_are_nested_across_sparsities_and_order_is_deterministic():
    weights = _weights(5, [(8, 8), (30,)], ties=True)
    order = magnitude_order(weights)
    np.testing.assert_array_equal(order, magnitude_order(weights))
    shapes = {k: w.shape for k, w in weights.items()}
    prev = None
    for s in [0.0, 0.1, 0.5, 0.9, 0.98]:
        masks = masks_from_order(order, shapes, num_pruned(s, order.size))
        for k in weights:
            np.testing.assert_array_equal(masks[k], global_magnitude_masks(weights, s)[k])
        if prev is not None:
            for k in weights:
                assert np.all(masks[k] <= prev[k])
        prev = masks


@pytest.mark.parametrize("s,n,expected", [(0.0, 7, 0), (0.5, 7, 4), (0.5, 6, 3), (0.9, 10, 9), (0.99, 10, 9), (0.3, 3, 1), (0.999999, 1000, 999), (0.5, 1, 0), (0.9, 0, 0)])
def test_num_pruned_rounds_half_up_and_keeps_one(s, n, expected):
    assert num_pruned(s, n) == expected


def test_masks_from_order_validates():
    with pytest.raises(ValueError, match="n_pruned"):
        masks_from_order(np.arange(4), {"a/kernel": (4,)}, 5)
    with pytest.raises(ValueError, match="entries"):
        masks_from_order(np.arange(3), {"a/kernel": (4,)}, 1)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_sparsity_just_below_one_keeps_one_weight_per_rule(scope):
    """``s = 0.999999`` rounds to pruning all n < 500000 weights: the largest is kept."""
    weights = _weights(6, [(10, 10), (30,)])
    fn = global_magnitude_masks if scope == "global" else layerwise_magnitude_masks
    masks = fn(weights, 0.999999)
    if scope == "global":
        assert sum(int(m.sum()) for m in masks.values()) == 1
        flat = np.concatenate([np.abs(w).ravel() for w in weights.values()])
        kept = np.concatenate([m.ravel() for m in masks.values()])
        assert flat[kept == 1][0] == flat.max()
    else:
        for k, w in weights.items():
            assert int(masks[k].sum()) == 1 and np.abs(w)[masks[k] == 1][0] == np.abs(w).max()


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("sparsity", [0.8, 0.5, 0.3])
def test_exact_sparsity_on_a_tied_layer(scope, sparsity):
    """SFW iterates sit at vertices: many entries share one magnitude. A threshold rule
    (keep every |w| >= t, as tfmot's mask update does) over-keeps; ours is exact."""
    rng = np.random.default_rng(7)
    w = rng.choice([-0.25, 0.25], size=(20, 10)) * (rng.random((20, 10)) < 0.9)  # 2 magnitudes: 0, 0.25
    w[0, :5] = 0.3
    weights = {"dense/kernel": w.astype(np.float32)}
    fn = global_magnitude_masks if scope == "global" else layerwise_magnitude_masks
    masks = fn(weights, sparsity)
    assert int((masks["dense/kernel"] == 0).sum()) == int(math.floor(sparsity * w.size + 0.5))
    # every kept magnitude is >= every pruned magnitude
    kept, pruned = np.abs(w)[masks["dense/kernel"] == 1], np.abs(w)[masks["dense/kernel"] == 0]
    assert kept.min() >= pruned.max()
    # the threshold rule over-keeps on these ties
    threshold = np.sort(np.abs(w).ravel())[::-1][int(round(w.size * (1 - sparsity))) - 1]
    assert (np.abs(w) >= threshold).sum() > w.size - int(math.floor(sparsity * w.size + 0.5))
