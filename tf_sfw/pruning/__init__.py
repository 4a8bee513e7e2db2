"""One-shot magnitude pruning, fixed masks, fine-tuning, sparsity sweeps, metrics, export,
and FW-guided iterative pruning (`prune_simple`, `prune_fw`, `prune_fw_momentum`)."""

from tf_sfw.pruning.export import export_model, load_exported, load_keras_model, predict_exported
from tf_sfw.pruning.iterative import PRUNERS, prune_fw, prune_fw_momentum, prune_simple
from tf_sfw.pruning.iterative import prune as prune_iterative
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
from tf_sfw.pruning.metrics import (
    compressed_size,
    inference_latency,
    pruning_metrics,
    relative_latency,
    sparsity_report,
)
from tf_sfw.pruning.retrain import default_fine_tune_optimizer, fine_tune, prune_and_fine_tune
from tf_sfw.pruning.sweep import (
    DEFAULT_SPARSITIES,
    evaluate_classifier,
    plot_sweep,
    read_sweep_csv,
    sweep,
    write_sweep_csv,
)

__all__ = [
    "PRUNERS",
    "prune_fw",
    "prune_fw_momentum",
    "prune_iterative",
    "prune_simple",
    "DEFAULT_SPARSITIES",
    "FixedMask",
    "apply_masks",
    "compressed_size",
    "default_fine_tune_optimizer",
    "evaluate_classifier",
    "export_model",
    "fine_tune",
    "get_masks",
    "global_magnitude_masks",
    "inference_latency",
    "is_pruned",
    "layerwise_magnitude_masks",
    "load_exported",
    "load_keras_model",
    "magnitude_masks",
    "magnitude_order",
    "masks_from_order",
    "num_pruned",
    "plot_sweep",
    "predict_exported",
    "prunable_weights",
    "prune_and_fine_tune",
    "pruning_metrics",
    "read_sweep_csv",
    "relative_latency",
    "set_masks",
    "sparsity_report",
    "strip",
    "sweep",
    "validate_sparsity",
    "weight_key",
    "write_sweep_csv",
]
