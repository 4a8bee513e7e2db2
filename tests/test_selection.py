"""Tests of tf_sfw.selection: exact K-th magnitude (radix vs top_k), top-K weights, masks and the one tie rule."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import lmo, selection
from tf_sfw._keras import keras
from tf_sfw.pruning import iterative, magnitude

DTYPES = [tf.float32, tf.float16, tf.bfloat16]
SMALLEST_NORMAL = np.finfo(np.float32).tiny


def _cases(dtype, rng):
    """(name, array, ks): random, tied, zero, tiny/huge sizes and magnitudes."""
    big = {tf.float32: 1e37, tf.float16: 1e4, tf.bfloat16: 1e37}[dtype]
    small = {tf.float32: 1e-35, tf.float16: 1e-4, tf.bfloat16: 1e-35}[dtype]
    normal = rng.standard_normal(3000)
    cases = [
        ("normal", normal),
        ("ties", rng.integers(-3, 4, size=(40, 50)).astype(np.float64)),
        ("all_tied", np.full(257, -2.5)),
        ("zeros", np.zeros((7, 9))),
        ("mostly_zero", np.where(rng.random(1000) < 0.97, 0.0, rng.standard_normal(1000))),
        ("size_1", np.array([-0.75])),
        ("size_2_tied", np.array([3.0, -3.0])),
        ("size_5", rng.standard_normal(5)),
        ("huge", normal[:500] * big),
        ("tiny", normal[:500] * small),
        ("wide_range", normal[:600] * 10.0 ** rng.integers(-3, 4, 600)),
        ("infinite", np.concatenate([normal[:100], [np.inf, -np.inf]])),
    ]
    if dtype != tf.float16:  # float32 subnormals (flushed to zero by TensorFlow on CPU)
        cases.append(("subnormal", np.concatenate([normal[:50] * 1e-41, np.zeros(20), normal[:30]])))
    out = []
    for name, x in cases:
        n = x.size
        ks = sorted(k for k in {1, n // 20, n // 2 + 1, n} if 1 <= k <= n)
        out.append((name, tf.constant(x, dtype), ks))
    return out


def _ftz(t):
    t = float(t)
    return 0.0 if abs(t) < SMALLEST_NORMAL else t


@pytest.fixture
def radix_everywhere(monkeypatch):
    """Radix selection even for small tensors (normally they use top_k)."""
    monkeypatch.setattr(selection, "_RADIX_MIN_SIZE", 1)


def _check_against_topk(x, k, t_radix, w_radix, dtype):
    t_topk = selection.kth_largest_magnitude(x, k, "topk").numpy()
    w_topk = selection.top_k_weights(x, k, "topk").numpy()
    t_radix, w_radix = t_radix.numpy(), w_radix.numpy()
    label = f"n={x.shape.num_elements()} k={k}"
    assert w_radix.dtype == x.dtype.as_numpy_dtype and w_radix.shape == tuple(x.shape), label
    assert _ftz(t_radix) == _ftz(t_topk), label
    np.testing.assert_array_equal(w_radix, w_topk, err_msg=label)
    w = w_radix.astype(np.float64)
    assert np.all((w >= 0) & (w <= 1)), label
    tol = {tf.float32: 1e-5, tf.float16: 2e-3, tf.bfloat16: 1e-2}[dtype]
    assert abs(w.sum() - k) <= tol * k, label


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_radix_matches_topk(radix_everywhere, dtype):
    """Every case, every k, without XLA (eager runs the same kernels as graph mode)."""
    checked = 0
    for _, x, ks in _cases(dtype, np.random.default_rng(0)):
        for k in ks:
            t = selection.kth_largest_magnitude(x, k, "radix")
            w = selection.top_k_weights(x, k, "radix")
            _check_against_topk(x, k, t, w, dtype)
            checked += 1
    assert checked >= 40


XLA_CASES = ("normal", "ties", "zeros", "size_1", "size_2_tied", "huge", "tiny", "subnormal")


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_radix_matches_topk_xla(radix_everywhere, dtype):
    """XLA-compiled radix selection (one compiled function for several cases)."""
    cases = [(x, ks[:: max(1, len(ks) - 1)]) for name, x, ks in _cases(dtype, np.random.default_rng(0))
             if name in XLA_CASES]

    @tf.function(jit_compile=True)
    def run():
        return [[(selection.kth_largest_magnitude(x, k, "radix"), selection.top_k_weights(x, k, "radix")) for k in ks]
                for x, ks in cases]

    checked = 0
    for (x, ks), outs in zip(cases, run()):
        for k, (t, w) in zip(ks, outs):
            _check_against_topk(x, k, t, w, dtype)
            checked += 1
    assert checked >= 12


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_radix_large_input(jit):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(1_000_003).astype(np.float32)
    x[:5000] = 1.5  # a block of ties near the threshold
    x[5000:10000] = -1.5
    x = tf.constant(rng.permutation(x))
    results = []
    ties_hit = int((np.abs(x.numpy()) > 1.5).sum()) + 4321
    for k in (10, 50_000, ties_hit):
        run = tf.function(
            lambda: (selection.top_k_weights(x, k, "radix"), selection.kth_largest_magnitude(x, k, "radix")), jit_compile=jit
        )
        weights, t = [r.numpy() for r in run()]
        expected_t = np.sort(np.abs(x.numpy()))[-k]
        assert t == expected_t
        magnitudes = np.abs(x.numpy())
        above, tied = magnitudes > expected_t, magnitudes == expected_t
        np.testing.assert_array_equal(weights[above], 1.0)
        np.testing.assert_array_equal(weights[~above & ~tied], 0.0)
        np.testing.assert_allclose(weights[tied], (k - above.sum()) / tied.sum(), rtol=1e-6)
        results.append(tied.sum())
    assert max(results) == 10_000  # the tie block was hit for one of the ks


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: d.name)
def test_radix_is_permutation_equivariant(radix_everywhere, dtype):
    rng = np.random.default_rng(2)
    x = rng.integers(-5, 6, size=2000).astype(np.float32) * 0.25
    perm = rng.permutation(x.size)
    k = 333
    w = selection.top_k_weights(tf.constant(x, dtype), k, "radix").numpy()
    w_perm = selection.top_k_weights(tf.constant(x[perm], dtype), k, "radix").numpy()
    np.testing.assert_array_equal(w[perm], w_perm)


def test_radix_is_default_and_used_above_cutoff():
    assert selection.DEFAULT_SELECTION == "radix"
    assert set(selection.SELECTIONS) == {"radix", "topk"}
    n = selection._RADIX_MIN_SIZE
    x = tf.constant(np.random.default_rng(3).standard_normal(n).astype(np.float32))
    graph = tf.function(lambda: selection.top_k_weights(x, n // 20)).get_concrete_function().graph
    op_types = {op.type for op in graph.get_operations()}
    assert "DenseBincount" in op_types and "TopKV2" not in op_types
    graph = tf.function(lambda: selection.top_k_weights(x, n // 20, "topk")).get_concrete_function().graph
    assert "TopKV2" in {op.type for op in graph.get_operations()}


def test_radix_select_counts(radix_everywhere):
    x = np.array([0.5, -2.0, 2.0, 1.0, 0.0, -1.0, 1.0, 3.0], np.float32)
    bits, t_bits, t_top_bits, above, tied = selection._radix_select(tf.constant(np.abs(x)), 4)
    assert tf.bitcast(t_bits, tf.float32).numpy() == 1.0
    assert t_top_bits.numpy() == t_bits.numpy()
    assert (above.numpy(), tied.numpy()) == (3, 3)
    bits, t_bits, t_top_bits, above, tied = selection._radix_select(tf.constant(np.zeros(6, np.float32)), 2)
    assert (t_bits.numpy(), above.numpy(), tied.numpy()) == (0, 0, 6)


@pytest.mark.parametrize("algorithm", ["sort", "", None, "RADIX"])
def test_bad_selection(algorithm):
    with pytest.raises(ValueError, match="`selection` must be one of"):
        selection.kth_largest_magnitude(tf.ones([4]), 2, algorithm)
    with pytest.raises(ValueError, match="`selection` must be one of"):
        selection.top_k_weights(tf.ones([4]), 2, algorithm)


# --------------------------------------------------------------------------- the tie rule


def _rule_mask(scores, k, tiebreak=None):
    """Brute-force reference of the tie rule: sort Python tuples (-score, -tiebreak, index)."""
    flat = np.asarray(scores, np.float64).ravel()
    second = np.zeros_like(flat) if tiebreak is None else np.asarray(tiebreak, np.float64).ravel()
    ranked = sorted(range(flat.size), key=lambda i: (-flat[i], -second[i], i))
    mask = np.zeros(flat.size, np.float32)
    mask[ranked[:k]] = 1.0
    return mask.reshape(np.shape(scores))


def _tied(seed, shape):
    """Few distinct magnitudes, both signs, exact zeros: many ties at every threshold."""
    rng = np.random.default_rng(seed)
    return (rng.integers(-2, 3, size=shape) * 0.5).astype(np.float32)


def test_issue_example_keeps_the_lower_index():
    assert selection.top_k_mask(np.array([1.0, 1.0, 1.0, 2.0]), 2).tolist() == [1.0, 0.0, 0.0, 1.0]
    assert selection.ranking([1.0, 1.0, 1.0, 2.0]).tolist() == [3, 0, 1, 2]
    assert selection.pruning_order([1.0, 1.0, 1.0, 2.0]).tolist() == [2, 1, 0, 3]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("with_tiebreak", [False, True])
def test_top_k_mask_matches_brute_force(seed, with_tiebreak):
    scores = _tied(seed, (6, 7))
    tiebreak = np.abs(_tied(seed + 10, (6, 7))) if with_tiebreak else None
    for k in range(scores.size + 1):
        mask = selection.top_k_mask(scores, k, tiebreak)
        assert mask.dtype == np.float32 and mask.shape == scores.shape and mask.sum() == k
        np.testing.assert_array_equal(mask, _rule_mask(scores, k, tiebreak))


def test_masks_are_nested_in_k():
    scores = _tied(7, (50,))
    masks = [selection.top_k_mask(scores, k) for k in range(51)]
    assert all(np.all(a <= b) for a, b in zip(masks, masks[1:]))


@pytest.mark.parametrize("mode", ["eager", "xla"])
@pytest.mark.parametrize("algorithm", ["radix", "topk"])
def test_tf_mask_honours_the_rule(radix_everywhere, mode, algorithm):
    """The in-graph mask (radix or top_k threshold + prefix count of ties) equals the rule."""
    cases = [(_tied(s, shape), k) for s, shape in enumerate([(4, 5), (3, 3, 2), (40,)]) for k in (1, 5, 9, 17)]
    cases.append((np.array([1.0, 1.0, 1.0, 2.0], np.float32), 2))
    cases.append((np.zeros(6, np.float32), 4))

    def run():
        return [selection.top_k_magnitude_mask(tf.constant(x), k, algorithm) for x, k in cases]

    outs = tf.function(run, jit_compile=True)() if mode == "xla" else run()
    for (x, k), out in zip(cases, outs):
        np.testing.assert_array_equal(out.numpy(), _rule_mask(np.abs(x), k), err_msg=f"{x.tolist()} k={k}")


def test_tf_mask_on_a_large_tensor_uses_radix():
    x = np.tile(np.float32([0.5, -1.0, 1.0, 0.25]), 5000)  # 20000 entries, 4 magnitudes
    k = 7501  # all 10000 of magnitude 1 do not fit: 7501 lowest-index ones are kept
    mask = selection.top_k_magnitude_mask(tf.constant(x), k).numpy()
    np.testing.assert_array_equal(mask, _rule_mask(np.abs(x), k))
    graph = tf.function(lambda: selection.top_k_magnitude_mask(tf.constant(x), k)).get_concrete_function().graph
    assert "DenseBincount" in {op.type for op in graph.get_operations()}


@pytest.mark.parametrize("seed", range(3))
def test_mask_is_one_of_the_vertices_averaged_by_top_k_weights(seed):
    """top_k_weights shares the tied place; the mask gives it to the lowest-index ties."""
    x = _tied(seed, (30,))
    for k in (3, 11, 20):
        weights = selection.top_k_weights(tf.constant(x), k).numpy()
        mask = selection.top_k_magnitude_mask(tf.constant(x), k).numpy()
        np.testing.assert_array_equal(mask[weights == 1.0], 1.0)
        np.testing.assert_array_equal(mask[weights == 0.0], 0.0)
        shared = np.flatnonzero((weights > 0) & (weights < 1))
        kept = int(round(k - (weights == 1.0).sum()))
        np.testing.assert_array_equal(mask[shared], [1.0] * kept + [0.0] * (shared.size - kept))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: selection.top_k_mask(np.ones(3), 4), "`k` must be an integer in"),
        (lambda: selection.top_k_mask(np.array([np.nan, 1.0]), 1), "`scores` must contain only finite"),
        (lambda: selection.ranking(np.ones(3), np.ones(2)), "`tiebreak` must have the shape"),
        (lambda: selection.top_k_magnitude_mask(tf.ones([3]), 0), "`k` must be an integer in \\[1, 3\\]"),
        (lambda: selection.top_k_magnitude_mask(tf.ones([3]), 1, "sort"), "`selection` must be one of"),
    ],
)
def test_argument_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# --------------------------------------------------------------------------- every entry point


def _entry_point_masks(w, sparsity):
    """The kept-entry mask of a tensor ``w`` at ``sparsity`` through every entry point."""
    k = iterative.keep_count(w.size, sparsity)
    masks = {
        "global_magnitude_masks": magnitude.global_magnitude_masks({"a": w}, sparsity)["a"],
        "layerwise_magnitude_masks": magnitude.layerwise_magnitude_masks({"a": w}, sparsity)["a"],
        "magnitude_order": magnitude.masks_from_order(
            magnitude.magnitude_order({"a": w}), {"a": w.shape}, w.size - k
        )["a"],
        "iterative.topk_mask": iterative.topk_mask(np.abs(w), k),
        "iterative.select_topk": iterative.select_topk({"a": np.abs(w)}, sparsity)["a"],
        "iterative.round_mask": iterative.round_mask({"a": np.ones(w.shape)}, {"a": w}, sparsity)["a"],
        "selection.top_k_magnitude_mask": selection.top_k_magnitude_mask(tf.constant(w), k).numpy(),
        "lmo.mask_polytope_lmo(-|w|)": lmo.mask_polytope_lmo(tf.constant(-np.abs(w) - 1.0), k).numpy(),
    }
    inputs = keras.Input(w.shape[:1])
    model = keras.Model(inputs, keras.layers.Dense(w.shape[1], use_bias=False, name="fc")(inputs))
    model.get_layer("fc").kernel.assign(w)
    masks["magnitude_masks"] = magnitude.magnitude_masks(model, sparsity)["fc/kernel"]
    data = (np.zeros((4,) + w.shape[:1], np.float32), np.zeros(4, np.int64))
    _, history = iterative.prune_simple(model, data, sparsity, fine_tune_examples=0)
    masks["prune_simple"] = history["masks"]["fc/kernel"]
    return masks


@pytest.mark.parametrize(
    "w, sparsity",
    [(np.float32([[1.0, 1.0], [1.0, 2.0]]), 0.5), (_tied(0, (6, 5)), 0.3), (_tied(1, (4, 9)), 0.75)],
    ids=["issue_example", "tied_30", "tied_36"],
)
def test_every_entry_point_gives_the_same_mask_on_ties(w, sparsity):
    masks = _entry_point_masks(w, sparsity)
    expected = _rule_mask(np.abs(w), w.size - int(np.floor(sparsity * w.size + 0.5)))
    for name, mask in masks.items():
        np.testing.assert_array_equal(np.asarray(mask).reshape(w.shape), expected, err_msg=name)
    if w.size == 4:
        np.testing.assert_array_equal(expected.ravel(), [1.0, 0.0, 0.0, 1.0])
