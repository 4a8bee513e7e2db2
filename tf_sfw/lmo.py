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
    "DEFAULT_SELECTION",
    "kth_largest_magnitude",
    "top_k_weights",
    "k_sparse_lmo",
    "k_support_lmo",
    "l1_ball_lmo",
    "l2_ball_lmo",
    "linf_ball_lmo",
    "lp_ball_lmo",
    "squared_norm",
    "convert_lp_radius",
    "lp_ball_l2_diameter",
    "lp_radius_from_l2_diameter",
]

#: Algorithms for the K-th largest magnitude (see `kth_largest_magnitude`).
SELECTIONS = ("radix", "topk")

#: Default selection of every top-K LMO and of `tf_sfw.SFW`.
DEFAULT_SELECTION = "radix"

# Radix selection: a float32 magnitude's bit pattern (sign bit 0) is split into a high
# digit (bits 30..15, 65536 bins) and a low digit (bits 14..0, 32768 bins).
_LOW_BITS = 15
_HIGH_BINS = 1 << 16
_LOW_BINS = 1 << _LOW_BITS
_SMALLEST_NORMAL_BITS = 0x00800000  # bit pattern of the smallest normal float32
_RADIX_DTYPES = (tf.float32, tf.float16, tf.bfloat16)
# Below this many entries "radix" uses tf.math.top_k: the histograms' fixed cost (~100k
# bins) exceeds a small sort there (measured on CPU, with and without XLA).
_RADIX_MIN_SIZE = 16384


def _as_dtype(value, dtype):
    """``value`` as a scalar of ``dtype`` (Python floats are not rounded through float32)."""
    if isinstance(value, (int, float)):
        return tf.constant(value, dtype=dtype)
    return tf.cast(value, dtype)


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


def _in_xla_context():
    """Whether the current trace is compiled with XLA (``tf.function(jit_compile=True)``).

    Only used to pick between formulations that are equal in value but fast in different
    modes. ``tf.__internal__.get_enclosing_xla_context`` is the hook tf_keras itself uses.
    """
    get_context = getattr(getattr(tf, "__internal__", None), "get_enclosing_xla_context", None)
    return get_context is not None and get_context() is not None


# Block width of the matrix-vector form of `squared_norm` under XLA.
_NORM_BLOCK = 128


def squared_norm(x):
    r""":math:`\|x\|_2^2 = \sum_i x_i^2` over all entries of ``x`` (a scalar of ``x.dtype``).

    Same value as ``tf.reduce_sum(tf.square(x))`` up to the summation order, formulated for
    speed in each mode (float32; other dtypes use that plain form): without XLA the fused
    ``tf.nn.l2_loss`` kernel (one multi-threaded pass, no temporary); under XLA, whose CPU
    reductions run on one thread, the squares of the first ``128·⌊n/128⌋`` entries are
    summed as a matrix-vector product :math:`\mathbf{1}^\top (X \odot X)\,\mathbf{1}` with
    ``X`` of shape ``[n/128, 128]`` (a multi-threaded GEMV, ~4× faster on 2 CPU cores),
    the rest by a plain reduction.
    """
    x = tf.convert_to_tensor(x)
    flat = tf.reshape(x, [-1])
    n = _num_elements(x)
    if x.dtype != tf.float32:
        return tf.reduce_sum(tf.square(flat))
    if not _in_xla_context():
        return 2.0 * tf.nn.l2_loss(flat)
    rows = n // _NORM_BLOCK
    if rows < 32:
        return tf.reduce_sum(tf.square(flat))
    main = tf.reshape(flat[: rows * _NORM_BLOCK], [rows, _NORM_BLOCK])
    total = tf.reduce_sum(tf.matmul(tf.square(main), tf.ones([_NORM_BLOCK, 1], x.dtype)))
    if rows * _NORM_BLOCK < n:
        total += tf.reduce_sum(tf.square(flat[rows * _NORM_BLOCK :]))
    return total


def _histogram(values, size):
    """Counts of each int32 value in ``[0, size)``; values ``>= size`` are ignored."""
    return tf.raw_ops.DenseBincount(
        input=values,
        size=tf.constant(size, tf.int32),
        weights=tf.constant([], tf.int32),
        binary_output=False,
    )


def _select_bin(hist, k, rows):
    r"""The bin holding the ``k``-th largest value, from a histogram over ascending bins.

    Returns ``(b, c)`` with :math:`\sum_{j \ge b} h_j \ge k > \sum_{j > b} h_j = c`, found
    with two small suffix sums (``rows`` groups of bins, then the bins of one group).
    Requires :math:`1 \le k \le \sum_j h_j`.
    """
    cols = hist.shape[0] // rows
    grid = tf.reshape(hist, [rows, cols])
    row_counts = tf.reduce_sum(grid, axis=1)
    rows_from = tf.cumsum(row_counts, reverse=True)  # count in rows >= r
    row = tf.reduce_sum(tf.cast(rows_from >= k, tf.int32)) - 1
    counts = tf.gather(grid, row)
    bins_from = tf.cumsum(counts, reverse=True) + (tf.gather(rows_from, row) - tf.gather(row_counts, row))
    col = tf.reduce_sum(tf.cast(bins_from >= k, tf.int32)) - 1
    return row * cols + col, tf.gather(bins_from, col) - tf.gather(counts, col)


def _radix_select(magnitudes, k):
    r"""Exact K-th largest of flat non-negative float32 ``magnitudes`` by radix selection.

    For :math:`a \ge 0` (sign bit 0) the float32 order equals the order of the int32 bit
    patterns :math:`b(a)`. Pass 1 histograms the high digit :math:`b \gg 15` (65536
    bins) and finds the bin ``p`` of the K-th largest; pass 2 histograms the low digit
    :math:`b \oplus (p \ll 15)` of the entries of bin ``p`` (for the others it is
    :math:`\ge 2^{15}`, and they are ignored) and finds the bin ``q``
    of the :math:`(K - c_1)`-th largest, :math:`c_1` the count above bin ``p``. Then
    :math:`t = a(p \ll 15 + q)` exactly, and the histograms give
    :math:`c_> = \#\{a_i > t\}` and :math:`c_= = \#\{a_i = t\}` without another pass.
    Two reading passes, no sort, static shapes, integer counts (deterministic).

    Subnormal magnitudes (bit patterns below ``0x00800000``, high bins 0..255) count as
    zero: TensorFlow runs CPU kernels and XLA with denormals flushed to zero, so
    ``tf.math.top_k`` and every comparison see them as 0. If the K-th largest is such a
    value, ``t = 0`` and every entry with a bit pattern up to ``0x007FFFFF`` is tied.

    Returns:
        ``(bits, t_bits, t_top_bits, count_above, count_tied)``, all int32:
        :math:`|x_i| > t \iff` ``bits > t_top_bits`` and
        :math:`|x_i| = t \iff` ``t_bits <= bits <= t_top_bits`` (``t_top_bits = t_bits``
        unless ``t = 0``).
    """
    bits = tf.bitcast(magnitudes, tf.int32)
    high_hist = _histogram(tf.bitwise.right_shift(bits, _LOW_BITS), _HIGH_BINS)
    zero_bins = _SMALLEST_NORMAL_BITS >> _LOW_BITS
    high_hist = tf.concat(
        [
            tf.reduce_sum(high_hist[:zero_bins], keepdims=True),
            tf.zeros([zero_bins - 1], tf.int32),
            high_hist[zero_bins:],
        ],
        axis=0,
    )
    high, above_high = _select_bin(high_hist, tf.constant(k, tf.int32), rows=256)
    base = tf.bitwise.left_shift(high, _LOW_BITS)
    # Entries of other high bins differ from base in a bit >= 15: ignored.
    low_hist = _histogram(tf.bitwise.bitwise_xor(bits, base), _LOW_BINS)
    low, above_low = _select_bin(low_hist, k - above_high, rows=128)
    is_zero = tf.equal(high, 0)
    t_bits = tf.where(is_zero, 0, base + low)
    t_top_bits = tf.where(is_zero, _SMALLEST_NORMAL_BITS - 1, t_bits)
    count_above = tf.where(is_zero, above_high, above_high + above_low)
    count_tied = tf.where(is_zero, high_hist[0], tf.gather(low_hist, low))
    return bits, t_bits, t_top_bits, count_above, count_tied


def _check_selection(selection):
    if selection not in SELECTIONS:
        raise ValueError(f"`selection` must be one of {SELECTIONS}. Received: selection={selection!r}")


def _prepare(x, k, selection):
    """Validates the arguments; returns ``(x as tensor, whether radix selection applies)``."""
    x = tf.convert_to_tensor(x)
    n = _num_elements(x)
    _check_k(k, n)
    _check_selection(selection)
    return x, selection == "radix" and x.dtype in _RADIX_DTYPES and n >= _RADIX_MIN_SIZE


def _radix_magnitudes(x):
    # |x| as flat float32: exact and order preserving for float16/bfloat16.
    return tf.cast(tf.reshape(tf.abs(x), [-1]), tf.float32)


def kth_largest_magnitude(x, k, selection=DEFAULT_SELECTION):
    r"""The K-th largest value of :math:`|x|` over all entries of ``x`` (a scalar).

    Args:
        x: Tensor of any static shape and floating dtype.
        k: Python int in ``[1, x.size]``.
        selection: ``"radix"`` (default): exact two-pass radix selection on the float32
            bit patterns of :math:`|x|` (`_radix_select`; float16/bfloat16 are converted
            to float32 exactly; float64 and tensors of fewer than 16384 entries use
            ``"topk"``, which is faster there). ``"topk"``:
            ``tf.math.top_k`` on the flattened magnitudes (a partial sort: much slower).
            Both give the same ``t`` (subnormal magnitudes count as 0, as everywhere in
            TensorFlow on CPU).

    Returns:
        Scalar tensor of ``x.dtype``: :math:`t` with :math:`\#\{|x_i| \ge t\} \ge K` and
        :math:`\#\{|x_i| > t\} < K`.
    """
    x, radix = _prepare(x, k, selection)
    if radix:
        t_bits = _radix_select(_radix_magnitudes(x), k)[1]
        return tf.cast(tf.bitcast(t_bits, tf.float32), x.dtype)
    magnitudes = tf.reshape(tf.abs(x), [-1])
    return tf.reduce_min(tf.math.top_k(magnitudes, k=k, sorted=False).values)


def _radix_parts(x, k):
    """`_radix_select` on ``|x|`` with the bit patterns in the shape of ``x``, counts as float32."""
    bits, t_bits, t_top_bits, count_above, count_tied = _radix_select(_radix_magnitudes(x), k)
    return (tf.reshape(bits, tf.shape(x)), t_bits, t_top_bits,
            tf.cast(count_above, tf.float32), tf.cast(count_tied, tf.float32))


def _weights(k, dtype, above, tied, count_above, count_tied):
    share = tf.cast((float(k) - count_above) / count_tied, dtype)
    return tf.where(above, tf.ones([], dtype), tf.where(tied, share, tf.zeros([], dtype)))


def top_k_weights(x, k, selection=DEFAULT_SELECTION):
    r"""Weights in [0, 1] that select the K largest-magnitude entries of ``x``.

    .. math::
        w_i = \begin{cases} 1 & |x_i| > t \\ (K - c_>)/c_= & |x_i| = t \\ 0 & |x_i| < t \end{cases}

    with :math:`t` the K-th largest magnitude, :math:`c_> = \#\{|x_i| > t\}` and
    :math:`c_= = \#\{|x_i| = t\}`. Always :math:`\sum_i w_i = K`. With ``"radix"`` the
    counts come from the selection's histograms and the comparisons are made on the same
    bit patterns, so they agree whatever the floating-point mode (no extra pass).

    Returns:
        Tensor of the shape and dtype of ``x``.
    """
    x, radix = _prepare(x, k, selection)
    if radix:
        bits, t_bits, t_top_bits, count_above, count_tied = _radix_parts(x, k)
        above = bits > t_top_bits
        tied = bits >= t_bits  # read only where "above" is False
    else:
        t = kth_largest_magnitude(x, k, selection)
        magnitudes = tf.abs(x)
        above = magnitudes > t
        tied = tf.equal(magnitudes, t)
        count_above = tf.reduce_sum(tf.cast(above, tf.float32))
        count_tied = tf.reduce_sum(tf.cast(tied, tf.float32))
    return _weights(k, x.dtype, above, tied, count_above, count_tied)


def k_sparse_lmo(g, k, radius, selection=DEFAULT_SELECTION):
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

    Returns:
        ``v`` with the shape and dtype of ``g``.
    """
    g, radix = _prepare(g, k, selection)
    neg_radius = -_as_dtype(radius, g.dtype)
    if not radix or _in_xla_context():
        return neg_radius * tf.sign(g) * top_k_weights(g, k, selection)
    bits, t_bits, t_top_bits, count_above, count_tied = _radix_parts(g, k)

    def vertex():
        return tf.where(bits >= t_bits, neg_radius * tf.sign(g), tf.zeros([], g.dtype))

    def general():
        weights = _weights(k, g.dtype, bits > t_top_bits, bits >= t_bits, count_above, count_tied)
        return neg_radius * tf.sign(g) * weights

    return tf.cond(tf.equal(count_tied, 1.0) & tf.equal(t_bits, t_top_bits), vertex, general)


def k_support_lmo(g, k, radius, selection=DEFAULT_SELECTION):
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
    return (-_as_dtype(radius, g.dtype)) * tf.math.divide_no_nan(selected, norm)


def l1_ball_lmo(g, radius):
    r"""LMO of the L1 ball: :math:`v = -r\,\mathrm{sign}(g_i)\,e_i`, :math:`i = \operatorname{argmax}|g_i|`.

    The first index among equal magnitudes is taken (deterministic).
    """
    n = _num_elements(g)
    flat = tf.reshape(g, [-1])
    index = tf.argmax(tf.abs(flat), output_type=tf.int32)
    one_hot = tf.one_hot(index, n, dtype=g.dtype)
    return tf.reshape((-_as_dtype(radius, g.dtype)) * tf.sign(flat) * one_hot, tf.shape(g))


def l2_ball_lmo(g, radius):
    r"""LMO of the L2 ball: :math:`v = -r\, g / \|g\|_2` (0 where ``g = 0``)."""
    return (-_as_dtype(radius, g.dtype)) * tf.math.divide_no_nan(g, tf.norm(g))


def linf_ball_lmo(g, radius):
    r"""LMO of the L∞ ball: :math:`v = -r\,\mathrm{sign}(g)`."""
    return (-_as_dtype(radius, g.dtype)) * tf.sign(g)


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
    return (-_as_dtype(radius, g.dtype)) * tf.sign(g) * direction


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
