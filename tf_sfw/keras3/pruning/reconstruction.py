r"""Least-squares refit after one-shot pruning for Keras 3 models, on every backend.

The Keras 3 face of `tf_sfw.pruning.reconstruction`: the magnitude (or any) mask is kept and the
kept weights and biases of every masked ``Dense`` / ``Conv2D`` layer are refit, in model order, by
ridge least squares to the dense layer's pre-activation outputs on calibration inputs, from the
inputs the already-refit layers produce (Optimal Brain Compression / SparseGPT's layer-wise
reconstruction, solved exactly per output column; no gradient step). The math is
`tf_sfw.pruning.refit` and `tf_sfw.pruning.masked_ridge`, shared with the tf_keras flavour; only
the model copy and the masks are Keras 3's. Needs only ``keras`` >= 3 and NumPy (no TensorFlow
under JAX or PyTorch).

Example::

    from tf_sfw.keras3 import pruning

    masks = pruning.magnitude_masks(model, 0.9)
    pruning.reconstruct(model, masks, x_train[:1024])   # in place: the zeros, the kept weights refit
"""

import keras
import numpy as np

from tf_sfw.keras3.pruning.masks import apply_masks, magnitude_masks, prunable_weights
from tf_sfw.keras3.pruning.sweep import evaluate_classifier
from tf_sfw.pruning import refit, sweep_common

__all__ = ["reconstruct", "reconstruction_sweep"]


def reconstruct(model, masks, calibration_x, damping=0.01, batch_size=128, max_unknowns=2048):
    """Prunes the Keras 3 ``model`` in place to ``masks`` and refits its kept weights and biases by least squares.

    In place, like `tf_sfw.keras3.pruning.apply_masks` (copying a Keras 3 model goes through its
    config, which imports TensorFlow): the dense network's layer inputs are read with the dense
    weights put back for the forward pass, then the pruned and refit ones restored.

    Args:
        model: A built functional or Sequential Keras 3 model, dense (its weights are replaced).
        masks: ``{"<layer>/kernel": 0/1 array}`` for top-level ``Dense`` / ``Conv2D`` kernels
            (e.g. `tf_sfw.keras3.pruning.magnitude_masks`); other layers keep their weights.
        calibration_x: Calibration inputs (e.g. 1 024 training images, scaled as in training).
        damping: Ridge strength relative to the mean diagonal of each layer's Gram matrix.
        batch_size: Examples per forward pass while accumulating the normal equations.
        max_unknowns: See `tf_sfw.pruning.masked_ridge.solve_masked_ridge`.

    Returns:
        ``model``, with the masked entries exactly zero and the kept entries refit (weights that
        were exactly zero already stay zero).
    """
    keys = refit.check_kernel_masks(model, prunable_weights(model), masks, damping, batch_size)
    x = refit.check_calibration(calibration_x)
    dense = model.get_weights()
    apply_masks(model, {key: masks[key] for key in keys})

    def with_dense_weights(probe_model):
        def run(batch):
            current = model.get_weights()
            model.set_weights(dense)
            try:
                return keras.ops.convert_to_numpy(probe_model(batch, training=False))
            finally:
                model.set_weights(current)

        return run

    index = {id(w): i for i, w in enumerate(model.weights)}  # get_weights() is in model.weights' order
    for key in keys:
        layer = model.get_layer(key.rsplit("/", 1)[0])
        probe_model = refit.probe(keras, model, layer)
        dense_kernel = dense[index[id(layer.kernel)]]
        dense_bias = dense[index[id(layer.bias)]] if getattr(layer, "use_bias", False) else None
        refit.refit_layer(layer, (dense_kernel, dense_bias), np.arange(dense_kernel.shape[-1]), masks[key],
                          with_dense_weights(probe_model),
                          lambda batch, p=probe_model: keras.ops.convert_to_numpy(p(batch, training=False)),
                          x, damping, batch_size, max_unknowns, keras.ops.convert_to_numpy)
    return model


def reconstruction_sweep(model, x, y, sparsities, calibration_x, scope="global", layers=None, batch_size=256,
                         damping=0.01):
    """Like `tf_sfw.keras3.pruning.sweep`, each magnitude-pruned model refit by :func:`reconstruct`
    before it is evaluated; the dense weights are restored at the end. Rows have the sweep's keys."""
    sparsities = sweep_common.check_sparsities(sparsities)
    sweep_common.check_scope(scope)
    dense = model.get_weights()
    rows = []
    try:
        for s in sparsities:
            model.set_weights(dense)
            reconstruct(model, magnitude_masks(model, s, scope=scope, layers=layers), calibration_x, damping=damping)
            loss, accuracy = evaluate_classifier(model, x, y, batch_size=batch_size)
            values = [keras.ops.convert_to_numpy(v) for v in prunable_weights(model, layers=layers).values()]
            rows.append(sweep_common.sweep_row(s, values, loss, accuracy, sweep_common.count_nonzero(model)))
    finally:
        model.set_weights(dense)
    return rows
