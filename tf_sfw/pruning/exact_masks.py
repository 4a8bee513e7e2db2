"""Exact tfmot masks: make tfmot's threshold masks hit the target sparsity on ties.

tfmot's ``prune_low_magnitude`` keeps every entry whose magnitude reaches its threshold,
``|w| >=`` the k-th largest magnitude with ``k = max(round(n (1 - s)), 1)``. Stochastic
Frank-Wolfe iterates sit at or near vertices of the K-sparse polytope, where many entries
have exactly equal magnitudes, so tfmot keeps all tied entries and falls short of the
target (e.g. 76% instead of 80%). :func:`make_masks_exact` recomputes each wrapper's mask
with this package's exact rule (`tf_sfw.pruning.magnitude`: ``min(floor(s n + 1/2), n - 1)``
zeros at the smallest ``|w|``, ties broken by ascending index), and :class:`ExactMasks`
does it from ``model.fit``.
"""

import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning import masks as masks_lib
from tf_sfw.pruning.magnitude import layerwise_magnitude_masks, validate_sparsity

__all__ = ["make_masks_exact", "ExactMasks"]


def _target_sparsity(wrapper):
    """Sparsity of a tfmot wrapper's own schedule at its current pruning step."""
    step = tf.maximum(tf.convert_to_tensor(wrapper.pruning_step), 0)
    return float(wrapper.pruning_schedule(step)[1])


def make_masks_exact(pruned_model, sparsity=None):
    """Sets the masks of tfmot pruning wrappers to exactly the target sparsity, in place.

    tfmot keeps every entry whose magnitude reaches its threshold, so tied magnitudes
    (typical of Frank-Wolfe iterates) leave fewer zeros than asked for (see the module
    docstring). This recomputes each wrapped weight's mask with this package's exact rule
    (`tf_sfw.pruning.magnitude.layerwise_magnitude_masks`: exactly
    ``min(floor(s n + 1/2), n - 1)`` zeros at the smallest ``|w|``, ties broken by index)
    and zeroes the pruned weights.

    Args:
        pruned_model: A model with tfmot ``prune_low_magnitude`` wrappers (nested
            sub-models included).
        sparsity: Target sparsity in ``[0, 1)`` for every wrapped weight, or None for each
            wrapper's own schedule at its current step (``ConstantSparsity``: its target;
            ``PolynomialDecay`` after ``end_step``: its final sparsity). Wrappers with a
            `tf_sfw.pruning.masks.FixedMask` schedule (from `apply_masks`, already exact) are
            left alone when ``sparsity`` is None.

    Returns:
        ``{"<layer>/<weight>": achieved sparsity}`` of the masks set.

    Raises:
        ValueError: For a model without pruning wrappers, an invalid ``sparsity``, or
            wrappers with block or m-by-n sparsity (whose masks are not per entry).
    """
    if sparsity is not None:
        sparsity = validate_sparsity(sparsity)
    masks_lib._mask_vars(pruned_model)  # refuses a model without wrappers
    achieved = {}
    for layer, prefix in masks_lib._leaf_layers(pruned_model):
        if not masks_lib._is_wrapper(layer):
            continue
        if tuple(getattr(layer, "block_size", (1, 1))) != (1, 1) or getattr(layer, "sparsity_m_by_n", None):
            raise ValueError(
                f"Layer {layer.name!r} uses block or m-by-n sparsity; make_masks_exact handles per-entry masks only."
            )
        if sparsity is None and isinstance(layer.pruning_schedule, masks_lib.FixedMask):
            continue
        target = _target_sparsity(layer) if sparsity is None else sparsity
        for weight, mask_var, _ in layer.pruning_vars:
            key = masks_lib.weight_key(layer, weight, prefix)
            mask = layerwise_magnitude_masks({key: weight.numpy()}, target)[key]
            mask_var.assign(mask.astype(mask_var.dtype.as_numpy_dtype))
            weight.assign(weight.numpy() * mask.astype(weight.dtype.as_numpy_dtype))
            achieved[key] = float((mask == 0).mean())
    return achieved


class ExactMasks(keras.callbacks.Callback):
    """Calls :func:`make_masks_exact` at the end of every epoch and of training.

    Put it after ``tfmot.sparsity.keras.UpdatePruningStep`` in the callbacks list, so that
    it runs after tfmot's own mask update and the model ends training (and is stripped)
    with exactly the target sparsity.

    Args:
        sparsity: As for :func:`make_masks_exact` (None: each wrapper's schedule).
    """

    def __init__(self, sparsity=None):
        super().__init__()
        if sparsity is not None:
            sparsity = validate_sparsity(sparsity)
        self.sparsity = sparsity

    def on_epoch_end(self, epoch, logs=None):
        make_masks_exact(self.model, self.sparsity)

    def on_train_end(self, logs=None):
        make_masks_exact(self.model, self.sparsity)
