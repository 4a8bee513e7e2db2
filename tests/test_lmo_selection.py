"""Exact K-th-magnitude selection ("radix") against tf.math.top_k ("topk")."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import lmo

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
    monkeypatch.setattr(lmo, "_RADIX_MIN_SIZE", 1)


def _check_against_topk(x, k, t_radix, w_radix, dtype):
    t_topk = lmo.kth_largest_magnitude(x, k, "topk").numpy()
    w_topk = lmo.top_k_weights(x, k, "topk").numpy()
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
            t = lmo.kth_largest_magnitude(x, k, "radix")
            w = lmo.top_k_weights(x, k, "radix")
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
        return [[(lmo.kth_largest_magnitude(x, k, "radix"), lmo.top_k_weights(x, k, "radix")) for k in ks]
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
            lambda: (lmo.top_k_weights(x, k, "radix"), lmo.kth_largest_magnitude(x, k, "radix")), jit_compile=jit
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
    w = lmo.top_k_weights(tf.constant(x, dtype), k, "radix").numpy()
    w_perm = lmo.top_k_weights(tf.constant(x[perm], dtype), k, "radix").numpy()
    np.testing.assert_array_equal(w[perm], w_perm)


def test_radix_is_default_and_used_above_cutoff():
    assert lmo.DEFAULT_SELECTION == "radix"
    assert set(lmo.SELECTIONS) == {"radix", "topk"}
    n = lmo._RADIX_MIN_SIZE
    x = tf.constant(np.random.default_rng(3).standard_normal(n).astype(np.float32))
    graph = tf.function(lambda: lmo.top_k_weights(x, n // 20)).get_concrete_function().graph
    op_types = {op.type for op in graph.get_operations()}
    assert "DenseBincount" in op_types and "TopKV2" not in op_types
    graph = tf.function(lambda: lmo.top_k_weights(x, n // 20, "topk")).get_concrete_function().graph
    assert "TopKV2" in {op.type for op in graph.get_operations()}


def test_radix_select_counts(radix_everywhere):
    x = np.array([0.5, -2.0, 2.0, 1.0, 0.0, -1.0, 1.0, 3.0], np.float32)
    bits, t_bits, t_top_bits, above, tied = lmo._radix_select(tf.constant(np.abs(x)), 4)
    assert tf.bitcast(t_bits, tf.float32).numpy() == 1.0
    assert t_top_bits.numpy() == t_bits.numpy()
    assert (above.numpy(), tied.numpy()) == (3, 3)
    bits, t_bits, t_top_bits, above, tied = lmo._radix_select(tf.constant(np.zeros(6, np.float32)), 2)
    assert (t_bits.numpy(), above.numpy(), tied.numpy()) == (0, 0, 6)


@pytest.mark.parametrize("selection", ["sort", "", None, "RADIX"])
def test_bad_selection(selection):
    with pytest.raises(ValueError, match="`selection` must be one of"):
        lmo.kth_largest_magnitude(tf.ones([4]), 2, selection)
    with pytest.raises(ValueError, match="`selection` must be one of"):
        lmo.top_k_weights(tf.ones([4]), 2, selection)
