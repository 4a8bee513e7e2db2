"""Tests of tf_sfw.lmo: optimality (brute force, random feasible points), feasibility, ties."""

import itertools
import math

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import lmo

RNG = np.random.default_rng(0)


def k_sparse_vertices(n, k, r):
    """All vertices of the K-sparse polytope in n dims."""
    for support in itertools.combinations(range(n), k):
        for signs in itertools.product((-1.0, 1.0), repeat=k):
            v = np.zeros(n)
            v[list(support)] = r * np.array(signs)
            yield v


def random_k_sparse_feasible(n, k, r, count):
    """Random points of B_1(rK) ∩ B_inf(r) (convex combinations of random vertices)."""
    points = []
    for _ in range(count):
        weights = RNG.dirichlet(np.ones(4))
        x = np.zeros(n)
        for w in weights:
            idx = RNG.choice(n, size=k, replace=False)
            v = np.zeros(n)
            v[idx] = r * RNG.choice([-1.0, 1.0], size=k)
            x += w * v
        points.append(x)
    return points


@pytest.mark.parametrize("n", [1, 2, 4, 6])
def test_k_sparse_lmo_matches_brute_force_over_all_vertices(n):
    r = 0.7
    for k in range(1, n + 1):
        for _ in range(5):
            g = RNG.normal(size=n)
            v = lmo.k_sparse_lmo(tf.constant(g), k, r).numpy()
            best = min(float(g @ vert) for vert in k_sparse_vertices(n, k, r))
            assert g @ v == pytest.approx(best, rel=1e-9, abs=1e-12)
            assert np.max(np.abs(v)) <= r + 1e-12
            assert np.sum(np.abs(v)) <= r * k + 1e-9


@pytest.mark.parametrize("shape", [(7,), (3, 5), (2, 3, 4, 5)])
@pytest.mark.parametrize("k_frac", [0.05, 0.3, 1.0])
def test_k_sparse_lmo_beats_random_feasible_points(shape, k_frac):
    n = int(np.prod(shape))
    k = max(1, int(k_frac * n))
    r = 2.5
    g = RNG.normal(size=shape).astype(np.float32)
    v = lmo.k_sparse_lmo(tf.constant(g), k, r).numpy()
    assert v.shape == shape and v.dtype == np.float32
    value = float(np.sum(g * v))
    for x in random_k_sparse_feasible(n, k, r, 50):
        assert value <= float(np.sum(g.ravel() * x)) + 1e-4
    # Vertex: exactly K non-zeros of magnitude r, signs opposite to g.
    assert np.count_nonzero(v) == k
    np.testing.assert_allclose(np.abs(v[v != 0]), r)
    assert np.all(np.sign(v[v != 0]) == -np.sign(g[v != 0]))


def numpy_k_sparse_lmo(g, k, r):
    flat = g.ravel()
    t = np.sort(np.abs(flat))[::-1][k - 1]
    above, tied = np.abs(flat) > t, np.abs(flat) == t
    share = (k - above.sum()) / tied.sum()
    w = np.where(above, 1.0, np.where(tied, share, 0.0))
    return (-r * np.sign(flat) * w).reshape(g.shape)


def test_ties_get_a_fractional_share_that_is_optimal_and_feasible():
    g = np.array([3.0, -1.0, 1.0, 1.0, -1.0, 0.5])
    k, r = 3, 2.0  # entries 1..4 tie at the 2nd-3rd place: 2 of 4 slots
    v = lmo.k_sparse_lmo(tf.constant(g), k, r).numpy()
    np.testing.assert_allclose(v, [-2.0, 1.0, -1.0, -1.0, 1.0, 0.0])
    best = min(float(g @ vert) for vert in k_sparse_vertices(6, k, r))
    assert g @ v == pytest.approx(best)
    assert np.sum(np.abs(v)) == pytest.approx(r * k)
    # Deterministic and independent of the order of the entries.
    perm = RNG.permutation(6)
    v_perm = lmo.k_sparse_lmo(tf.constant(g[perm]), k, r).numpy()
    np.testing.assert_array_equal(v_perm, v[perm])


@pytest.mark.parametrize("dtype", [tf.float16, tf.bfloat16, tf.float32, tf.float64])
def test_k_sparse_lmo_dtypes_match_numpy(dtype):
    g = RNG.normal(size=(16, 8))
    g_t = tf.cast(tf.constant(g), dtype)
    v = lmo.k_sparse_lmo(g_t, 13, 0.5)
    assert v.dtype == dtype
    expected = numpy_k_sparse_lmo(tf.cast(g_t, tf.float64).numpy(), 13, 0.5)
    np.testing.assert_allclose(tf.cast(v, tf.float64).numpy(), expected, rtol=1e-2)


def test_zero_gradient_gives_zero_vertex():
    for fn in (
        lambda g: lmo.k_sparse_lmo(g, 3, 1.0),
        lambda g: lmo.k_support_lmo(g, 3, 1.0),
        lambda g: lmo.l2_ball_lmo(g, 1.0),
        lambda g: lmo.linf_ball_lmo(g, 1.0),
        lambda g: lmo.lp_ball_lmo(g, 3.0, 1.0),
    ):
        v = fn(tf.zeros([4, 5]))
        assert not np.any(np.isnan(v.numpy()))
        np.testing.assert_array_equal(v.numpy(), 0.0)


def test_xla_compiled_lmos_equal_eager():
    g = tf.constant(RNG.normal(size=(32, 9)).astype(np.float32))
    for fn in (
        lambda x: lmo.k_sparse_lmo(x, 15, 0.3),
        lambda x: lmo.k_support_lmo(x, 15, 0.3),
        lambda x: lmo.l1_ball_lmo(x, 0.3),
        lambda x: lmo.lp_ball_lmo(x, 1.5, 0.3),
    ):
        compiled = tf.function(fn, jit_compile=True)
        np.testing.assert_allclose(compiled(g).numpy(), fn(g).numpy(), rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("p", [1.0, 1.5, 2.0, 3.0, math.inf])
def test_lp_lmo_attains_dual_norm_and_is_feasible(p):
    g = RNG.normal(size=(6, 5))
    r = 1.7
    v = lmo.lp_ball_lmo(tf.constant(g), p, r).numpy()
    q = math.inf if p == 1 else (1.0 if math.isinf(p) else p / (p - 1))
    dual = np.linalg.norm(g.ravel(), ord=q)
    # Hölder: min_{||v||_p <= r} <g, v> = -r ||g||_q.
    assert np.sum(g * v) == pytest.approx(-r * dual, rel=1e-9)
    assert np.linalg.norm(v.ravel(), ord=p) <= r * (1 + 1e-9)
    # And no random feasible point does better.
    for _ in range(100):
        x = RNG.normal(size=g.shape)
        x *= r / np.linalg.norm(x.ravel(), ord=p)
        assert np.sum(g * v) <= np.sum(g * x) + 1e-9


def test_lp_general_formula_agrees_with_closed_forms_near_their_orders():
    g = tf.constant(RNG.normal(size=(50,)))
    np.testing.assert_allclose(lmo.lp_ball_lmo(g, 2.0 + 1e-9, 1.0), lmo.l2_ball_lmo(g, 1.0), atol=1e-6)
    big = lmo.lp_ball_lmo(g, 1e6, 1.0).numpy()
    np.testing.assert_allclose(big, lmo.linf_ball_lmo(g, 1.0).numpy(), atol=1e-4)


def test_l1_lmo_is_a_signed_coordinate_vector():
    g = np.array([[0.1, -4.0], [4.0, 2.0]])
    v = lmo.l1_ball_lmo(tf.constant(g), 3.0).numpy()
    np.testing.assert_array_equal(v, [[0.0, 3.0], [0.0, 0.0]])  # first of the tied maxima


def test_k_support_lmo_attains_dual_norm():
    g = RNG.normal(size=(40,))
    k, r = 5, 2.0
    v = lmo.k_support_lmo(tf.constant(g), k, r).numpy()
    top = np.sort(np.abs(g))[::-1][:k]
    assert g @ v == pytest.approx(-r * np.linalg.norm(top))
    assert np.count_nonzero(v) == k
    assert np.linalg.norm(v) == pytest.approx(r)


def test_k_support_lmo_with_ties_is_optimal():
    g = np.array([2.0, 1.0, -1.0, 1.0])
    v = lmo.k_support_lmo(tf.constant(g), 2, 1.0).numpy()
    assert g @ v == pytest.approx(-math.sqrt(5.0))
    # Average of the three optimal vertices (2, ±1 on one tied entry)/sqrt(5): feasible.
    vertices = [np.array([-2.0, -1, 0, 0]), np.array([-2.0, 0, 1, 0]), np.array([-2.0, 0, 0, -1])]
    np.testing.assert_allclose(v, np.mean(vertices, axis=0) / math.sqrt(5.0))


@pytest.mark.parametrize(
    "radius, n, in_order, out_order, expected",
    [
        (1.0, 100, math.inf, 2.0, 10.0),
        (10.0, 100, 2.0, math.inf, 1.0),
        (3.0, 100, 1.0, 2.0, 3.0),
        (3.0, 16, 2.0, 4.0, 3.0 * 16 ** (0.25 - 0.5)),
    ],
)
def test_convert_lp_radius(radius, n, in_order, out_order, expected):
    assert lmo.convert_lp_radius(radius, n, in_order, out_order) == pytest.approx(expected)


def test_lp_diameter_round_trip():
    for p in (1.0, 1.5, 2.0, 5.0, math.inf):
        r = lmo.lp_radius_from_l2_diameter(lmo.lp_ball_l2_diameter(0.9, 64, p), 64, p)
        assert r == pytest.approx(0.9)
    assert lmo.lp_ball_l2_diameter(1.0, 9, math.inf) == pytest.approx(6.0)  # corner to corner


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: lmo.k_sparse_lmo(tf.ones([4]), 0, 1.0), "k=0"),
        (lambda: lmo.k_sparse_lmo(tf.ones([4]), 5, 1.0), "k=5"),
        (lambda: lmo.k_sparse_lmo(tf.ones([4]), 2.0, 1.0), "k=2.0"),
        (lambda: lmo.k_sparse_lmo(tf.ones([4]), 2, 1.0, selection="sort"), "selection='sort'"),
        (lambda: lmo.lp_ball_lmo(tf.ones([4]), 0.5, 1.0), "p=0.5"),
        (lambda: lmo.convert_lp_radius(1.0, 0), "n=0"),
    ],
)
def test_invalid_arguments_name_the_value(call, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        call()


@pytest.mark.parametrize("dtype", [tf.float32, tf.float64, tf.float16])
@pytest.mark.parametrize("n", [1, 100, 4096 + 37, 128 * 512, 300_001])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_squared_norm_matches_numpy(dtype, n, jit):
    x = np.random.default_rng(n).standard_normal(n) * (0.1 if dtype == tf.float16 else 1.0)
    xt = tf.constant(x.reshape(-1, 1) if n % 2 else x, dtype)
    got = tf.function(lambda: lmo.squared_norm(xt), jit_compile=jit)()
    assert got.dtype == dtype and got.shape == ()
    expected = np.sum(np.square(xt.numpy().astype(np.float64)))
    rtol = {tf.float32: 1e-5, tf.float64: 1e-12, tf.float16: 1e-2}[dtype]
    np.testing.assert_allclose(float(got), expected, rtol=rtol)


@pytest.mark.parametrize("case", ["distinct", "ties", "mostly_zero", "zeros"])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_k_sparse_lmo_branches_equal_the_weighted_formula(case, jit):
    """Graph mode takes the short vertex branch exactly when there is no tie at t > 0."""
    rng = np.random.default_rng(11)
    n, k = 40_000, 2_000
    x = {
        "distinct": rng.standard_normal(n),
        "ties": rng.integers(-20, 21, n) * 0.5,
        "mostly_zero": np.where(rng.random(n) < 0.97, 0.0, rng.standard_normal(n)),
        "zeros": np.zeros(n),
    }[case]
    g = tf.constant(x.reshape(200, 200), tf.float32)
    v = tf.function(lambda: lmo.k_sparse_lmo(g, k, 0.3), jit_compile=jit)().numpy()
    expected = -0.3 * np.sign(g.numpy()) * lmo.top_k_weights(g, k, "topk").numpy()
    np.testing.assert_array_equal(v, expected)
    assert abs(np.abs(v).sum() - 0.3 * min(k, np.count_nonzero(x))) <= 1e-3 * k


# --------------------------------------------------------------------------- mask polytope


def mask_polytope_vertices(n, k):
    """All vertices of {m in [0,1]^n : sum m <= k}: the 0/1 vectors with at most k ones."""
    for bits in itertools.product((0.0, 1.0), repeat=n):
        if sum(bits) <= k:
            yield np.array(bits)


@pytest.mark.parametrize("n", [1, 3, 6])
@pytest.mark.parametrize("dtype", [tf.float32, tf.float64])
def test_mask_polytope_lmo_matches_brute_force_over_all_vertices(n, dtype):
    for k in range(0, n + 1):
        for trial in range(4):
            g = RNG.normal(size=n)
            if trial == 3:
                g = np.round(g)  # ties and zeros
            v = lmo.mask_polytope_lmo(tf.constant(g, dtype), k).numpy()
            assert v.dtype == dtype.as_numpy_dtype and v.shape == (n,)
            assert set(np.unique(v)) <= {0.0, 1.0} and v.sum() <= k
            best = min(float(g @ vert) for vert in mask_polytope_vertices(n, k))
            assert float(g @ v) == pytest.approx(best, abs=1e-6)
            assert np.all(g[v == 1.0] < 0)  # non-negative entries never help


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "xla"])
def test_mask_polytope_lmo_ties_and_shape(jit):
    g = tf.constant([[-1.0, 0.5, -1.0], [-1.0, -3.0, 0.0]])
    run = tf.function(lambda: [lmo.mask_polytope_lmo(g, k) for k in (0, 1, 2, 3, 6)], jit_compile=jit)
    v0, v1, v2, v3, v6 = [v.numpy() for v in run()]
    assert v0.shape == (2, 3) and not v0.any()
    np.testing.assert_array_equal(v1, [[0, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(v2, [[1, 0, 0], [0, 1, 0]])  # among the -1's the lowest index
    np.testing.assert_array_equal(v3, [[1, 0, 1], [0, 1, 0]])
    np.testing.assert_array_equal(v6, [[1, 0, 1], [1, 1, 0]])  # only the negative entries


def test_mask_polytope_lmo_radix_path_equals_topk(monkeypatch):
    from tf_sfw import selection

    g = tf.constant(np.round(RNG.normal(size=3000) * 4) / 4, tf.float32)
    expected = lmo.mask_polytope_lmo(g, 700, "topk").numpy()
    monkeypatch.setattr(selection, "_RADIX_MIN_SIZE", 1)
    np.testing.assert_array_equal(lmo.mask_polytope_lmo(g, 700, "radix").numpy(), expected)
    assert expected.sum() == 700


@pytest.mark.parametrize("k", [-1, 5, 1.0, True])
def test_mask_polytope_lmo_rejects_bad_k(k):
    with pytest.raises(ValueError, match="`k` must be an integer in \\[0, 4\\]"):
        lmo.mask_polytope_lmo(tf.ones([4]), k)
