"""Magnitude-based selection of the weights to prune (pure NumPy math).

Everything here works on a mapping ``{key: array}`` of weight values (keys like
``"conv2d/kernel"``, in a stable order) and returns masks of the same shapes with
``1`` for kept and ``0`` for pruned entries. Nothing here touches a Keras model
except :func:`magnitude_masks`, a thin convenience that reads the weights with
:func:`tf_sfw.pruning.masks.prunable_weights` first.

Counting rule (exactness). For a target sparsity ``s`` over ``n`` counted weights
the number of pruned entries is

.. math:: z(s, n) = \\lfloor s \\cdot n + 1/2 \\rfloor ,

i.e. ``s * n`` rounded half up, so the achieved sparsity ``z / n`` equals ``s`` to
within half a weight -- except that at least one entry is always kept
(``z <= n - 1``; globally one entry over all tensors, layer-wise one per tensor), so a
sparsity just below 1 never zeroes every weight.

Global pruning. All counted entries are concatenated in key order into one
vector ``a = |θ|`` of length ``n``; the entries are ranked by the key
``(a_i, -i)`` -- magnitude first, ties broken by the flat index ``i`` so that the
higher index is pruned first (the lower one kept: the tie rule of every top-K mask,
`tf_sfw.selection`) -- and the ``z(s, n)`` lowest-ranked entries are zeroed.
This is "zero everything below the threshold that a fraction ``s`` of all ``|θ|``
lies below", with the count made exact even when magnitudes tie (for example many
weights that are exactly zero).

Layer-wise pruning. The same rule applied to each tensor separately, with
``z(s_l, n_l)`` zeros in tensor ``l``.

Because the ranking does not depend on ``s``, masks for increasing sparsities are
nested, and a sweep over many sparsities only needs one sort
(:func:`magnitude_order` + :func:`masks_from_order`).
"""

import math

import numpy as np

from tf_sfw import selection, validation

__all__ = [
    "validate_sparsity",
    "num_pruned",
    "magnitude_order",
    "masks_from_order",
    "global_magnitude_masks",
    "layerwise_magnitude_masks",
    "magnitude_masks",
]


def validate_sparsity(sparsity, name="sparsity"):
    """Checks that ``sparsity`` is a real number in ``[0, 1)`` and returns it as float.

    Args:
        sparsity: Fraction of weights to prune.
        name: Argument name used in the error message.

    Returns:
        ``float(sparsity)``.

    Raises:
        ValueError: If ``sparsity`` is not a real number in ``[0, 1)``.
    """
    return validation.check_fraction(sparsity, name)


def num_pruned(sparsity, n):
    """Number of entries pruned out of ``n`` at sparsity ``s``: ``min(floor(s * n + 1/2), n - 1)``.

    ``s * n`` rounded half up, except that at least one entry is always kept: a sparsity
    ``s < 1`` so close to 1 that it rounds to pruning everything (``s >= 1 - 1/(2n)``,
    e.g. ``s = 0.999999`` on fewer than 500 000 weights) keeps exactly one entry.

    Args:
        sparsity: Target sparsity in ``[0, 1)``.
        n: Number of counted weights (``>= 0``).

    Returns:
        The integer ``z`` with ``|z - s * n| <= 1/2`` and ``z <= n - 1`` (``z = 0`` for
        ``n = 0``).
    """
    sparsity = validate_sparsity(sparsity)
    n = validation.check_int(n, "n", minimum=0)
    return max(0, min(int(math.floor(sparsity * n + 0.5)), n - 1))


def _as_arrays(weights):
    if not hasattr(weights, "items"):
        raise ValueError(
            "`weights` must be a mapping {key: array}. Received: "
            f"weights of type {type(weights).__name__}"
        )
    if len(weights) == 0:
        raise ValueError("`weights` must contain at least one array. Received: weights={}")
    arrays = {}
    for key, value in weights.items():
        array = np.asarray(value.numpy() if hasattr(value, "numpy") else value)
        if array.size == 0:
            raise ValueError(f"Weight {key!r} is empty (shape {array.shape}); nothing to prune.")
        if not np.issubdtype(array.dtype, np.number) or not np.all(np.isfinite(array)):
            raise ValueError(f"Weight {key!r} contains non-finite or non-numeric values.")
        arrays[key] = array
    return arrays


def magnitude_order(weights):
    """Global pruning order of all entries: ascending ``|θ_i|``, ties by descending ``i``.

    The reverse of `tf_sfw.selection.ranking` of ``|θ|`` (the package's one tie rule:
    among equal magnitudes the lower flat index is kept, so the higher one is pruned first).

    Args:
        weights: Mapping ``{key: array}``; entries are concatenated in key order
            (each array flattened in C order).

    Returns:
        ``int64`` array of flat indices into the concatenation, the first ``z``
        of which are the entries to prune at any sparsity with ``z`` zeros.
    """
    arrays = _as_arrays(weights)
    flat = np.concatenate([np.abs(a.astype(np.float64, copy=False)).ravel() for a in arrays.values()])
    return selection.pruning_order(flat)


def masks_from_order(order, shapes, n_pruned):
    """Builds masks that zero the first ``n_pruned`` entries of ``order``.

    Args:
        order: Flat indices from :func:`magnitude_order`.
        shapes: Mapping ``{key: shape}`` in the same key order used for ``order``.
        n_pruned: Number of entries to zero, ``0 <= n_pruned <= len(order)``.

    Returns:
        Mapping ``{key: float32 mask}`` with exactly ``n_pruned`` zeros in total.
    """
    sizes = [int(np.prod(s, dtype=np.int64)) for s in shapes.values()]
    total = int(sum(sizes))
    if len(order) != total:
        raise ValueError(f"`order` has {len(order)} entries but `shapes` hold {total}.")
    n_pruned = validation.check_int(n_pruned, "n_pruned", minimum=0, maximum=total)
    flat = np.ones(total, dtype=np.float32)
    flat[order[: int(n_pruned)]] = 0.0
    masks, start = {}, 0
    for (key, shape), size in zip(shapes.items(), sizes):
        masks[key] = flat[start : start + size].reshape(shape).copy()
        start += size
    return masks


def global_magnitude_masks(weights, sparsity):
    """Global magnitude masks: one threshold over all counted weights.

    Exactly ``floor(s * n + 1/2)`` of the ``n`` entries (over all tensors) are zeroed:
    those with the smallest ``|θ|``, ties broken by higher flat index first.

    Args:
        weights: Mapping ``{key: array}`` of the counted weights.
        sparsity: Target global sparsity in ``[0, 1)``.

    Returns:
        Mapping ``{key: float32 array}`` of 0/1 masks with the weights' shapes.
    """
    sparsity = validate_sparsity(sparsity)
    arrays = _as_arrays(weights)
    order = magnitude_order(arrays)
    return masks_from_order(order, {k: a.shape for k, a in arrays.items()}, num_pruned(sparsity, len(order)))


def layerwise_magnitude_masks(weights, sparsity):
    """Layer-wise magnitude masks: each tensor pruned to its own sparsity.

    Tensor ``l`` with ``n_l`` entries gets exactly ``floor(s_l * n_l + 1/2)`` zeros at
    its smallest ``|θ|`` (ties broken by higher flat index first).

    Args:
        weights: Mapping ``{key: array}``.
        sparsity: One sparsity in ``[0, 1)`` for every tensor, or a mapping
            ``{key: sparsity}``; tensors missing from the mapping are not pruned.

    Returns:
        Mapping ``{key: float32 array}`` of 0/1 masks.

    Raises:
        ValueError: For an invalid sparsity or a key of ``sparsity`` that is not in
            ``weights``.
    """
    arrays = _as_arrays(weights)
    if hasattr(sparsity, "items"):
        unknown = sorted(set(sparsity) - set(arrays))
        if unknown:
            raise ValueError(
                f"Unknown weight keys in `sparsity`: {unknown}. Available keys: {list(arrays)}"
            )
        per_key = {k: validate_sparsity(sparsity.get(k, 0.0), f"sparsity[{k!r}]") for k in arrays}
    else:
        value = validate_sparsity(sparsity)
        per_key = {k: value for k in arrays}
    masks = {}
    for key, array in arrays.items():
        order = magnitude_order({key: array})
        masks.update(masks_from_order(order, {key: array.shape}, num_pruned(per_key[key], array.size)))
    return masks


def magnitude_masks(model, sparsity, scope="global", include_bias=False, include_batchnorm=False, layers=None):
    """Magnitude masks for the prunable weights of a Keras model.

    Args:
        model: A ``keras.Model`` (plain or already wrapped by :func:`apply_masks`).
        sparsity: Target sparsity in ``[0, 1)`` (for ``scope="layerwise"`` also a
            mapping ``{key: sparsity}``).
        scope: ``"global"`` (one threshold over all counted weights) or
            ``"layerwise"`` (each tensor separately).
        include_bias: Also count biases.
        include_batchnorm: Also count BatchNormalization ``gamma``/``beta``.
        layers: Optional list of layer names to restrict pruning to.

    Returns:
        Mapping ``{"<layer>/<weight>": float32 0/1 mask}``.
    """
    from tf_sfw.pruning.masks import prunable_weights  # local: keeps tfmot out of this module

    weights = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    values = {k: v.numpy() for k, v in weights.items()}
    if scope == "global":
        return global_magnitude_masks(values, sparsity)
    if scope == "layerwise":
        return layerwise_magnitude_masks(values, sparsity)
    raise ValueError(f"`scope` must be 'global' or 'layerwise'. Received: scope={scope!r}")
