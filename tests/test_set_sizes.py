"""Tests of tf_sfw.set_sizes: K per variable and the radius / diameter relations."""

import itertools
import math

import numpy as np
import pytest

from tf_sfw import set_sizes


def _k_sparse_vertices(n, k, radius):
    """All vertices of B_1(rK) ∩ B_inf(r) for integer K: r on K coordinates, signs free."""
    out = []
    for support in itertools.combinations(range(n), k):
        for signs in itertools.product((-1.0, 1.0), repeat=k):
            v = np.zeros(n)
            v[list(support)] = radius * np.asarray(signs)
            out.append(v)
    return np.array(out)


@pytest.mark.parametrize("n,k", [(3, 1), (4, 2), (5, 3), (4, 4)])
@pytest.mark.parametrize("radius", [0.5, 2.0])
def test_k_sparse_l2_diameter_is_the_largest_vertex_distance(n, k, radius):
    # The diameter of a polytope is attained between two vertices: brute force over all pairs.
    v = _k_sparse_vertices(n, k, radius)
    brute = max(np.linalg.norm(a - b) for a in v for b in v)
    assert set_sizes.k_sparse_l2_diameter(radius, k) == pytest.approx(brute)
    assert set_sizes.k_sparse_radius(brute, k) == pytest.approx(radius)


@pytest.mark.parametrize(
    "k,k_frac,n,expected",
    [
        (10, 0.05, 1000, 50),  # floor(0.05 * 1000) > 10
        (10, 0.05, 100, 10),  # max(10, 5) = 10
        (10, 0.05, 4, 4),  # clamped to n
        (None, 0.05, 10, 1),  # floor(0.5) = 0 -> clamped to 1
        (None, 0.5, 9, 4),
        (3, None, 10, 3),
        (30, None, 10, 10),
    ],
)
def test_k_for(k, k_frac, n, expected):
    assert set_sizes.k_for(k, k_frac, n) == expected


@pytest.mark.parametrize("k_frac", [0.01, 0.05, 0.3, 1.0])
@pytest.mark.parametrize("n", [1, 7, 64, 1001])
def test_k_for_stays_in_range_and_matches_the_formula(k_frac, n):
    k = set_sizes.k_for(10, k_frac, n)
    assert 1 <= k <= n
    assert k == max(1, min(max(10, math.floor(k_frac * n)), n))


@pytest.mark.parametrize(
    "k,k_frac,message",
    [
        (None, None, "At least one of `k` and `k_frac`"),
        (0, 0.05, "k=0"),
        (2.5, 0.05, "k=2.5"),
        (10, 0.0, "k_frac=0.0"),
        (10, 1.5, "k_frac=1.5"),
    ],
)
def test_check_k_rejects(k, k_frac, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        set_sizes.check_k(k, k_frac)


@pytest.mark.parametrize("mode,name", [("radius", "radius"), ("diameter", "diameter"), ("initialization", "tau")])
@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "x"])
def test_check_mode_value_names_the_quantity(mode, name, value):
    with pytest.raises(ValueError, match=f"the {name} for mode='{mode}'"):
        set_sizes.check_mode_value(mode, value)


def test_check_mode_value_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        set_sizes.check_mode_value("volume", 1.0)


@pytest.mark.parametrize("tau,norm,expected", [(15.0, 2.0, 60.0), (15.0, 0.0, 30.0), (2.0, None, 4.0)])
def test_initialization_diameter(tau, norm, expected):
    assert set_sizes.initialization_diameter(tau, norm) == pytest.approx(expected)
