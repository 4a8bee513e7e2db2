"""One-shot N:M pruning: keep the N largest magnitudes in every block of M consecutive weights.

Blocks run along a kernel's input axis (axis -2: ``C_in`` of ``Dense`` ``[C_in, C_out]`` and
``Conv2D`` ``[kh, kw, C_in, C_out]`` kernels), all other indices fixed, the last block of a
row shorter when M does not divide ``C_in``. This is the layout of tfmot's
``sparsity_m_by_n`` pruning, which TFLite and sparse tensor cores accelerate (2:4); its
checker ``tfmot...pruning_utils.is_pruned_m_by_n(kernel, m_by_n=(M - N, M))`` accepts the
kernels pruned here. Note tfmot's tuple counts *zeros*: N:M here (N kept of M) is tfmot's
``m_by_n = (M - N, M)`` (`tfmot_m_by_n`); for 2:4 both read ``(2, 4)``.

Among equal magnitudes in a block the lower index is kept (the package's tie rule, see
`tf_sfw.selection`). A model trained by Stochastic Frank-Wolfe inside the N:M sparse
polytope (`tf_sfw.structured_constraints.NMSparsePolytope`) is a mixture of N:M sparse
points, so N:M pruning changes it little (Zimmer, Spiegel and Pokutta, 2022,
"Compression-aware Training of Neural Networks using Frank-Wolfe", for the group analogue).

Masks are plain ``{"<layer>/<weight>": 0/1 array}`` dicts, as everywhere in
`tf_sfw.pruning`: apply them with `tf_sfw.pruning.masks.apply_masks` (or `prune_nm`),
fine-tune with fixed masks, and `tf_sfw.pruning.masks.strip`.
"""

import numpy as np
import tensorflow as tf

from tf_sfw import group_lmo
from tf_sfw.pruning.masks import apply_masks, prunable_weights

__all__ = ["tfmot_m_by_n", "nm_mask", "nm_masks_for_weights", "nm_masks", "prune_nm", "is_nm_sparse"]


def tfmot_m_by_n(n=2, m=4):
    """tfmot's ``m_by_n`` tuple ``(zeros, block size) = (M - N, M)`` of N:M sparsity (N kept of M)."""
    group_lmo._check_nm(n, m)
    return (m - n, m)


def nm_mask(array, n=2, m=4, axis=-2):
    """Binary N:M mask of one array (`tf_sfw.group_lmo.nm_mask`), as a float32 NumPy array."""
    array = np.asarray(array)
    array = array.astype(np.result_type(array.dtype, np.float32))  # floats keep their precision
    return group_lmo.nm_mask(tf.constant(array), n, m, axis).numpy().astype(np.float32)


def nm_masks_for_weights(weights, n=2, m=4, axis=-2):
    """N:M masks ``{key: float32 0/1 array}`` for a mapping ``{key: array}`` of weights.

    Args:
        weights: Mapping of keys to arrays (rank >= 1; rank-1 arrays are cut along their
            only axis).
        n: Weights kept per block N; m: block size M (``1 <= N <= M``).
        axis: The block (input) axis of arrays of rank >= 2.
    """
    group_lmo._check_nm(n, m)
    if not hasattr(weights, "items") or not weights:
        raise ValueError(f"`weights` must be a non-empty mapping {{key: array}}. Received: weights={weights!r:.200}")
    return {key: nm_mask(value, n, m, axis) for key, value in weights.items()}


def nm_masks(model, n=2, m=4, layers=None):
    """N:M masks of every kernel of ``model`` (`tf_sfw.pruning.masks.prunable_weights`, no
    biases or BatchNorm parameters), blocks along the input axis (-2).

    Returns:
        ``{"<layer>/kernel": float32 0/1 mask}``.
    """
    weights = prunable_weights(model, layers=layers)
    return nm_masks_for_weights({key: variable.numpy() for key, variable in weights.items()}, n, m)


def prune_nm(model, n=2, m=4, layers=None):
    """A pruning-wrapped copy of ``model`` with N:M masks on its kernels (``model`` unchanged).

    ``apply_masks(model, nm_masks(model, n, m, layers))``: the masked kernels are exactly
    N:M sparse; fine-tune it with fixed masks or `tf_sfw.pruning.masks.strip` it.
    """
    return apply_masks(model, nm_masks(model, n, m, layers))


def is_nm_sparse(array, n=2, m=4, axis=-2):
    """Whether every block of ``m`` consecutive entries along ``axis`` has at most ``n`` non-zeros."""
    group_lmo._check_nm(n, m)
    blocks = group_lmo.nm_blocks(tf.constant(np.asarray(array)), m, axis).numpy()
    return bool(np.all(np.count_nonzero(blocks, axis=-1) <= n))
