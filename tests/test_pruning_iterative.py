"""Tests of tf_sfw.pruning.iterative: selection math and the three pruners (tiny sizes)."""

import itertools

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.models import mnist_cnn
from tf_sfw.pruning import iterative as it
from tf_sfw.pruning.masks import prunable_weights

# --------------------------------------------------------------------------- pure math


@pytest.mark.parametrize("n,s", [(10, 0.9), (7, 0.5), (100, 0.95), (3, 0.0), (288, 0.9)])
def test_keep_count_rounds_to_nearest(n, s):
    k = it.keep_count(n, s)
    assert abs(k - (1 - s) * n) <= 0.5 + 1e-9
    assert 0 <= k <= n


@pytest.mark.parametrize("k", [0, 1, 3, 5, 8])
def test_topk_mask_exact_count_and_ties(k):
    scores = np.array([[1.0, 2.0, 2.0, 0.5], [2.0, -1.0, 3.0, 2.0]])
    mask = it.topk_mask(scores, k)
    assert mask.shape == scores.shape and mask.sum() == k
    flat, kept = scores.ravel(), mask.ravel().astype(bool)
    if 0 < k < flat.size:
        assert flat[kept].min() >= flat[~kept].max()
    # Ties broken by lower flat index: among the four 2.0's the first ones win.
    if k == 3:
        assert np.flatnonzero(mask.ravel()).tolist() == [1, 2, 6]


def test_topk_mask_tiebreak_array():
    scores = np.zeros(5)
    tiebreak = np.array([0.1, 0.5, 0.3, 0.9, 0.2])
    assert np.flatnonzero(it.topk_mask(scores, 2, tiebreak=tiebreak)).tolist() == [1, 3]


@pytest.mark.parametrize("seed,k", itertools.product(range(4), [0, 1, 3, 6]))
def test_lmo_is_the_minimizer_over_vertices(seed, k):
    g = np.random.default_rng(seed).normal(size=6)
    v = it.lmo_mask_polytope(g, k)
    assert v.sum() <= k and set(np.unique(v)) <= {0.0, 1.0}
    # Brute force over all binary vectors with at most k ones (the vertices of M).
    best = min(float(np.dot(g, np.array(b))) for b in itertools.product([0, 1], repeat=6) if sum(b) <= k)
    assert np.isclose(float(np.dot(g, v)), best)
    assert np.all(g[v == 1] < 0)


def test_fw_update_and_ema():
    m, v = np.array([1.0, 0.0, 0.5]), np.array([0.0, 1.0, 1.0])
    np.testing.assert_allclose(it.fw_update(m, v, 0.25), [0.75, 0.25, 0.625])
    np.testing.assert_allclose(it.ema(None, m, 0.9), m)
    np.testing.assert_allclose(it.ema(m, v, 0.5), [0.5, 0.5, 0.75])
    assert it.fw_step_size(0) == pytest.approx(2 / 3)
    assert it.fw_step_size(0, offset=2) == 1.0


@pytest.mark.parametrize("T,s0,s,p", [(5, 0.5, 0.9, 3.0), (8, 0.0, 0.95, 1.0), (1, 0.3, 0.8, 3.0)])
def test_sparsity_ramp_endpoints_and_monotone(T, s0, s, p):
    values = [it.sparsity_ramp(t, T, s0, s, p) for t in range(T)]
    assert values[-1] == pytest.approx(s)
    if T > 1:
        assert values[0] == pytest.approx(s0)
    assert all(a <= b + 1e-12 for a, b in zip(values, values[1:]))


@pytest.mark.parametrize("seed", range(3))
def test_round_mask_projection_is_nearest_binary_network(seed):
    rng = np.random.default_rng(seed)
    w, m = rng.normal(size=7), rng.uniform(size=7)
    mask = it.round_mask({"a": m}, {"a": w}, 4 / 7)["a"]
    k = it.keep_count(7, 4 / 7)
    assert mask.sum() == k
    dist = lambda b: float(np.sum(w**2 * (m - np.array(b)) ** 2))  # noqa: E731
    best = min(dist(b) for b in itertools.product([0, 1], repeat=7) if sum(b) == k)
    assert np.isclose(dist(mask), best)


def test_round_mask_all_ones_is_magnitude():
    w = {"a": np.array([0.3, -2.0, 0.1, 1.0]), "b": np.array([[-0.05, 0.7]])}
    ones = {k: np.ones_like(v) for k, v in w.items()}
    masks = it.round_mask(ones, w, 0.5)
    assert masks["a"].tolist() == [0.0, 1.0, 0.0, 1.0] and masks["b"].tolist() == [[0.0, 1.0]]


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_select_topk_and_lmo_counts(scope):
    rng = np.random.default_rng(0)
    scores = {"a": rng.normal(size=(3, 5)), "b": rng.normal(size=11)}
    masks = it.select_topk(scores, 0.7, scope)
    if scope == "global":
        assert sum(m.sum() for m in masks.values()) == it.keep_count(26, 0.7)
    else:
        assert all(masks[k].sum() == it.keep_count(v.size, 0.7) for k, v in scores.items())
    vertices = it.lmo_masks(scores, 0.7, scope)
    if scope == "global":
        assert sum(v.sum() for v in vertices.values()) <= it.keep_count(26, 0.7)
    else:
        assert all(vertices[k].sum() <= it.keep_count(v.size, 0.7) for k, v in scores.items())


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: it.topk_mask(np.ones(3), 4), "`k` must be an integer in"),
        (lambda: it.lmo_mask_polytope(np.array([np.nan, 1.0]), 1), "`grad` must contain only finite"),
        (lambda: it.fw_update(np.ones(2), np.ones(2), 1.5), "`gamma` must be in"),
        (lambda: it.ema(None, np.ones(2), 1.0), "`beta` must be in"),
        (lambda: it.sparsity_ramp(0, 3, 0.9, 0.5), "`initial_sparsity` must be <="),
        (lambda: it.select_topk({"a": np.ones(3)}, 0.5, "per-layer"), "`scope` must be one of"),
        (lambda: it.keep_count(10, 1.0), "must be in \\[0, 1\\)"),
        (lambda: it.round_mask({"a": np.ones(2)}, {"a": np.ones(2)}, 0.5, rounding="x"), "`rounding` must be"),
    ],
)
def test_math_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- pruners (tiny)


def _tiny_setup(seed=0):
    keras.utils.set_random_seed(seed)
    model = mnist_cnn(input_shape=(12, 12, 1), num_classes=3)
    rng = np.random.default_rng(seed)
    x = rng.uniform(size=(96, 12, 12, 1)).astype("float32")
    y = rng.integers(0, 3, size=96).astype("int64")
    return model, (x, y)


_QUICK = {
    "simple": dict(fine_tune_examples=64, batch_size=32),
    "fw": dict(fine_tune_examples=64, batch_size=32, iterations=3, subsample=32, fine_tune_every=1, step_size=0.5),
    "fw_momentum": dict(fine_tune_examples=64, batch_size=32, iterations=3, subsample=32, fine_tune_every=1,
                        step_size=0.5, initial_sparsity=0.3, beta=0.5),
}


@pytest.mark.parametrize("method,scope", list(itertools.product(sorted(_QUICK), ["global", "layerwise"])))
def test_pruner_exact_sparsity_and_zeros_kept(method, scope):
    model, data = _tiny_setup()
    before = [w.copy() for w in model.get_weights()]
    sparsity = 0.8
    pruned, history = it.prune(method, model, data, sparsity, scope=scope, **_QUICK[method])
    weights = {k: v.numpy() for k, v in prunable_weights(pruned).items()}
    masks = history["masks"]
    assert set(masks) == set(weights) == {"conv2d/kernel", "conv2d_1/kernel", "dense/kernel"}
    n = sum(w.size for w in weights.values())
    if scope == "global":
        assert sum(int(m.sum()) for m in masks.values()) == it.keep_count(n, sparsity)
    else:
        for key, w in weights.items():
            assert int(masks[key].sum()) == it.keep_count(w.size, sparsity)
    for key, w in weights.items():
        assert np.all(w[masks[key] == 0] == 0.0), key  # pruned entries exactly zero after fine-tuning
    assert history["nonzero_fraction"] == pytest.approx(sum(m.sum() for m in masks.values()) / n)
    assert history["fine_tune_examples"] >= _QUICK[method]["fine_tune_examples"]
    # Fine-tuning really trained the kept weights, and the input model is untouched.
    original = {k: v.numpy() for k, v in prunable_weights(model).items()}
    assert any(not np.allclose(weights[k][masks[k] == 1], original[k][masks[k] == 1]) for k in weights)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("method", sorted(_QUICK))
def test_pruner_deterministic_under_seed(method):
    model, data = _tiny_setup()
    runs = [it.prune(method, model, data, 0.75, seed=3, **_QUICK[method]) for _ in range(2)]
    for key in runs[0][1]["masks"]:
        np.testing.assert_array_equal(runs[0][1]["masks"][key], runs[1][1]["masks"][key])
    for a, b in zip(runs[0][0].get_weights(), runs[1][0].get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fw_momentum_ramps_sparsity():
    model, data = _tiny_setup()
    _, history = it.prune_fw_momentum(model, data, 0.8, **_QUICK["fw_momentum"])
    ramp = [r["sparsity"] for r in history["iterations"]]
    assert ramp[0] == pytest.approx(0.3) and ramp[-1] == pytest.approx(0.8) and ramp == sorted(ramp)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(method="magnitude"), "`method` must be one of"),
        (dict(method="fw", iterations=0), "`iterations` must be an integer >= 1"),
        (dict(method="fw", step_size=0.0), "`step_size` must be"),
        (dict(method="fw_momentum", initial_sparsity=0.95), "`initial_sparsity` must be <="),
        (dict(method="simple", fine_tune_examples=-1), "`fine_tune_examples` must be an integer"),
        (dict(method="simple", data="x"), "`data` must be a tuple"),
    ],
)
def test_pruner_argument_errors(kwargs, match):
    model, data = _tiny_setup()
    kwargs = dict(kwargs)
    method = kwargs.pop("method")
    data = kwargs.pop("data", data)
    with pytest.raises(ValueError, match=match):
        it.prune(method, model, data, 0.9, **kwargs)
