"""One-shot magnitude pruning for Keras 3 models (``import keras``), on every backend, without tfmot.

Global and layer-wise magnitude masks (`magnitude_masks`, exact counts, the tie rule of
`tf_sfw.selection`), sparsity sweeps without retraining (`sweep`), fine-tuning with fixed
masks that keep pruned weights exactly zero through ``model.fit`` (`fine_tune`,
`fixed_masks`: the masks are variable constraints, applied by the optimizer after every
update, also under JAX), and export (`export_model`: ``.keras`` on every backend, a
SavedModel through ``model.export`` on TensorFlow). Needs only ``keras`` >= 3 and NumPy:
under ``KERAS_BACKEND=jax`` or ``torch`` nothing here imports TensorFlow (except
`load_exported` / `predict_exported`, which read a SavedModel).

Example::

    from tf_sfw.keras3 import pruning

    masks = pruning.magnitude_masks(model, 0.9)            # global, kernels only
    pruning.fine_tune(model, masks, x_train, y_train, epochs=1)
    rows = pruning.sweep(model, x_test, y_test, [0.5, 0.9, 0.95])
    pruning.reconstruct(model, masks, x_train[:1024])     # in place: pruned, kept weights refit
    pruning.export_model(model, "saved_models/pruned")

Public names are imported on first use.
"""

from tf_sfw import _lazy

__all__ = _lazy.install(
    __name__,
    {
        "prunable_weights": ("tf_sfw.keras3.pruning.masks", "prunable_weights"),
        "magnitude_masks": ("tf_sfw.keras3.pruning.masks", "magnitude_masks"),
        "check_masks": ("tf_sfw.keras3.pruning.masks", "check_masks"),
        "apply_masks": ("tf_sfw.keras3.pruning.masks", "apply_masks"),
        "global_magnitude_masks": ("tf_sfw.pruning.magnitude", "global_magnitude_masks"),
        "layerwise_magnitude_masks": ("tf_sfw.pruning.magnitude", "layerwise_magnitude_masks"),
        "num_pruned": ("tf_sfw.pruning.magnitude", "num_pruned"),
        "validate_sparsity": ("tf_sfw.pruning.magnitude", "validate_sparsity"),
        "MaskConstraint": ("tf_sfw.keras3.pruning.fixed_masks", "MaskConstraint"),
        "hold_masks": ("tf_sfw.keras3.pruning.fixed_masks", "hold_masks"),
        "release_masks": ("tf_sfw.keras3.pruning.fixed_masks", "release_masks"),
        "held_masks": ("tf_sfw.keras3.pruning.fixed_masks", "held_masks"),
        "fixed_masks": ("tf_sfw.keras3.pruning.fixed_masks", "fixed_masks"),
        "default_fine_tune_optimizer": ("tf_sfw.keras3.pruning.retrain", "default_fine_tune_optimizer"),
        "fine_tune": ("tf_sfw.keras3.pruning.retrain", "fine_tune"),
        "reconstruct": ("tf_sfw.keras3.pruning.reconstruction", "reconstruct"),
        "reconstruction_sweep": ("tf_sfw.keras3.pruning.reconstruction", "reconstruction_sweep"),
        "DEFAULT_SPARSITIES": ("tf_sfw.pruning.sweep_common", "DEFAULT_SPARSITIES"),
        "evaluate_classifier": ("tf_sfw.keras3.pruning.sweep", "evaluate_classifier"),
        "sweep": ("tf_sfw.keras3.pruning.sweep", "sweep"),
        "count_nonzero": ("tf_sfw.pruning.sweep_common", "count_nonzero"),
        "write_sweep_csv": ("tf_sfw.pruning.sweep_common", "write_sweep_csv"),
        "read_sweep_csv": ("tf_sfw.pruning.sweep_common", "read_sweep_csv"),
        "plot_sweep": ("tf_sfw.pruning.sweep_common", "plot_sweep"),
        "export_model": ("tf_sfw.keras3.pruning.export", "export_model"),
        "load_keras_model": ("tf_sfw.keras3.pruning.export", "load_keras_model"),
        "load_exported": ("tf_sfw.keras3.pruning.export", "load_exported"),
        "predict_exported": ("tf_sfw.keras3.pruning.export", "predict_exported"),
        "masks": ("tf_sfw.keras3.pruning.masks", None),
        "retrain": ("tf_sfw.keras3.pruning.retrain", None),
        "export": ("tf_sfw.keras3.pruning.export", None),
    },
)
