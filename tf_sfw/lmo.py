r"""Linear minimization oracles (LMOs) and radius conversions, as pure tensor functions.

Every function here is stateless, deterministic, works on tensors of any static shape
and is XLA-compilable (no data-dependent shapes, no Python loops over data).

For a convex compact set :math:`C` the LMO returns

.. math::  \mathrm{LMO}_C(g) = \operatorname{argmin}_{v \in C} \langle g, v \rangle .

Sets (``n`` = number of entries of ``g``):

* K-sparse polytope :math:`B_1(rK) \cap B_\infty(r)`: :math:`v_i = -r\,\mathrm{sign}(g_i)` on the
  ``K`` entries of largest :math:`|g_i|`, 0 elsewhere.
* K-support norm ball of radius ``r``: :math:`v = -r\, g_{\mathrm{top}K} / \|g_{\mathrm{top}K}\|_2`.
* :math:`L_p` balls of radius ``r``, with :math:`q = p/(p-1)` the dual order:
  :math:`v = -r\,\mathrm{sign}(g)\,|g|^{q-1} / \|g\|_q^{q-1}` (closed forms for p = 1, 2, ∞).

Ties. Where several entries share the K-th largest magnitude, the top-K LMOs give every
tied entry the same fractional share ``(K - #{|g_i| > t}) / #{|g_i| = t}`` of a full
entry (``t`` the K-th largest magnitude). The result is the average of all optimal
vertices that differ only in which tied entries they pick, so it is optimal and feasible,
and it does not depend on the order of the entries. Without ties it is exactly the vertex.
An all-zero ``g`` gives ``v = 0`` (optimal: every point of ``C`` is).
"""

import math

import tensorflow as tf

__all__ = [
    "SELECTIONS",
    "kth_largest_magnitude",
    "top_k_weights",
    "k_sparse_lmo",
    "k_support_lmo",
    "l1_ball_lmo",
    "l2_ball_lmo",
    "linf_ball_lmo",
    "lp_ball_lmo",
    "convert_lp_radius",
    "lp_ball_l2_diameter",
    "lp_radius_from_l2_diameter",
]

#: Algorithms for the K-th largest magnitude (see `kth_largest_magnitude`).
SELECTIONS = ("topk",)


def _check_k(k, n):
    if not isinstance(k, int) or isinstance(k, bool):
        raise ValueError(f"`k` must be a Python int (static). Received: k={k!r}")
    if not 1 <= k <= n:
        raise ValueError(f"`k` must be in [1, n={n}]. Received: k={k}")


def _num_elements(x):
    n = x.shape.num_elements()
    if n is None:
        raise ValueError(f"The input must have a fully static shape. Received shape: {x.shape}")
    return n


def kth_largest_magnitude(x, k, selection="topk"):
    r"""The K-th largest value of :math:`|x|` over all entries of ``x`` (a scalar).

    Args:
        x: Tensor of any static shape and floating dtype.
        k: Python int in ``[1, x.size]``.
        selection: ``"topk"`` uses ``tf.math.top_k`` on the flattened magnitudes.

    Returns:
        Scalar tensor of ``x.dtype``: :math:`t` with :math:`\#\{|x_i| \ge t\} \ge K` and
        :math:`\#\{|x_i| > t\} < K`.
    """
    n = _num_elements(x)
    _check_k(k, n)
    if selection not in SELECTIONS:
        raise ValueError(f"`selection` must be one of {SELECTIONS}. Received: selection={selection!r}")
    magnitudes = tf.reshape(tf.abs(x), [-1])
    return tf.reduce_min(tf.math.top_k(magnitudes, k=k, sorted=False).values)


def top_k_weights(x, k, selection="topk"):
    r"""Weights in [0, 1] that select the K largest-magnitude entries of ``x``.

    .. math::
        w_i = \begin{cases} 1 & |x_i| > t \\ (K - c_>)/c_= & |x_i| = t \\ 0 & |x_i| < t \end{cases}

    with :math:`t` the K-th largest magnitude, :math:`c_> = \#\{|x_i| > t\}` and
    :math:`c_= = \#\{|x_i| = t\}`. Always :math:`\sum_i w_i = K`.

    Returns:
        Tensor of the shape and dtype of ``x``.
    """
    t = kth_largest_magnitude(x, k, selection)
    magnitudes = tf.abs(x)
    above = magnitudes > t
    tied = tf.equal(magnitudes, t)
    count_above = tf.reduce_sum(tf.cast(above, tf.float32))
    count_tied = tf.reduce_sum(tf.cast(tied, tf.float32))
    share = tf.cast((float(k) - count_above) / count_tied, x.dtype)
    one = tf.ones_like(x)
    return tf.where(above, one, tf.where(tied, share * one, tf.zeros_like(x)))


def k_sparse_lmo(g, k, radius, selection="topk"):
    r"""LMO of the K-sparse polytope :math:`B_1(rK) \cap B_\infty(r)`.

    .. math::  v_i = -r\,\mathrm{sign}(g_i)\,w_i, \quad w = \texttt{top\_k\_weights}(g, K).

    Args:
        g: Gradient tensor (any static shape).
        k: Python int ``K`` in ``[1, g.size]``.
        radius: ``r > 0`` (Python float or scalar tensor).
        selection: Algorithm for the K-th largest magnitude.

    Returns:
        ``v`` with the shape and dtype of ``g``.
    """
    weights = top_k_weights(g, k, selection)
    return (-tf.cast(radius, g.dtype)) * tf.sign(g) * weights


def k_support_lmo(g, k, radius, selection="topk"):
    r"""LMO of the K-support norm ball of radius ``r`` (Zimmer et al. 2022).

    The dual norm is the L2 norm of the K largest-magnitude entries, so

    .. math::  v = -r\, (w \odot g) / \|g_{\mathrm{top}K}\|_2, \quad
               \|g_{\mathrm{top}K}\|_2^2 = \textstyle\sum_i w_i g_i^2,

    with ``w`` from `top_k_weights` (ties share, which keeps ``v`` feasible and optimal).
    ``g = 0`` gives ``v = 0``.
    """
    weights = top_k_weights(g, k, selection)
    selected = weights * g
    norm = tf.sqrt(tf.reduce_sum(weights * tf.square(g)))
    return (-tf.cast(radius, g.dtype)) * tf.math.divide_no_nan(selected, norm)


def l1_ball_lmo(g, radius):
    r"""LMO of the L1 ball: :math:`v = -r\,\mathrm{sign}(g_i)\,e_i`, :math:`i = \operatorname{argmax}|g_i|`.

    The first index among equal magnitudes is taken (deterministic).
    """
    n = _num_elements(g)
    flat = tf.reshape(g, [-1])
    index = tf.argmax(tf.abs(flat), output_type=tf.int32)
    one_hot = tf.one_hot(index, n, dtype=g.dtype)
    return tf.reshape((-tf.cast(radius, g.dtype)) * tf.sign(flat) * one_hot, tf.shape(g))


def l2_ball_lmo(g, radius):
    r"""LMO of the L2 ball: :math:`v = -r\, g / \|g\|_2` (0 where ``g = 0``)."""
    return (-tf.cast(radius, g.dtype)) * tf.math.divide_no_nan(g, tf.norm(g))


def linf_ball_lmo(g, radius):
    r"""LMO of the L∞ ball: :math:`v = -r\,\mathrm{sign}(g)`."""
    return (-tf.cast(radius, g.dtype)) * tf.sign(g)


def lp_ball_lmo(g, p, radius):
    r"""LMO of the Lp ball of radius ``r`` for any order ``p >= 1`` (``math.inf`` allowed).

    .. math::  v = -r\,\mathrm{sign}(g) \left(\frac{|g|}{\|g\|_q}\right)^{q-1}, \quad
               \tfrac{1}{p} + \tfrac{1}{q} = 1,

    computed in the scaled form above for numerical stability; p = 1, 2, ∞ use the
    closed forms.
    """
    p = _check_order(p)
    if p == 1:
        return l1_ball_lmo(g, radius)
    if p == 2:
        return l2_ball_lmo(g, radius)
    if math.isinf(p):
        return linf_ball_lmo(g, radius)
    q = p / (p - 1.0)
    magnitudes = tf.abs(g)
    # ||g||_q computed after dividing by max|g| to avoid overflow of |g|^q.
    scale = tf.reduce_max(magnitudes)
    scaled = tf.math.divide_no_nan(magnitudes, scale)
    norm_q = tf.pow(tf.reduce_sum(tf.pow(scaled, q)), 1.0 / q)
    direction = tf.pow(tf.math.divide_no_nan(scaled, norm_q), q - 1.0)
    return (-tf.cast(radius, g.dtype)) * tf.sign(g) * direction


def _check_order(p):
    if isinstance(p, bool) or not isinstance(p, (int, float)) or math.isnan(p) or p < 1:
        raise ValueError(f"`p` must be a number >= 1 (or math.inf). Received: p={p!r}")
    return float(p)


def _inverse_order(p):
    """1/p, with 1/1 replaced by 1/2 as in the reference `convert_lp_radius`."""
    if math.isinf(p):
        return 0.0
    if p == 1:
        return 0.5
    return 1.0 / p


def convert_lp_radius(radius, n, in_order=2.0, out_order=math.inf):
    r"""Convert a radius between Lp orders so that the L2 diameter stays equal in n dims.

    .. math::  r_{out} = r_{in} \cdot n^{1/\mathrm{out} - 1/\mathrm{in}},

    with 1/1 replaced by 1/2 (the reference's rule: the L1 ball of radius r has L2 diameter
    2r, like the L2 ball).
    """
    in_order, out_order = _check_order(in_order), _check_order(out_order)
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"`n` must be a positive int. Received: n={n!r}")
    return float(radius) * n ** (_inverse_order(out_order) - _inverse_order(in_order))


def lp_ball_l2_diameter(radius, n, p):
    """L2 diameter of the Lp ball of radius ``radius`` in ``n`` dims (reference formula)."""
    return 2.0 * convert_lp_radius(radius, n, in_order=p, out_order=2.0)


def lp_radius_from_l2_diameter(diameter, n, p):
    """Inverse of `lp_ball_l2_diameter`."""
    return convert_lp_radius(diameter / 2.0, n, in_order=2.0, out_order=p)
