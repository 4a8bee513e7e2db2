r"""Top-K selection, written once: the K-th largest magnitude, top-K weights and top-K masks.

Every part of the package that picks "the K largest" goes through this module: the top-K
LMOs of `tf_sfw.lmo` (and so `tf_sfw.SFW`), magnitude pruning
(`tf_sfw.pruning.magnitude`) and the iterative pruners (`tf_sfw.pruning.iterative`).

The tie rule (binary masks)
---------------------------
A binary top-K mask keeps exactly ``K`` entries. Entries are ranked by

1. score, descending (for magnitude pruning the score is :math:`|\theta_i|`);
2. an optional secondary score, descending (``tiebreak``);
3. flat index :math:`i` (C order, over the concatenation of all tensors in key order),
   ascending,

and the first ``K`` are kept. So among equal scores the LOWER flat index is kept, and
pruning removes, among equal scores, the HIGHER flat index first. Since the ranking does
not depend on ``K``, masks for growing ``K`` are nested. This is the order of
``tf.math.top_k`` and ``tf.argmax`` (the lower index first among equal values), and
`top_k_magnitude_mask` honours it exactly inside TensorFlow graphs and XLA with the radix
selection below (threshold, then an inclusive prefix count of the tied entries). The
host-side functions (`ranking`, `top_k_mask`, `pruning_order`) work on NumPy arrays,
where pruning needs a full order (a sweep over many sparsities sorts once).

The LMOs' continuous weights (`top_k_weights`)
----------------------------------------------
An LMO need not pick one vertex: `top_k_weights` gives every entry tied at the threshold
the same share :math:`(K - c_>)/c_=` of a full entry. That is the average of all optimal
binary choices (so it is optimal and feasible), it does not depend on the order of the
entries, and it equals `top_k_magnitude_mask` whenever no tie straddles the K-th place.
Where one does, the mask is the optimal vertex that keeps the lowest-index tied entries,
and ``top_k_weights`` is the mean of all such vertices.

K-th largest magnitude
----------------------
``"radix"`` (default): exact two-pass radix selection on the float32 bit patterns of
:math:`|x|`; ``"topk"``: ``tf.math.top_k`` (a partial sort, much slower on large
tensors). Both give the same threshold; subnormal magnitudes count as zero, as in every
TensorFlow CPU kernel and under XLA (denormals are flushed).

Op namespaces
-------------
The tensor functions take an optional ``ops``: the array operations they are written
over (`tf_sfw._tf_ops`, TensorFlow, by default; `tf_sfw.keras3._ops` for Keras 3 on any
backend). The formulas and the tie rule exist once; TensorFlow is imported only when the
default namespace is first used.
"""

import numpy as np

from tf_sfw import validation

__all__ = [
    "SELECTIONS",
    "DEFAULT_SELECTION",
    "kth_largest_magnitude",
    "top_k_weights",
    "top_k_magnitude_mask",
    "ranking",
    "pruning_order",
    "top_k_mask",
]

#: Algorithms for the K-th largest magnitude (see `kth_largest_magnitude`).
SELECTIONS = ("radix", "topk")

#: Default selection of every top-K LMO and of `tf_sfw.SFW`.
DEFAULT_SELECTION = "radix"

def get_ops(ops=None):
    """``ops``, or the default TensorFlow namespace `tf_sfw._tf_ops` (imported on first use)."""
    if ops is not None:
        return ops
    from tf_sfw import _tf_ops

    return _tf_ops


# Radix selection: a float32 magnitude's bit pattern (sign bit 0) is split into a high
# digit (bits 30..15, 65536 bins) and a low digit (bits 14..0, 32768 bins).
_LOW_BITS = 15
_HIGH_BINS = 1 << 16
_LOW_BINS = 1 << _LOW_BITS
_SMALLEST_NORMAL_BITS = 0x00800000  # bit pattern of the smallest normal float32
# Below this many entries "radix" uses tf.math.top_k: the histograms' fixed cost (~100k
# bins) exceeds a small sort there (measured on CPU, with and without XLA).
_RADIX_MIN_SIZE = 16384


def num_elements(x, ops=None):
    """The static number of entries of tensor ``x`` (ValueError when not fully static)."""
    return get_ops(ops).num_elements(x)


def in_xla_context(ops=None):
    """Whether the current trace is compiled (XLA under TensorFlow; see ``ops.in_xla_context``)."""
    return get_ops(ops).in_xla_context()


def check_selection(selection):
    """Returns ``selection`` if it is one of `SELECTIONS` (ValueError naming it otherwise)."""
    return validation.check_choice(selection, "selection", SELECTIONS)


# --------------------------------------------------------------------------------------
# Radix selection (static shapes, XLA-compilable).


def _select_bin(hist, k, rows, ops):
    r"""The bin holding the ``k``-th largest value, from a histogram over ascending bins.

    Returns ``(b, c)`` with :math:`\sum_{j \ge b} h_j \ge k > \sum_{j > b} h_j = c`, found
    with two small suffix sums (``rows`` groups of bins, then the bins of one group).
    Requires :math:`1 \le k \le \sum_j h_j`.
    """
    cols = hist.shape[0] // rows
    grid = ops.reshape(hist, [rows, cols])
    row_counts = ops.reduce_sum(grid, axis=1)
    rows_from = ops.cumsum(row_counts, reverse=True)  # count in rows >= r
    row = ops.reduce_sum(ops.cast(rows_from >= k, ops.int32)) - 1
    counts = ops.gather(grid, row)
    bins_from = ops.cumsum(counts, reverse=True) + (ops.gather(rows_from, row) - ops.gather(row_counts, row))
    col = ops.reduce_sum(ops.cast(bins_from >= k, ops.int32)) - 1
    return row * cols + col, ops.gather(bins_from, col) - ops.gather(counts, col)


def _radix_select(magnitudes, k, ops=None):
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
    ops = get_ops(ops)
    bits = ops.bitcast(magnitudes, ops.int32)
    high_hist = ops.histogram(ops.right_shift(bits, _LOW_BITS), _HIGH_BINS)
    zero_bins = _SMALLEST_NORMAL_BITS >> _LOW_BITS
    high_hist = ops.concat(
        [
            ops.reduce_sum(high_hist[:zero_bins], keepdims=True),
            ops.zeros([zero_bins - 1], ops.int32),
            high_hist[zero_bins:],
        ]
    )
    high, above_high = _select_bin(high_hist, ops.constant(k, ops.int32), 256, ops)
    base = ops.left_shift(high, _LOW_BITS)
    # Entries of other high bins differ from base in a bit >= 15: ignored.
    low_hist = ops.histogram(ops.bitwise_xor(bits, base), _LOW_BINS)
    low, above_low = _select_bin(low_hist, k - above_high, 128, ops)
    is_zero = ops.equal(high, 0)
    t_bits = ops.where(is_zero, 0, base + low)
    t_top_bits = ops.where(is_zero, _SMALLEST_NORMAL_BITS - 1, t_bits)
    count_above = ops.where(is_zero, above_high, above_high + above_low)
    count_tied = ops.where(is_zero, high_hist[0], ops.gather(low_hist, low))
    return bits, t_bits, t_top_bits, count_above, count_tied


def _prepare(x, k, selection, ops):
    """Validates the arguments; returns ``(x as tensor, whether radix selection applies)``."""
    x = ops.convert_to_tensor(x)
    n = ops.num_elements(x)
    validation.check_int(k, "k", minimum=1, maximum=n)
    check_selection(selection)
    return x, selection == "radix" and ops.dtype(x) in ops.radix_dtypes and n >= _RADIX_MIN_SIZE


def _radix_magnitudes(x, ops):
    # |x| as flat float32: exact and order preserving for float16/bfloat16.
    return ops.cast(ops.reshape(ops.abs(x), [-1]), ops.float32)


def kth_largest_magnitude(x, k, selection=DEFAULT_SELECTION, ops=None):
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
        ops: Op namespace (default TensorFlow; see the module docstring).

    Returns:
        Scalar tensor of ``x.dtype``: :math:`t` with :math:`\#\{|x_i| \ge t\} \ge K` and
        :math:`\#\{|x_i| > t\} < K`.
    """
    ops = get_ops(ops)
    x, radix = _prepare(x, k, selection, ops)
    if radix:
        t_bits = _radix_select(_radix_magnitudes(x, ops), k, ops)[1]
        return ops.cast(ops.bitcast(t_bits, ops.float32), ops.dtype(x))
    magnitudes = ops.reshape(ops.abs(x), [-1])
    return ops.reduce_min(ops.top_k_values(magnitudes, k))


def radix_parts(x, k, ops=None):
    """`_radix_select` on ``|x|`` with the bit patterns in the shape of ``x``, counts as float32.

    For callers that branch on the counts (`tf_sfw.lmo.k_sparse_lmo`): ``(bits, t_bits,
    t_top_bits, count_above, count_tied)``, see `_radix_select`.
    """
    ops = get_ops(ops)
    bits, t_bits, t_top_bits, count_above, count_tied = _radix_select(_radix_magnitudes(x, ops), k, ops)
    return (ops.reshape(bits, ops.shape(x)), t_bits, t_top_bits,
            ops.cast(count_above, ops.float32), ops.cast(count_tied, ops.float32))


def uses_radix(x, k, selection, ops=None):
    """Validates ``(x, k, selection)``; returns ``(x as tensor, whether radix applies)``."""
    return _prepare(x, k, selection, get_ops(ops))


def tie_weights(k, dtype, above, tied, count_above, count_tied, ops=None):
    r"""1 where ``above``, :math:`(K - c_>)/c_=` where ``tied`` (and not above), else 0."""
    ops = get_ops(ops)
    count_above, count_tied = ops.cast(count_above, ops.float32), ops.cast(count_tied, ops.float32)
    share = ops.cast((float(k) - count_above) / count_tied, dtype)
    return ops.where(above, ops.ones([], dtype), ops.where(tied, share, ops.zeros([], dtype)))


def _threshold_masks(x, k, radix, ops):
    """``(above, tied, count_above, count_tied)``: :math:`|x_i| > t`, :math:`|x_i| = t` (bool,
    shape of ``x``; ``tied`` may also hold where ``above`` does) and their counts: exact int32
    from the radix histograms, float32 sums otherwise (what `tie_weights` divides)."""
    if radix:
        bits, t_bits, t_top_bits, count_above, count_tied = _radix_select(_radix_magnitudes(x, ops), k, ops)
        bits = ops.reshape(bits, ops.shape(x))
        return bits > t_top_bits, bits >= t_bits, count_above, count_tied
    t = kth_largest_magnitude(x, k, "topk", ops)
    magnitudes = ops.abs(x)
    above = magnitudes > t
    tied = ops.equal(magnitudes, t)
    count_above = ops.reduce_sum(ops.cast(above, ops.float32))
    count_tied = ops.reduce_sum(ops.cast(tied, ops.float32))
    return above, tied, count_above, count_tied


def top_k_weights(x, k, selection=DEFAULT_SELECTION, ops=None):
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
    ops = get_ops(ops)
    x, radix = _prepare(x, k, selection, ops)
    above, tied, count_above, count_tied = _threshold_masks(x, k, radix, ops)
    return tie_weights(k, ops.dtype(x), above, tied, count_above, count_tied, ops)


def top_k_magnitude_mask(x, k, selection=DEFAULT_SELECTION, ops=None):
    r"""Binary mask of the K largest-magnitude entries of ``x``, by the module's tie rule.

    .. math::
        m_i = [\,|x_i| > t\,] \;+\; [\,|x_i| = t\,]\,
              \big[\#\{j \le i : |x_j| = t\} \le K - c_>\big]

    (flat C-order index), i.e. all entries above the threshold and the lowest-index tied
    ones. Exactly ``K`` ones; static shapes, XLA-compilable.

    Returns:
        0/1 tensor of the shape and dtype of ``x``.
    """
    ops = get_ops(ops)
    x, radix = _prepare(x, k, selection, ops)
    above, tied, count_above, _ = _threshold_masks(x, k, radix, ops)
    if not radix:  # an exact integer count (float32 sums are exact only below 2**24)
        count_above = ops.reduce_sum(ops.cast(above, ops.int32))
    tied = ops.reshape(tied & ~above, [-1])
    rank = ops.cumsum(ops.cast(tied, ops.int32))  # inclusive count of tied entries up to i
    keep = ops.reshape(tied & (rank <= k - count_above), ops.shape(x)) | above
    return ops.cast(keep, ops.dtype(x))


# --------------------------------------------------------------------------------------
# Host-side (NumPy) forms of the same rule, for pruning.


def finite_flat(array, name):
    """``array`` flattened (C order) as float64; ValueError naming ``name`` unless all finite."""
    flat = np.asarray(array, dtype=np.float64).ravel()
    if not np.all(np.isfinite(flat)):
        raise ValueError(f"`{name}` must contain only finite values.")
    return flat


def ranking(scores, tiebreak=None):
    """Flat indices of ``scores``, best first, by the module's tie rule.

    Args:
        scores: Array of any shape (flattened in C order).
        tiebreak: Optional array of the same shape: among equal scores a larger
            ``tiebreak`` ranks first; then the lower flat index.

    Returns:
        ``int64`` permutation of ``range(scores.size)``; its first ``K`` entries are the
        top-K for every ``K``.
    """
    scores = np.asarray(scores)
    flat = finite_flat(scores, "scores")
    if tiebreak is None:
        # A stable sort of -score keeps equal scores in ascending index order.
        return np.argsort(-flat, kind="stable").astype(np.int64)
    tiebreak = np.asarray(tiebreak)
    if tiebreak.shape != scores.shape:
        raise ValueError(
            f"`tiebreak` must have the shape of `scores` {scores.shape}. Received: tiebreak.shape={tiebreak.shape}"
        )
    second = finite_flat(tiebreak, "tiebreak")
    return np.lexsort((np.arange(flat.size), -second, -flat)).astype(np.int64)


def pruning_order(scores):
    """Flat indices in the order pruning removes them: `ranking` reversed.

    The first ``z`` entries are the ``z`` lowest-ranked (smallest score; among equal
    scores the higher flat index first), so the kept set is the top ``n - z``.
    """
    return ranking(scores)[::-1].copy()


def check_count(k, n, name="k"):
    """Returns ``int(k)`` if it is an integer in ``[0, n]``."""
    return validation.check_int(k, name, minimum=0, maximum=n)


def top_k_mask(scores, k, tiebreak=None):
    """Binary mask keeping exactly the ``k`` best-ranked entries of ``scores`` (`ranking`).

    Args:
        scores: Array of any shape.
        k: Number of entries to keep, ``0 <= k <= scores.size``.
        tiebreak: Optional array of the same shape (larger wins among equal scores).

    Returns:
        ``float32`` 0/1 array of ``scores``' shape with exactly ``k`` ones.
    """
    scores = np.asarray(scores)
    k = check_count(k, scores.size)
    mask = np.zeros(scores.size, dtype=np.float32)
    mask[ranking(scores, tiebreak)[:k]] = 1.0
    return mask.reshape(scores.shape)
