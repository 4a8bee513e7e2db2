r"""Structured sets for Frank-Wolfe: group sets over output filters / units, and N:M blocks.

Pure tensor functions (stateless, deterministic, static shapes, XLA-compilable, no Python
loops over data), the structured counterparts of `tf_sfw.lmo`.

Groups
------
A kernel ``x`` is cut into ``n_g`` groups :math:`x_g`, the slices along its output axis
(``axis``, default -1: a conv filter ``x[..., c]``, a dense unit ``x[:, c]``); a rank-1
variable (a bias) has one entry per group. :math:`\nu_g = \|x_g\|_2` are the group norms
(`group_norms`). Following Zimmer, Spiegel and Pokutta, 2022, "Compression-aware Training
of Neural Networks using Frank-Wolfe", the unstructured sets are lifted to groups by
replacing :math:`|x_i|` with :math:`\|x_g\|_2`:

* Group K-sparse polytope :math:`C = \{x : \sum_g \|x_g\|_2 \le rK,\ \|x_g\|_2 \le r\ \forall g\}`
  (mixed norms :math:`\|x\|_{2,1} \le rK` and :math:`\|x\|_{2,\infty} \le r`). Its extreme
  points have exactly K non-zero groups, each of norm r, so its L2 diameter is
  :math:`2r\sqrt{K}`. LMO: the K groups of largest :math:`\|g_g\|_2` get
  :math:`v_g = -r\, g_g/\|g_g\|_2`, the others 0 (`group_k_sparse_lmo`).
* Group K-support norm ball of radius r: :math:`r\cdot\mathrm{conv}\{x : x \text{ non-zero on at
  most K groups},\ \|x\|_2 \le 1\}`, L2 diameter :math:`2r`. LMO: with S the K groups of
  largest group norm, :math:`v = -r\, g_S/\|g_S\|_2` (`group_k_support_lmo`).

Both LMOs are the unstructured LMOs of `tf_sfw.lmo` applied to the vector of group norms
:math:`\nu(g)`, turned back into groups along the unit directions :math:`g_g/\|g_g\|_2`:
:math:`v_g = \mathrm{LMO}(\nu(g))_g \cdot g_g/\|g_g\|_2` (for both sets
:math:`\min_{v\in C}\langle g, v\rangle = \min_{\|v_g\| = \mu_g}\sum_g \langle g_g, v_g\rangle
= \min_\mu -\langle \nu(g), \mu\rangle` over the unstructured set of group-norm vectors
:math:`\mu`). So ties share exactly as there (`tf_sfw.selection.top_k_weights`: the groups
tied at the K-th largest norm get the same fraction of a full group; the result is the
mean of the optimal vertices, optimal, feasible and order independent), and a group with
:math:`g_g = 0` gives :math:`v_g = 0`.

N:M blocks
----------
Blocks of ``M`` consecutive entries along the input axis (``axis``, default -2; the only
axis of a rank-1 variable), all other indices fixed: for a Dense kernel ``[C_in, C_out]``
the block ``x[b·M:(b+1)·M, c]``, for a Conv2D kernel ``[kh, kw, C_in, C_out]`` the block
``x[i, j, b·M:(b+1)·M, c]``. This is the layout of tfmot's ``sparsity_m_by_n`` (its
``weights_rearrange`` puts ``C_in`` last and cuts each row into runs of ``M``); when
``M`` does not divide ``C_in`` the last block of a row is shorter. The N:M sparse polytope
is the product over blocks of :math:`\{\|x_b\|_\infty \le r,\ \|x_b\|_1 \le rN\}`, the convex
hull of the N:M sparse points with entries in :math:`[-r, r]`; its L2 diameter is
:math:`2r\sqrt{\sum_b \min(N, |b|)}` (`nm_max_nonzeros`). LMO (`nm_lmo`): in each block the
N entries of largest :math:`|g_i|` get :math:`-r\,\mathrm{sign}(g_i)`, the rest 0, ties
sharing as in `tf_sfw.lmo.k_sparse_lmo`. `nm_mask` is the binary N:M mask of the N largest
magnitudes per block (among equal magnitudes the lower index is kept: the tie rule of
every binary top-K mask, `tf_sfw.selection`).

Gauges
------
For the feasible start (a radial rescale, the identity on feasible points) each set has a
gauge :math:`\rho` with :math:`x \in C \iff \rho(x) \le r`: `group_k_sparse_gauge`,
`group_k_support_norm` (exact, via `k_support_norm`), `nm_gauge`.
"""

import numpy as np
import tensorflow as tf

from tf_sfw import lmo as lmo_lib
from tf_sfw import selection as selection_lib

__all__ = [
    "group_axis",
    "num_groups",
    "group_norms",
    "group_k_sparse_lmo",
    "group_k_support_lmo",
    "k_sparse_gauge",
    "group_k_sparse_gauge",
    "k_support_norm",
    "group_k_support_norm",
    "nm_input_axis",
    "nm_max_nonzeros",
    "nm_blocks",
    "nm_unblock",
    "nm_lmo",
    "nm_mask",
    "nm_gauge",
]


def _normalize_axis(axis, rank, name):
    if isinstance(axis, bool) or not isinstance(axis, int) or not -rank <= axis < rank:
        raise ValueError(
            f"`{name}` must be an int in [-{rank}, {rank}) for a tensor of rank {rank}. Received: {name}={axis!r}"
        )
    return axis % rank


def _static_shape(shape):
    shape = tf.TensorShape(shape)
    if not shape.is_fully_defined():
        raise ValueError(f"Structured sets need variables of static shape. Received shape: {shape}")
    return [int(d) for d in shape]


def group_axis(shape, axis=-1):
    """The (non-negative) group axis of a tensor of ``shape``: ``axis``, or 0 for a scalar/rank-1 tensor."""
    shape = _static_shape(shape)
    if len(shape) <= 1:
        return 0
    return _normalize_axis(axis, len(shape), "axis")


def num_groups(shape, axis=-1):
    """Number of groups ``n_g`` (the size of the group axis; 1 for a scalar)."""
    shape = _static_shape(shape)
    return shape[group_axis(shape, axis)] if shape else 1


def _per_group(values, rank, axis):
    """``values`` (shape ``[n_g]``) reshaped to broadcast along ``axis`` of a rank-``rank`` tensor."""
    if rank == 0:
        return tf.reshape(values, [])
    return tf.reshape(values, [-1 if i == axis else 1 for i in range(rank)])


def group_norms(x, axis=-1):
    r"""Group norms :math:`\nu_g = \|x_g\|_2` of the slices of ``x`` along ``axis`` (shape ``[n_g]``)."""
    x = tf.convert_to_tensor(x)
    shape = _static_shape(x.shape)
    if not shape:
        return tf.abs(tf.reshape(x, [1]))
    axis = group_axis(shape, axis)
    others = [i for i in range(len(shape)) if i != axis]
    return tf.sqrt(tf.reduce_sum(tf.square(x), axis=others)) if others else tf.abs(x)


def _lift(g, axis, group_lmo):
    r""":math:`v_g = u_g\, g_g/\|g_g\|_2` with ``u = group_lmo(group norms of g)``."""
    g = tf.convert_to_tensor(g)
    shape = _static_shape(g.shape)
    norms = group_norms(g, axis)
    coefficients = tf.math.divide_no_nan(group_lmo(norms), norms)
    return g * _per_group(coefficients, len(shape), group_axis(shape, axis) if shape else 0)


def group_k_sparse_lmo(g, k, radius, axis=-1, selection=lmo_lib.DEFAULT_SELECTION):
    r"""LMO of the group K-sparse polytope :math:`\{\|x\|_{2,1} \le rK,\ \|x\|_{2,\infty} \le r\}`.

    .. math::  v_g = -r\, w_g\, g_g / \|g_g\|_2, \qquad w = \texttt{top\_k\_weights}(\nu(g), K),

    i.e. `tf_sfw.lmo.k_sparse_lmo` on the group norms, lifted along the groups' unit
    directions (Zimmer, Spiegel and Pokutta, 2022). Zero groups give zero.

    Args:
        g: Gradient tensor (any static shape).
        k: Python int ``K`` in ``[1, n_g]``.
        radius: ``r > 0``.
        axis: The group (output) axis.
        selection: Algorithm for the K-th largest group norm (`tf_sfw.selection`).
    """
    return _lift(g, axis, lambda norms: lmo_lib.k_sparse_lmo(norms, k, radius, selection))


def group_k_support_lmo(g, k, radius, axis=-1, selection=lmo_lib.DEFAULT_SELECTION):
    r"""LMO of the group K-support norm ball of radius ``r`` (Zimmer, Spiegel and Pokutta, 2022).

    .. math::  v = -r\, (w \odot g) / \|g_S\|_2, \qquad
               \|g_S\|_2^2 = \textstyle\sum_g w_g \|g_g\|_2^2, \quad w = \texttt{top\_k\_weights}(\nu(g), K),

    i.e. `tf_sfw.lmo.k_support_lmo` on the group norms, lifted along the groups. ``g = 0``
    gives ``v = 0``.
    """
    return _lift(g, axis, lambda norms: lmo_lib.k_support_lmo(norms, k, radius, selection))


def k_sparse_gauge(magnitudes, k, axis=None):
    r""":math:`\max(\|a\|_\infty, \|a\|_1/K)` of non-negative ``magnitudes`` (over ``axis``).

    The gauge of the K-sparse polytope scaled to radius 1: ``a`` lies in
    :math:`B_1(rK) \cap B_\infty(r)` iff the gauge is at most ``r``.
    """
    return tf.maximum(tf.reduce_max(magnitudes, axis=axis), tf.reduce_sum(magnitudes, axis=axis) / k)


def group_k_sparse_gauge(x, k, axis=-1):
    r""":math:`\max(\|x\|_{2,\infty}, \|x\|_{2,1}/K)`: ``x`` lies in the group K-sparse polytope of
    radius ``r`` iff this is at most ``r``."""
    return k_sparse_gauge(group_norms(x, axis), k)


def k_support_norm(x, k):
    r"""The K-support norm :math:`\|x\|^{sp}_K` over all entries of ``x`` (exact; a scalar).

    With :math:`z` the magnitudes sorted in decreasing order (Argyriou, Foygel and Srebro,
    2012, "Sparse Prediction with the k-Support Norm"):

    .. math::  \|x\|^{sp}_K = \max_{j \in J} \Big(\sum_{i<j} z_i^2 + \frac{1}{K-j}\Big(\sum_{i \ge j} z_i\Big)^2\Big)^{1/2},
               \quad J = \{0\} \cup \{0 < j < K : z_{j-1} \ge T_j\},\ T_j = \frac{\sum_{i\ge j} z_i}{K-j}.

    Each term is :math:`\langle u, z\rangle / \|u\|_{(K)}` for the dual certificate
    :math:`u = (z_0, \dots, z_{j-1}, T_j, \dots, T_j)` (:math:`\|u\|_{(K)}` the L2 norm of its K
    largest magnitudes), hence a lower bound of the norm, and the term of Argyriou et al.'s
    unique index attains it. ``K`` = 1 gives :math:`\|x\|_1`, ``K = n`` gives :math:`\|x\|_2`.
    Sorts ``n`` magnitudes: meant for group norms (one per filter), not for whole kernels.
    """
    x = tf.convert_to_tensor(x)
    n = selection_lib.num_elements(x)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n:
        raise ValueError(f"`k` must be a Python int in [1, n={n}]. Received: k={k!r}")
    z = tf.sort(tf.reshape(tf.abs(x), [-1]), direction="DESCENDING")
    head = tf.cumsum(tf.square(z), exclusive=True)[:k]  # sum_{i<j} z_i^2, j = 0..K-1
    tail = tf.cumsum(z, reverse=True)[:k]  # sum_{i>=j} z_i
    count = tf.constant(float(k), x.dtype) - tf.range(k, dtype=x.dtype)  # K - j
    level = tail / count  # T_j
    previous = tf.concat([tf.constant([float("inf")], x.dtype), z[: k - 1]], axis=0)  # z_{j-1}
    # A relative slack of a few ulps keeps the attaining index valid under rounding.
    slack = tf.constant(1.0 - 8.0 * np.finfo(x.dtype.as_numpy_dtype).eps, x.dtype)
    squares = tf.where(previous >= level * slack, head + tail * level, tf.zeros([], x.dtype))
    return tf.sqrt(tf.reduce_max(squares))


def group_k_support_norm(x, k, axis=-1):
    r"""The group K-support norm: `k_support_norm` of the group norms. ``x`` lies in the group
    K-support norm ball of radius ``r`` iff this is at most ``r``."""
    return k_support_norm(group_norms(x, axis), k)


# --------------------------------------------------------------------------------------
# N:M blocks along the input axis (tfmot's m_by_n layout).


def nm_input_axis(shape, axis=-2):
    """The (non-negative) block axis of a tensor of ``shape``: ``axis``, or 0 for a rank-1 tensor."""
    shape = _static_shape(shape)
    if not shape:
        raise ValueError("N:M blocks need a tensor of rank >= 1. Received a scalar.")
    if len(shape) == 1:
        return 0
    return _normalize_axis(axis, len(shape), "axis")


def _check_nm(n, m):
    for name, value in (("m", m), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"`{name}` must be an int >= 1. Received: {name}={value!r}")
    if n > m:
        raise ValueError(f"`n` (non-zeros per block) must be at most `m` (the block size). Received: n={n}, m={m}")


def nm_max_nonzeros(shape, n, m, axis=-2):
    r""":math:`\sum_b \min(N, |b|)`: the most non-zeros an N:M sparse tensor of ``shape`` can have."""
    _check_nm(n, m)
    shape = _static_shape(shape)
    axis = nm_input_axis(shape, axis)
    length = shape[axis]
    rows = 1
    for i, d in enumerate(shape):
        if i != axis:
            rows *= d
    return rows * ((length // m) * n + min(n, length % m))


def _moved_shape(shape, axis):
    return [d for i, d in enumerate(shape) if i != axis] + [shape[axis]]


def nm_blocks(x, m, axis=-2, pad_value=0.0):
    """``x`` as blocks of shape ``[rows, num_blocks, M]`` along ``axis`` (padded with ``pad_value``).

    ``rows`` enumerates all other indices; the last block of a row is padded when ``M``
    does not divide the length of ``axis``. `nm_unblock` is the inverse.
    """
    x = tf.convert_to_tensor(x)
    shape = _static_shape(x.shape)
    axis = nm_input_axis(shape, axis)
    perm = [i for i in range(len(shape)) if i != axis] + [axis]
    length = shape[axis]
    rows = tf.reshape(tf.transpose(x, perm), [-1, length])
    pad = -length % m
    if pad:
        rows = tf.pad(rows, [[0, 0], [0, pad]], constant_values=tf.cast(pad_value, x.dtype))
    return tf.reshape(rows, [-1, (length + pad) // m, m])


def nm_unblock(blocks, shape, axis=-2):
    """Inverse of `nm_blocks`: the blocks put back into a tensor of ``shape``."""
    shape = _static_shape(shape)
    axis = nm_input_axis(shape, axis)
    length = shape[axis]
    rows = tf.reshape(blocks, [-1, blocks.shape[1] * blocks.shape[2]])[:, :length]
    moved = tf.reshape(rows, _moved_shape(shape, axis))
    perm = [i for i in range(len(shape)) if i != axis] + [axis]
    inverse = [perm.index(i) for i in range(len(shape))]
    return tf.transpose(moved, inverse)


def nm_lmo(g, n, m, radius, axis=-2):
    r"""LMO of the N:M sparse polytope: per block of ``M`` consecutive entries along ``axis``,

    .. math::  v_i = -r\,\mathrm{sign}(g_i)\, w_i, \qquad
               w_i = [|g_i| > t_b] + [|g_i| = t_b]\,\frac{N - c_>}{c_=},

    with :math:`t_b` the N-th largest magnitude of the block and :math:`c_>`, :math:`c_=` the
    block's counts above / at it (the shares of `tf_sfw.selection.tie_weights`). Without ties
    this is the vertex: the N largest magnitudes of each block get :math:`-r\,\mathrm{sign}`.

    Args:
        g: Gradient tensor of static shape (rank >= 1).
        n: Non-zeros per block ``N``; m: block size ``M`` (``1 <= N <= M``).
        radius: ``r > 0``.
        axis: The input axis (ignored for rank-1 tensors).
    """
    _check_nm(n, m)
    g = tf.convert_to_tensor(g)
    blocks = nm_blocks(g, m, axis)
    magnitudes = tf.abs(blocks)
    threshold = tf.math.top_k(magnitudes, k=n).values[..., n - 1 :]  # N-th largest per block
    above = magnitudes > threshold
    tied = tf.equal(magnitudes, threshold)
    count_above = tf.reduce_sum(tf.cast(above, tf.float32), axis=-1, keepdims=True)
    count_tied = tf.reduce_sum(tf.cast(tied, tf.float32), axis=-1, keepdims=True)
    weights = selection_lib.tie_weights(n, g.dtype, above, tied, count_above, count_tied)
    v = -tf.cast(radius, g.dtype) * tf.sign(blocks) * weights
    return nm_unblock(v, g.shape, axis)


def nm_mask(x, n, m, axis=-2):
    """Binary N:M mask of ``x``: 1 on the N largest magnitudes of each block of ``M`` along ``axis``.

    Among equal magnitudes the lower index is kept (``tf.math.top_k``'s order, the package's
    tie rule); a block shorter than N (the end of a row) is kept whole. Same shape and
    dtype as ``x``.
    """
    _check_nm(n, m)
    x = tf.convert_to_tensor(x)
    blocks = nm_blocks(tf.abs(x), m, axis, pad_value=-1.0)  # padding is never preferred
    indices = tf.math.top_k(blocks, k=n).indices
    mask = tf.reduce_sum(tf.one_hot(indices, m, dtype=x.dtype), axis=-2)
    return nm_unblock(mask, x.shape, axis)


def nm_gauge(x, n, m, axis=-2):
    r""":math:`\max_b \max(\|x_b\|_\infty, \|x_b\|_1/N)`: ``x`` lies in the N:M sparse polytope of
    radius ``r`` iff this is at most ``r``."""
    _check_nm(n, m)
    return tf.reduce_max(k_sparse_gauge(tf.abs(nm_blocks(x, m, axis)), n, axis=-1))
