"""Tests for tf_sfw.pruning.greedy_channels (greedy least-squares channel removal, NumPy only)."""

import numpy as np
import pytest

from tf_sfw.pruning.greedy_channels import greedy_removal_order


def _problem(rng, rows, channels, positions, outputs):
    """Input rows whose feature ``p·C + c`` is channel ``c`` at position ``p``, and a weight matrix."""
    x = rng.normal(size=(rows, positions * channels)) * rng.uniform(0.2, 2.0, positions * channels)
    return x, rng.normal(size=(positions * channels, outputs))


def _residual(x, w, kept_rows, damping):
    """Brute force: the least-squares error of refitting the kept rows of ``w`` to ``x @ w`` on the
    damped problem (``x`` stacked over ``sqrt(λ)·I``, whose Gram matrix is ``XᵀX + λI``)."""
    lam = damping * np.mean(np.sum(x**2, axis=0))
    augmented = np.concatenate([x, np.sqrt(lam) * np.eye(x.shape[1])])
    target = augmented @ w
    fit, *_ = np.linalg.lstsq(augmented[:, kept_rows], target, rcond=None)
    return float(np.sum((augmented[:, kept_rows] @ fit - target) ** 2))


def _brute_force_order(problems, channels, damping):
    """Remove, one at a time, the channel leaving the least total refit error (checked by lstsq)."""
    alive, order, costs, before = list(range(channels)), [], [], 0.0
    while len(alive) > 1:
        totals = []
        for c in alive:
            keep = [a for a in alive if a != c]
            totals.append(sum(_residual(x, w, np.flatnonzero(np.isin(np.arange(x.shape[1]) % channels, keep)), damping)
                              for x, w in problems))
        best = min(range(len(alive)), key=lambda i: (totals[i], -alive[i]))
        costs.append(totals[best] - before)
        before = totals[best]
        order.append(alive.pop(best))
    return order + alive, costs


@pytest.mark.parametrize("channels, positions, consumers", [(4, 1, 1), (5, 3, 1), (6, 4, 2), (3, 9, 3)])
@pytest.mark.parametrize("damping", [0.01, 0.5])
def test_order_and_costs_match_brute_force_least_squares(channels, positions, consumers, damping):
    rng = np.random.default_rng(channels * 10 + positions)
    problems = [_problem(rng, 60, channels, positions, outputs=3 + i) for i in range(consumers)]
    order, costs = greedy_removal_order([x.T @ x for x, _ in problems], [w for _, w in problems], channels, damping)
    expected_order, expected_costs = _brute_force_order(problems, channels, damping)
    np.testing.assert_array_equal(order, expected_order)
    np.testing.assert_allclose(costs[:-1], expected_costs, rtol=1e-6, atol=1e-8)
    assert costs[-1] == 0.0 and order.dtype == np.int64


@pytest.mark.parametrize("channels", [1, 2, 7])
def test_order_is_a_permutation(channels):
    rng = np.random.default_rng(channels)
    x, w = _problem(rng, 30, channels, 2, 4)
    order, costs = greedy_removal_order([x.T @ x], [w], channels)
    assert sorted(order.tolist()) == list(range(channels)) and costs.shape == (channels,)
    assert np.all(costs[:-1] >= 0)


def test_a_channel_the_others_can_replace_goes_first():
    """Channel 2 is a copy of channel 0 (the refit moves one's weights onto the other): removing one of
    them costs almost nothing, although their weights are ten times the others'."""
    rng = np.random.default_rng(3)
    x = rng.normal(size=(50, 4))
    x[:, 2] = x[:, 0]
    w = rng.normal(size=(4, 2))
    w[[0, 2]] *= 10.0
    order, costs = greedy_removal_order([x.T @ x], [w], 4, damping=1e-6)
    assert order[0] in (0, 2) and costs[0] < 0.01 * costs[1]


def test_equal_costs_remove_the_higher_index_first():
    """Orthonormal inputs and weights of equal magnitude: every step costs the same, ties go to the higher index."""
    gram = np.eye(6)
    kernel = np.array([[1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0], [1.0, -1.0], [1.0, 1.0]])
    order, costs = greedy_removal_order([gram], [kernel], 6)
    np.testing.assert_array_equal(order, [5, 4, 3, 2, 1, 0])
    np.testing.assert_allclose(costs[:-1], 2 * 1.01)


def test_relabelling_channels_relabels_the_order_and_scaling_weights_scales_the_costs():
    rng = np.random.default_rng(7)
    channels, positions = 5, 2
    x, w = _problem(rng, 80, channels, positions, 3)
    order, costs = greedy_removal_order([x.T @ x], [w], channels)
    perm = rng.permutation(channels)  # new channel j is old channel perm[j]
    features = (np.arange(positions)[:, None] * channels + perm[None, :]).ravel()
    new_order, new_costs = greedy_removal_order([x[:, features].T @ x[:, features]], [3.0 * w[features]], channels)
    np.testing.assert_array_equal(perm[new_order], order)
    np.testing.assert_allclose(new_costs, 9.0 * costs, rtol=1e-8)


@pytest.mark.parametrize("grams, kernels, channels, damping, match", [
    ([], [], 2, 0.01, "equally long non-empty"),
    ([np.eye(4)], [np.ones((4, 2)), np.ones((4, 2))], 2, 0.01, "equally long"),
    ([np.eye(4)], [np.ones((3, 2))], 2, 0.01, r"Consumer 0.*\(4, 4\) and \(3, 2\)"),
    ([np.eye(4)], [np.ones((4, 2))], 3, 0.01, "multiple of channels=3"),
    ([np.full((4, 4), np.nan)], [np.ones((4, 2))], 2, 0.01, "finite"),
    ([np.eye(4)], [np.ones((4, 2))], 0, 0.01, "channels"),
    ([np.eye(4)], [np.ones((4, 2))], 2, 0.0, "damping"),
])
def test_arguments_are_validated(grams, kernels, channels, damping, match):
    with pytest.raises(ValueError, match=match):
        greedy_removal_order(grams, kernels, channels, damping)
