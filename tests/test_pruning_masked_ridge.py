"""tf_sfw.pruning.masked_ridge: column-wise masked ridge least squares against NumPy lstsq."""

import numpy as np
import pytest

from tf_sfw.pruning.masked_ridge import solve_masked_ridge


def _lstsq_column(x, y, kept, prior, lam):
    """argmin ‖x[:, kept] β − y‖² + λ‖β − prior[kept]‖² by lstsq on the stacked system."""
    a = np.vstack([x[:, kept], np.sqrt(lam) * np.eye(kept.size)])
    b = np.concatenate([y, np.sqrt(lam) * prior[kept]])
    return np.linalg.lstsq(a, b, rcond=None)[0]


def reference_solution(x, y, mask, prior, damping):
    """Column-wise reference of solve_masked_ridge for the design ``x`` and targets ``y``."""
    lam = damping * np.mean(np.sum(x * x, axis=0))
    out = np.zeros(mask.shape)
    for j in range(mask.shape[1]):
        kept = np.flatnonzero(mask[:, j])
        if kept.size:
            out[kept, j] = _lstsq_column(x, y[:, j], kept, prior[:, j], lam)
    return out


@pytest.mark.parametrize("p,m", [(6, 3), (20, 5)])
@pytest.mark.parametrize("damping", [0.01, 0.5])
@pytest.mark.parametrize("max_unknowns", [2048, 0])  # exact solves, conjugate gradients
def test_solve_masked_ridge_matches_lstsq(p, m, damping, max_unknowns):
    rng = np.random.default_rng(p + m)
    x = rng.normal(size=(40, p)) @ rng.normal(size=(p, p))  # correlated columns
    y = rng.normal(size=(40, m))
    mask = (rng.random((p, m)) < 0.5).astype(float)
    mask[:, 0] = 0  # an empty column stays zero
    prior = rng.normal(size=(p, m)) * mask
    got = solve_masked_ridge(x.T @ x, x.T @ y, mask, prior, damping, max_unknowns=max_unknowns)
    np.testing.assert_allclose(got, reference_solution(x, y, mask, prior, damping), rtol=1e-6, atol=1e-8)
    assert np.all(got[mask == 0] == 0)


def test_solve_masked_ridge_rejects_bad_arguments():
    g, t = np.eye(3), np.zeros((3, 2))
    with pytest.raises(ValueError, match="Received shapes"):
        solve_masked_ridge(g, np.zeros((4, 2)), np.ones((4, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="damping"):
        solve_masked_ridge(g, t, np.ones((3, 2)), t, damping=0.0)
    with pytest.raises(ValueError, match="max_unknowns"):
        solve_masked_ridge(g, t, np.ones((3, 2)), t, max_unknowns=-1)
