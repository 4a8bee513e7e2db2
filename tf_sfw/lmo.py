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
* Relaxed mask polytope :math:`M_K = \{m \in [0,1]^n : \sum_i m_i \le K\}` (Frank-Wolfe
  pruning): :math:`v_i = 1` on the (at most) ``K`` most negative entries :math:`g_i < 0`.

Ties. Where several entries share the K-th largest magnitude, the K-sparse and K-support
LMOs give every tied entry the same fractional share ``(K - #{|g_i| > t}) / #{|g_i| = t}``
of a full entry (``t`` the K-th largest magnitude; `tf_sfw.selection.top_k_weights`). The
result is the average of all optimal vertices that differ only in which tied entries they
pick, so it is optimal and feasible, and it does not depend on the order of the entries.
Without ties it is exactly the vertex. An all-zero ``g`` gives ``v = 0`` (optimal: every
point of ``C`` is). The mask-polytope LMO returns a binary vertex instead (its iterates
are rounded to binary masks): among tied entries it takes the lower flat index, the tie
rule of every binary top-K mask in the package (`tf_sfw.selection`); so does the L1 LMO.
All selection (K-th largest magnitude, radix or ``tf.math.top_k``) is in `tf_sfw.selection`.

The tensor functions take an optional ``ops``, the op namespace they run on (TensorFlow by
default, `tf_sfw.keras3._ops` for Keras 3; see `tf_sfw.selection`).
"""

import math

from tf_sfw import selection as selection_lib
from tf_sfw import validation
from tf_sfw.selection import DEFAULT_SELECTION, SELECTIONS, kth_largest_magnitude, top_k_weights

__all__ = [
    "SELECTIONS",
    "DEFAULT_SELECTION",
    "kth_largest_magnitude",
    "top_k_weights",
    "k_sparse_lmo",
    "k_support_lmo",
    "l1_ball_lmo",
    "l2_ball_lmo",
    "linf_ball_lmo",
    "lp_ball_lmo",
    "mask_polytope_lmo",
    "squared_norm",
    "lp_norm",
    "radial_rescale",
    "k_sparse_gauge",
    "k_support_norm_bound",
    "convert_lp_radius",
    "lp_ball_l2_diameter",
    "lp_radius_from_l2_diameter",
]

_get_ops = selection_lib.get_ops


def as_scalar(value, dtype, ops=None):
    """``value`` as a scalar tensor of ``dtype`` (Python numbers are not rounded through float32)."""
    ops = _get_ops(ops)
    if isinstance(value, (int, float)):
        return ops.constant(value, dtype=dtype)
    return ops.cast(value, dtype)


def squared_norm(x, ops=None):
    r""":math:`\|x\|_2^2 = \sum_i x_i^2` over all entries of ``x`` (a scalar of ``x.dtype``).

    Same value as ``tf.reduce_sum(tf.square(x))`` up to the summation order, formulated for
    speed in each mode (float32; other dtypes use that plain form): without XLA the fused
    ``tf.nn.l2_loss`` kernel (one multi-threaded pass, no temporary); under XLA, whose CPU
    reductions run on one thread, the squares of the first ``128·⌊n/128⌋`` entries are
    summed as a matrix-vector product :math:`\mathbf{1}^\top (X \odot X)\,\mathbf{1}` with
    ``X`` of shape ``[n/128, 128]`` (a multi-threaded GEMV, ~4× faster on 2 CPU cores),
    the rest by a plain reduction (`tf_sfw._tf_ops.squared_norm`). Other op namespaces
    give their own form of the same sum.
    """
    return _get_ops(ops).squared_norm(x)


def k_sparse_lmo(g, k, radius, selection=DEFAULT_SELECTION, ops=None):
    r"""LMO of the K-sparse polytope :math:`B_1(rK) \cap B_\infty(r)`.

    .. math::  v_i = -r\,\mathrm{sign}(g_i)\,w_i, \quad w = \texttt{top\_k\_weights}(g, K).

    Without XLA and with radix selection, the usual case of no tie at a nonzero threshold
    (:math:`c_= = 1`, so ``w`` is the 0/1 indicator of :math:`|g_i| \ge t`) takes a shorter
    branch of a ``tf.cond`` (four elementwise ops instead of seven, the same values). Under
    XLA the single formula fuses into one pass, and a branch would only add one.

    Args:
        g: Gradient tensor (any static shape).
        k: Python int ``K`` in ``[1, g.size]``.
        radius: ``r > 0`` (Python float or scalar tensor).
        selection: Algorithm for the K-th largest magnitude.
        ops: Op namespace (default TensorFlow).

    Returns:
        ``v`` with the shape and dtype of ``g``.
    """
    ops = _get_ops(ops)
    g, radix = selection_lib.uses_radix(g, k, selection, ops)
    dtype = ops.dtype(g)
    neg_radius = -as_scalar(radius, dtype, ops)
    if not radix or ops.in_xla_context():
        return neg_radius * ops.sign(g) * top_k_weights(g, k, selection, ops)
    bits, t_bits, t_top_bits, count_above, count_tied = selection_lib.radix_parts(g, k, ops)

    def vertex():
        return ops.where(bits >= t_bits, neg_radius * ops.sign(g), ops.zeros([], dtype))

    def general():
        weights = selection_lib.tie_weights(k, dtype, bits > t_top_bits, bits >= t_bits, count_above, count_tied, ops)
        return neg_radius * ops.sign(g) * weights

    return ops.cond(ops.equal(count_tied, 1.0) & ops.equal(t_bits, t_top_bits), vertex, general)


def k_support_lmo(g, k, radius, selection=DEFAULT_SELECTION, ops=None):
    r"""LMO of the K-support norm ball of radius ``r`` (Zimmer et al. 2022).

    The dual norm is the L2 norm of the K largest-magnitude entries, so

    .. math::  v = -r\, (w \odot g) / \|g_{\mathrm{top}K}\|_2, \quad
               \|g_{\mathrm{top}K}\|_2^2 = \textstyle\sum_i w_i g_i^2,

    with ``w`` from `top_k_weights` (ties share, which keeps ``v`` feasible and optimal).
    ``g = 0`` gives ``v = 0``.
    """
    ops = _get_ops(ops)
    weights = top_k_weights(g, k, selection, ops)
    selected = weights * g
    norm = ops.sqrt(ops.reduce_sum(weights * ops.square(g)))
    return (-as_scalar(radius, ops.dtype(g), ops)) * ops.divide_no_nan(selected, norm)


def lp_norm(x, p, ops=None):
    r""":math:`\|x\|_p` over all entries (``p >= 1``, ``math.inf`` allowed)."""
    ops = _get_ops(ops)
    return ops.lp_norm(x, check_order(p))


def l1_ball_lmo(g, radius, ops=None):
    r"""LMO of the L1 ball: :math:`v = -r\,\mathrm{sign}(g_i)\,e_i`, :math:`i = \operatorname{argmax}|g_i|`.

    The first index among equal magnitudes is taken (deterministic).
    """
    ops = _get_ops(ops)
    n = ops.num_elements(g)
    dtype = ops.dtype(g)
    flat = ops.reshape(g, [-1])
    index = ops.argmax(ops.abs(flat))
    one_hot = ops.one_hot(index, n, dtype=dtype)
    return ops.reshape((-as_scalar(radius, dtype, ops)) * ops.sign(flat) * one_hot, ops.shape(g))


def l2_ball_lmo(g, radius, ops=None):
    r"""LMO of the L2 ball: :math:`v = -r\, g / \|g\|_2` (0 where ``g = 0``)."""
    ops = _get_ops(ops)
    return (-as_scalar(radius, ops.dtype(g), ops)) * ops.divide_no_nan(g, ops.norm(g))


def linf_ball_lmo(g, radius, ops=None):
    r"""LMO of the L∞ ball: :math:`v = -r\,\mathrm{sign}(g)`."""
    ops = _get_ops(ops)
    return (-as_scalar(radius, ops.dtype(g), ops)) * ops.sign(g)


def lp_ball_lmo(g, p, radius, ops=None):
    r"""LMO of the Lp ball of radius ``r`` for any order ``p >= 1`` (``math.inf`` allowed).

    .. math::  v = -r\,\mathrm{sign}(g) \left(\frac{|g|}{\|g\|_q}\right)^{q-1}, \quad
               \tfrac{1}{p} + \tfrac{1}{q} = 1,

    computed in the scaled form above for numerical stability; p = 1, 2, ∞ use the
    closed forms.
    """
    ops = _get_ops(ops)
    p = check_order(p)
    if p == 1:
        return l1_ball_lmo(g, radius, ops)
    if p == 2:
        return l2_ball_lmo(g, radius, ops)
    if math.isinf(p):
        return linf_ball_lmo(g, radius, ops)
    q = p / (p - 1.0)
    magnitudes = ops.abs(g)
    # ||g||_q computed after dividing by max|g| to avoid overflow of |g|^q.
    scale = ops.reduce_max(magnitudes)
    scaled = ops.divide_no_nan(magnitudes, scale)
    norm_q = ops.pow(ops.reduce_sum(ops.pow(scaled, q)), 1.0 / q)
    direction = ops.pow(ops.divide_no_nan(scaled, norm_q), q - 1.0)
    return (-as_scalar(radius, ops.dtype(g), ops)) * ops.sign(g) * direction


def mask_polytope_lmo(g, k, selection=DEFAULT_SELECTION, ops=None):
    r"""LMO of the relaxed mask polytope :math:`M_K = \{m \in [0,1]^n : \sum_i m_i \le K\}`.

    .. math::  v = \operatorname{argmin}_{m \in M_K} \langle g, m \rangle :\quad
               v_i = 1 \text{ for the (at most) } K \text{ most negative } g_i < 0,
               \ 0 \text{ otherwise.}

    :math:`M_K` is an integral polytope (its vertices are the 0/1 vectors with at most
    ``K`` ones), so a binary ``v`` is optimal: entries with :math:`g_i \ge 0` cannot lower
    the linear objective and are never selected. Computed as the top-K magnitude mask of
    :math:`\max(-g, 0)` (`tf_sfw.selection.top_k_magnitude_mask`: among equal gradients the
    lower flat index is taken) times :math:`[g_i < 0]`. This is the LMO of Frank-Wolfe
    pruning over masks (Miao et al., ICLR 2022, "Learning Pruning-Friendly Networks via
    Frank-Wolfe: One-Shot, Any-Sparsity, and No Retraining").

    Args:
        g: Gradient with respect to the mask (any static shape, floating dtype).
        k: Python int ``K`` in ``[0, g.size]`` (``0`` gives ``v = 0``).
        selection: Algorithm for the K-th largest magnitude.

    Returns:
        0/1 tensor ``v`` with the shape and dtype of ``g``.
    """
    ops = _get_ops(ops)
    g = ops.convert_to_tensor(g)
    k = selection_lib.check_count(k, ops.num_elements(g))
    if k == 0:
        return ops.zeros_like(g)
    negative = g < 0
    scores = ops.where(negative, -g, ops.zeros([], ops.dtype(g)))
    chosen = selection_lib.top_k_magnitude_mask(scores, k, selection, ops)
    return ops.where(negative, chosen, ops.zeros([], ops.dtype(g)))


def radial_rescale(x, radius, size, ops=None):
    r"""``x * min(1, radius / size)``: ``x`` moved radially into a ball of gauge ``size`` (unchanged when ``size`` is 0)."""
    ops = _get_ops(ops)
    dtype = ops.dtype(x)
    ratio = ops.divide_no_nan(ops.constant(radius, dtype=dtype), ops.cast(size, dtype))
    return x * ops.where(size > 0, ops.minimum(ops.ones([], dtype), ratio), ops.ones([], dtype))


def k_sparse_gauge(x, k, ops=None):
    r""":math:`\max(\|x\|_\infty, \|x\|_1/K)`: ``x`` is in :math:`B_1(rK) \cap B_\infty(r)` iff this is :math:`\le r`."""
    ops = _get_ops(ops)
    magnitudes = ops.abs(x)
    return ops.maximum(ops.reduce_max(magnitudes), ops.reduce_sum(magnitudes) / k)


def k_support_norm_bound(x, k, ops=None):
    r"""An upper bound of the K-support norm (Argyriou et al. 2012, "Sparse Prediction with the
    k-Support Norm"): :math:`\min(\|x\|_1,\ 2\max(\|x\|_2, \|x\|_1/\sqrt{K}))`."""
    ops = _get_ops(ops)
    l1 = ops.reduce_sum(ops.abs(x))
    return ops.minimum(l1, 2.0 * ops.maximum(ops.norm(x), l1 / math.sqrt(k)))


def check_order(p):
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
    in_order, out_order = check_order(in_order), check_order(out_order)
    n = validation.check_positive_int(n, "n")
    return float(radius) * n ** (_inverse_order(out_order) - _inverse_order(in_order))


def lp_ball_l2_diameter(radius, n, p):
    """L2 diameter of the Lp ball of radius ``radius`` in ``n`` dims (reference formula)."""
    return 2.0 * convert_lp_radius(radius, n, in_order=p, out_order=2.0)


def lp_radius_from_l2_diameter(diameter, n, p):
    """Inverse of `lp_ball_l2_diameter`."""
    return convert_lp_radius(diameter / 2.0, n, in_order=2.0, out_order=p)
