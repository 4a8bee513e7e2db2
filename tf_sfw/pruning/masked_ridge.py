r"""Column-wise ridge least squares with a fixed zero pattern (NumPy only).

For every output column :math:`j` with kept rows :math:`S_j` (``mask[:, j] == 1``):

.. math::
    (G_{S_j S_j} + \lambda I)\,\beta_{S_j} = t_{S_j} + \lambda \beta^0_{S_j}, \qquad
    \beta_i = 0 \ (i \notin S_j), \qquad
    \lambda = \text{damping} \cdot \overline{\operatorname{diag} G},

the minimiser of :math:`\|\tilde X \beta - y_j\|^2 + \lambda \|\beta - \beta^0_j\|^2` over
:math:`\beta` supported on :math:`S_j` when :math:`G = \tilde X^\top \tilde X` and
:math:`t = \tilde X^\top Y`. Columns with at most ``max_unknowns`` kept rows are solved
exactly (one linear system each); larger ones by conjugate gradients started at
:math:`\beta^0` (all such columns at once, each with its own step sizes), to a relative
residual ``tol`` or ``cg_iterations`` steps. Used by the layer-wise reconstruction of
`tf_sfw.pruning.reconstruction`.
"""

import numpy as np

from tf_sfw import validation

__all__ = ["solve_masked_ridge"]


def _ridge(gram, damping):
    return damping * float(np.mean(np.diag(gram)))


def _solve_columns_exactly(gram, target, mask, prior, lam, columns, out):
    for j in columns:
        kept = np.flatnonzero(mask[:, j])
        if kept.size:
            system = gram[np.ix_(kept, kept)] + lam * np.eye(kept.size)
            out[kept, j] = np.linalg.solve(system, target[kept, j] + lam * prior[kept, j])


def _solve_columns_by_cg(gram, target, mask, prior, lam, columns, out, iterations, tol):
    """Conjugate gradients on every column of ``columns`` at once (each with its own step sizes)."""
    m = mask[:, columns]
    rhs = m * (target[:, columns] + lam * prior[:, columns])
    x = m * prior[:, columns]

    def apply(v):
        return m * (gram @ v + lam * v)

    r = rhs - apply(x)
    p = r.copy()
    rs = np.sum(r * r, axis=0)
    stop = (tol**2) * np.maximum(np.sum(rhs * rhs, axis=0), np.finfo(np.float64).tiny)
    for _ in range(iterations):
        if np.all(rs <= stop):
            break
        ap = apply(p)
        curvature = np.sum(p * ap, axis=0)
        alpha = np.where(curvature > 0, rs / np.where(curvature > 0, curvature, 1.0), 0.0)
        x += alpha * p
        r -= alpha * ap
        rs_new = np.sum(r * r, axis=0)
        p = r + np.where(rs > 0, rs_new / np.where(rs > 0, rs, 1.0), 0.0) * p
        rs = rs_new
    out[:, columns] = x


def solve_masked_ridge(gram, target, mask, prior, damping=0.01, max_unknowns=2048, cg_iterations=300, tol=1e-8):
    r"""Per column :math:`j`: :math:`(G_{SS} + \lambda I)\beta_S = t_S + \lambda \beta^0_S` on the
    rows :math:`S` where ``mask[:, j]`` is 1, :math:`\beta` zero elsewhere,
    :math:`\lambda = \text{damping} \cdot \overline{\operatorname{diag} G}`.

    Args:
        gram: ``(p, p)`` symmetric positive semi-definite :math:`G`.
        target: ``(p, m)`` right-hand sides :math:`t`.
        mask: ``(p, m)`` 0/1 array, the entries that may be non-zero.
        prior: ``(p, m)`` :math:`\beta^0`, the solution the ridge term pulls towards.
        damping: :math:`> 0`, the ridge relative to the mean diagonal of ``gram``.
        max_unknowns: Columns with at most this many kept rows are solved exactly (one linear
            system each); the others by conjugate gradients from ``prior``.
        cg_iterations, tol: Conjugate-gradient budget and relative residual.

    Returns:
        ``(p, m)`` float64 :math:`\beta` (exactly zero where ``mask`` is 0).
    """
    gram = np.asarray(gram, np.float64)
    target, prior = np.asarray(target, np.float64), np.asarray(prior, np.float64)
    mask = np.asarray(mask) != 0
    p = gram.shape[0]
    if gram.shape != (p, p) or target.ndim != 2 or target.shape[0] != p or mask.shape != target.shape \
            or prior.shape != target.shape:
        raise ValueError(f"`gram` must be (p, p) and `target`, `mask`, `prior` (p, m). Received shapes: gram "
                         f"{gram.shape}, target {target.shape}, mask {mask.shape}, prior {prior.shape}")
    damping = validation.check_positive_number(damping, "damping")
    validation.check_int(max_unknowns, "max_unknowns", minimum=0)
    validation.check_positive_int(cg_iterations, "cg_iterations")
    validation.check_positive_number(tol, "tol")
    lam = _ridge(gram, damping)
    if not lam > 0:
        lam = damping  # an all-zero calibration input: the prior is the solution
    out = np.zeros_like(target)
    counts = mask.sum(axis=0)
    small = np.flatnonzero(counts <= max_unknowns)
    large = np.flatnonzero(counts > max_unknowns)
    _solve_columns_exactly(gram, target, mask, prior, lam, small, out)
    if large.size:
        _solve_columns_by_cg(gram, target, mask, prior, lam, large, out, cg_iterations, tol)
    return out
