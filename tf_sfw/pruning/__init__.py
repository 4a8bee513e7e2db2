"""One-shot magnitude pruning, fixed masks, fine-tuning, sparsity sweeps, metrics, export."""

from tf_sfw.pruning.magnitude import (
    global_magnitude_masks,
    layerwise_magnitude_masks,
    magnitude_masks,
    magnitude_order,
    masks_from_order,
    num_pruned,
    validate_sparsity,
)
from tf_sfw.pruning.masks import (
    FixedMask,
    apply_masks,
    get_masks,
    is_pruned,
    prunable_weights,
    set_masks,
    strip,
    weight_key,
)
from tf_sfw.pruning.retrain import default_fine_tune_optimizer, fine_tune, prune_and_fine_tune

__all__ = [
    "FixedMask",
    "apply_masks",
    "default_fine_tune_optimizer",
    "fine_tune",
    "get_masks",
    "global_magnitude_masks",
    "is_pruned",
    "layerwise_magnitude_masks",
    "magnitude_masks",
    "magnitude_order",
    "masks_from_order",
    "num_pruned",
    "prunable_weights",
    "prune_and_fine_tune",
    "set_masks",
    "strip",
    "validate_sparsity",
    "weight_key",
]
