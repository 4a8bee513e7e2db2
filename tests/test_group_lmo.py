"""Tests of tf_sfw.group_lmo: group / N:M LMOs by brute force, gauges, k-support norm, layout."""

import itertools

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import group_lmo as G

RNG = np.random.default_rng(7)


# ---------------------------------------------------------------------------------------
# NumPy references (written independently of the module, with explicit loops).


def np_groups(x, axis):
    """List of the groups (flattened) of ``x`` along ``axis`` (entries of a rank-1 array)."""
    x = np.asarray(x, np.float64)
    if x.ndim <= 1:
        return [np.atleast_1d(v) for v in x.reshape(-1)]
    return [np.take(x, j, axis=axis).ravel() for j in range(x.shape[axis])]


def np_blocks(x, m, axis):
    """List of the N:M blocks (index arrays into x.ravel()) along ``axis``, by explicit loops."""
    x = np.asarray(x)
    axis = 0 if x.ndim == 1 else axis % x.ndim
    index = np.arange(x.size).reshape(x.shape)
    blocks = []
    others = [range(d) for i, d in enumerate(x.shape) if i != axis]
    for rest in itertools.product(*others):
        line = []
        for c in range(x.shape[axis]):
            full = list(rest)
            full.insert(axis, c)
            line.append(index[tuple(full)])
        for start in range(0, len(line), m):
            blocks.append(np.array(line[start : start + m]))
    return blocks


def np_group_k_sparse_feasible(x, k, r, axis, tol=1e-5):
    norms = np.array([np.linalg.norm(g) for g in np_groups(x, axis)])
    return norms.max() <= r * (1 + tol) and norms.sum() <= r * k * (1 + tol)


def np_nm_feasible(x, n, m, r, axis, tol=1e-5):
    flat = np.asarray(x, np.float64).ravel()
    return all(
        np.abs(flat[b]).max() <= r * (1 + tol) and np.abs(flat[b]).sum() <= r * n * (1 + tol)
        for b in np_blocks(x, m, axis)
    )


def np_k_support_norm(z, k):
    """Argyriou, Foygel and Srebro (2012), Prop. 2.1: the unique r in {0..k-1} with
    z_{k-r-1} > (1/(r+1)) sum_{i>=k-r} z_i >= z_{k-r} (1-based, z_0 = inf)."""
    z = np.sort(np.abs(np.asarray(z, np.float64)))[::-1]
    zz = np.concatenate([[np.inf], z])  # 1-based
    for r in range(k):
        tail = zz[k - r :].sum() / (r + 1)
        if zz[k - r - 1] > tail >= zz[k - r]:
            return float(np.sqrt((zz[1 : k - r] ** 2).sum() + (r + 1) * tail**2))
    raise AssertionError("no r found")


def top_k_l2(u, k):
    return float(np.sqrt(np.sort(np.asarray(u, np.float64).ravel() ** 2)[::-1][:k].sum()))


# ---------------------------------------------------------------------------------------
# Groups.


@pytest.mark.parametrize("shape, axis", [((3, 4), -1), ((3, 4), 0), ((2, 2, 3, 5), -1), ((2, 2, 3, 5), 2), ((6,), -1)])
def test_group_norms_match_numpy(shape, axis):
    x = RNG.normal(size=shape).astype(np.float32)
    expected = [np.linalg.norm(g) for g in np_groups(x, axis)]
    np.testing.assert_allclose(G.group_norms(tf.constant(x), axis).numpy(), expected, rtol=1e-6)
    assert G.num_groups(shape, axis) == len(expected)


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((4, 3), 0), ((2, 2, 2, 6), -1), ((7,), -1)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_group_k_sparse_lmo_is_optimal_and_feasible(shape, axis, k):
    r = 1.7
    g = RNG.normal(size=shape).astype(np.float32)
    v = G.group_k_sparse_lmo(tf.constant(g), k, r, axis).numpy()
    value = float(np.vdot(g, v))
    norms = np.array([np.linalg.norm(gr) for gr in np_groups(g, axis)])
    # Vertices: K groups of norm r; the best direction in each group is -g_g/||g_g|| (Cauchy-Schwarz).
    best = min(-r * norms[list(s)].sum() for s in itertools.combinations(range(len(norms)), k))
    assert value == pytest.approx(best, rel=1e-5)
    assert np_group_k_sparse_feasible(v, k, r, axis)
    # Random feasible points (random vertices and mixtures) are never better.
    for _ in range(200):
        x = np.zeros_like(g, dtype=np.float64)
        chosen = RNG.choice(len(norms), size=k, replace=False)
        x_groups = np.moveaxis(x, axis, 0) if x.ndim > 1 else x.reshape(-1, 1)
        for j in chosen:
            d = RNG.normal(size=x_groups[j].shape)
            x_groups[j] = r * d / np.linalg.norm(d) * RNG.uniform(0, 1)
        assert value <= float(np.vdot(g, x)) + 1e-5


@pytest.mark.parametrize("shape, axis", [((3, 5), -1), ((4, 3), 0), ((2, 2, 2, 6), -1)])
@pytest.mark.parametrize("k", [1, 2, 3])
def test_group_k_support_lmo_is_optimal_and_feasible(shape, axis, k):
    r = 0.8
    g = RNG.normal(size=shape).astype(np.float32)
    v = G.group_k_support_lmo(tf.constant(g), k, r, axis).numpy()
    norms = np.array([np.linalg.norm(gr) for gr in np_groups(g, axis)])
    # Extreme points: norm r on at most K groups; on support S the best is -r ||g_S||_2.
    best = min(-r * np.sqrt((norms[list(s)] ** 2).sum()) for s in itertools.combinations(range(len(norms)), k))
    assert float(np.vdot(g, v)) == pytest.approx(best, rel=1e-5)
    vnorms = np.array([np.linalg.norm(gr) for gr in np_groups(v, axis)])
    assert np.count_nonzero(vnorms > 1e-7) <= k
    assert np.linalg.norm(v) == pytest.approx(r, rel=1e-5)
    assert np_k_support_norm(vnorms, k) <= r * (1 + 1e-5)


@pytest.mark.parametrize("lmo", [G.group_k_sparse_lmo, G.group_k_support_lmo])
def test_group_lmos_share_ties_and_are_permutation_equivariant(lmo):
    # Groups 0, 2 and 3 have the same norm; K = 2 with group 1 the largest: 1/2 share for each tie.
    g = np.zeros((2, 4), np.float32)
    g[:, 0] = [3.0, 4.0]
    g[:, 1] = [0.0, 7.0]
    g[:, 2] = [5.0, 0.0]
    g[:, 3] = [0.0, -5.0]
    v = lmo(tf.constant(g), 2, 1.0).numpy()
    vnorms = np.linalg.norm(v, axis=0)
    assert vnorms[0] == pytest.approx(vnorms[2]) == pytest.approx(vnorms[3])
    assert vnorms[0] > 0
    perm = [3, 0, 2, 1]
    np.testing.assert_allclose(lmo(tf.constant(g[:, perm]), 2, 1.0).numpy(), v[:, perm], rtol=1e-6)
    # Still optimal: ties do not change the value.
    best = lmo(tf.constant(g + np.array([[0, 0, 0, 0], [1e-3, 0, 0, 0]], np.float32)), 2, 1.0).numpy()
    assert float(np.vdot(g, v)) == pytest.approx(float(np.vdot(g, best)), rel=1e-3)


@pytest.mark.parametrize("lmo", [G.group_k_sparse_lmo, G.group_k_support_lmo])
def test_group_lmos_give_zero_for_zero_groups(lmo):
    g = np.zeros((3, 4), np.float32)
    g[:, 1] = [1.0, 2.0, 2.0]
    v = lmo(tf.constant(g), 2, 1.0).numpy()
    assert np.all(np.isfinite(v))
    np.testing.assert_allclose(v[:, 1], -g[:, 1] / 3.0, rtol=1e-6)
    np.testing.assert_array_equal(v[:, [0, 2, 3]], 0.0)
    np.testing.assert_array_equal(lmo(tf.zeros((3, 4)), 2, 1.0).numpy(), 0.0)


@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_k_support_norm_matches_argyriou_and_duality(k):
    for _ in range(20):
        z = RNG.normal(size=5)
        norm = float(G.k_support_norm(tf.constant(z), k))
        assert norm == pytest.approx(np_k_support_norm(z, k), rel=1e-10)
        # <u, z> <= ||z|| * ||u||_(k) for random u (the dual norm is the top-k L2 norm).
        for u in RNG.normal(size=(50, 5)):
            assert np.dot(u, z) <= norm * top_k_l2(u, k) + 1e-9
    z = RNG.normal(size=6)
    assert float(G.k_support_norm(tf.constant(z), 1)) == pytest.approx(np.abs(z).sum())
    assert float(G.k_support_norm(tf.constant(z), 6)) == pytest.approx(np.linalg.norm(z))


def test_k_support_norm_with_ties():
    for z, k in [([1.0, 1.0, 1.0, 1.0], 2), ([2.0, 1.0, 1.0, 0.0], 2), ([3.0, 3.0, 1.0], 1), ([0.0, 0.0, 0.0], 2)]:
        expected = np_k_support_norm(z, k) if np.any(z) else 0.0
        assert float(G.k_support_norm(tf.constant(z, tf.float64), k)) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_gauges_decide_membership(k):
    r = 1.0
    for _ in range(50):
        x = RNG.normal(size=(3, 4)) * RNG.uniform(0.05, 1.0)
        gauge = float(G.group_k_sparse_gauge(tf.constant(x), k))
        assert (gauge <= r) == np_group_k_sparse_feasible(x, k, r, -1, tol=0.0)
        gn = np.linalg.norm(x, axis=0)
        assert float(G.group_k_support_norm(tf.constant(x), k)) == pytest.approx(np_k_support_norm(gn, k))


def test_group_lmos_reject_bad_k_and_axis():
    g = tf.ones((2, 3))
    with pytest.raises(ValueError, match="k"):
        G.group_k_sparse_lmo(g, 4, 1.0)
    with pytest.raises(ValueError, match="axis=2"):
        G.group_k_support_lmo(g, 1, 1.0, axis=2)


# ---------------------------------------------------------------------------------------
# N:M.


@pytest.mark.parametrize(
    "shape, axis, m", [((8, 3), -2, 4), ((6, 2), -2, 4), ((2, 2, 5, 3), -2, 4), ((9,), -2, 4), ((3, 7), -1, 3)]
)
def test_nm_blocks_layout_and_inverse(shape, axis, m):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape) + 1.0
    blocks = G.nm_blocks(tf.constant(x), m, axis).numpy()
    expected = np_blocks(x, m, axis)
    got = [b[b != 0] for b in blocks.reshape(-1, m)]
    assert len(got) == len(expected)
    # Same multiset of blocks (rows may be enumerated in another order).
    key = lambda b: tuple(b.tolist())  # noqa: E731
    assert sorted(map(key, got)) == sorted(key(x.ravel()[b]) for b in expected)
    np.testing.assert_array_equal(G.nm_unblock(tf.constant(blocks), shape, axis).numpy(), x)
    assert G.nm_max_nonzeros(shape, 2, m, axis) == sum(min(2, len(b)) for b in expected)


@pytest.mark.parametrize("shape, n, m", [((5, 2), 2, 4), ((4, 2), 1, 4), ((3, 3), 2, 3), ((6, 1), 1, 2)])
def test_nm_lmo_is_optimal_by_enumeration(shape, n, m):
    r = 0.6
    g = RNG.normal(size=shape).astype(np.float32)
    v = G.nm_lmo(tf.constant(g), n, m, r).numpy()
    blocks = np_blocks(g, m, -2)
    # Every point of {-r, 0, r}^size with at most N non-zeros per block (all vertices).
    size = g.size
    points = np.array(list(itertools.product([-r, 0.0, r], repeat=size)))
    ok = np.ones(len(points), bool)
    for b in blocks:
        ok &= np.count_nonzero(points[:, b], axis=1) <= n
    best = (points[ok] @ g.ravel().astype(np.float64)).min()
    assert float(np.vdot(g, v)) == pytest.approx(best, rel=1e-5)
    assert np_nm_feasible(v, n, m, r, -2)
    flat = v.ravel()
    assert all(np.count_nonzero(flat[b]) <= n for b in blocks)


def test_nm_lmo_shares_ties_within_a_block():
    g = np.array([[3.0], [1.0], [1.0], [1.0], [2.0], [0.0], [5.0], [-2.0]], np.float32)
    v = G.nm_lmo(tf.constant(g), 2, 4, 1.0).numpy().ravel()
    np.testing.assert_allclose(v, [-1, -1 / 3, -1 / 3, -1 / 3, -0.5, 0, -1, 0.5], rtol=1e-6)
    assert np_nm_feasible(v.reshape(g.shape), 2, 4, 1.0, -2)


@pytest.mark.parametrize("shape", [(8, 3), (2, 2, 12, 3), (10, 4)])
@pytest.mark.parametrize("n_m", [(2, 4), (1, 4), (3, 4)])
def test_nm_mask_matches_tfmot(shape, n_m):
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    n, m = n_m
    w = RNG.normal(size=shape).astype(np.float32)
    mask = G.nm_mask(tf.constant(w), n, m).numpy()
    reference = pruning_utils.m_by_n_sparsity_mask_prepare(
        pruning_utils.generate_m_by_n_mask(pruning_utils.weights_rearrange(tf.constant(w)), (m - n, m)),
        tf.TensorShape(shape),
    ).numpy()
    np.testing.assert_array_equal(mask, reference)
    assert pruning_utils.is_pruned_m_by_n(tf.constant(w * mask), m_by_n=(m - n, m))


def test_nm_mask_tie_rule_keeps_lower_index():
    w = np.array([[1.0], [2.0], [2.0], [2.0], [0.0], [0.0], [0.0], [0.0], [5.0]], np.float32)
    mask = G.nm_mask(tf.constant(w), 2, 4).numpy().ravel()
    np.testing.assert_array_equal(mask, [0, 1, 1, 0, 1, 1, 0, 0, 1])


@pytest.mark.parametrize("n", [1, 2])
def test_nm_gauge_decides_membership(n):
    for _ in range(50):
        x = RNG.normal(size=(6, 3)) * RNG.uniform(0.05, 0.8)
        assert (float(G.nm_gauge(tf.constant(x), n, 4)) <= 1.0) == np_nm_feasible(x, n, 4, 1.0, -2, tol=0.0)


@pytest.mark.parametrize("n, m", [(0, 4), (5, 4), (2.0, 4), (1, 0)])
def test_nm_rejects_bad_n_m(n, m):
    with pytest.raises(ValueError, match=r"`n`|`m`"):
        G.nm_lmo(tf.ones((4, 2)), n, m, 1.0)


def test_lmos_compile_with_xla():
    g = tf.constant(RNG.normal(size=(3, 3, 8, 6)).astype(np.float32))

    def everything(x):  # one compilation for all functions (fast test)
        return (
            G.group_k_sparse_lmo(x, 2, 1.0),
            G.group_k_support_lmo(x, 3, 1.0),
            G.nm_lmo(x, 2, 4, 1.0),
            G.nm_mask(x, 2, 4),
            G.group_k_support_norm(x, 2),
            G.nm_gauge(x, 2, 4),
        )

    for compiled, eager in zip(tf.function(everything, jit_compile=True)(g), everything(g)):
        np.testing.assert_allclose(compiled.numpy(), eager.numpy(), rtol=1e-5, atol=1e-6)
