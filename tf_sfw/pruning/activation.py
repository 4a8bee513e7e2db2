r"""Activation-aware one-shot pruning: the Wanda criterion for Keras models.

Sun et al. (ICLR 2024, "A Simple and Effective Pruning Approach for Large Language Models",
Wanda) score each weight by its magnitude times the norm of the input feature it multiplies,
measured on a calibration batch:

.. math::
    S_{ij} = |W_{ij}|\cdot\|X_j\|_2,

where :math:`X_j` is the column of all values the weight's input ``j`` takes over the
calibration data. The entries with the smallest scores are pruned, either with one threshold
over all counted kernels (``scope="global"``) or per kernel (``scope="layerwise"``); the
masks are built by the same routines as magnitude masks, applied to the scores.

* ``Dense`` kernel (in, out): :math:`X_j` is input unit ``j`` over the N calibration
  examples (and any leading axes of the input).
* ``Conv2D`` kernel (kh, kw, c_in, c_out): the convolution is a matrix product with the
  im2col patches of the layer input (`tf_sfw.pruning.layer_inputs`), whose columns are
  indexed by (kh, kw, c_in) in the kernel's order. :math:`X_j` is the exact im2col column, i.e. the input channel's values at
  that kernel offset over every output position (with the layer's strides, dilation and
  padding, zero padding included), not the norm of the whole input channel. So an input
  pixel a ``valid`` convolution never reaches at some offset does not count for it.

Other layer types with prunable kernels (depthwise convolutions, grouped convolutions,
Conv1D/3D) are rejected with a ValueError.
"""

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.layer_inputs import input_rows, kernel_layer
from tf_sfw.pruning.magnitude import global_magnitude_masks, layerwise_magnitude_masks
from tf_sfw.pruning.masks import prunable_weights

__all__ = ["activation_masks", "activation_scores", "input_feature_norms"]


def _column_norms(layer, inputs):
    """‖X_j‖₂ for every row j of the layer's kernel (flattened to (rows, out))."""
    rows = input_rows(layer, inputs).astype(np.float64)
    return np.sqrt(np.sum(rows * rows, axis=0))


def input_feature_norms(model, calibration_x, keys=None):
    """‖X_j‖₂ of the input feature of every kernel entry, over a calibration batch.

    Args:
        model: A built functional ``keras.Model`` (plain or wrapped by `apply_masks`).
        calibration_x: Input array or tensor (a batch of examples, as fed to the model).
        keys: Kernel keys ``"<layer>/kernel"``; default: every prunable kernel.

    Returns:
        ``{key: float64 array of the kernel's shape}``: the norm of the input feature each
        entry multiplies (broadcast over the kernel's output axis).
    """
    weights = prunable_weights(model)
    if keys is None:
        keys = list(weights)
    layers = [kernel_layer(model, k) for k in keys]
    probe = keras.Model(model.inputs, [layer.input for layer in layers])
    outputs = probe(tf.convert_to_tensor(calibration_x, tf.float32), training=False)
    if not isinstance(outputs, (list, tuple)):
        outputs = [outputs]
    norms = {}
    for key, layer, inputs in zip(keys, layers, outputs):
        column = _column_norms(layer, inputs).astype(np.float64)
        kernel_shape = tuple(weights[key].shape)
        rows = int(np.prod(kernel_shape[:-1]))
        if column.size != rows:
            raise ValueError(f"Layer {layer.name!r}: {column.size} input features for {rows} kernel rows.")
        norms[key] = np.broadcast_to(column.reshape(kernel_shape[:-1] + (1,)), kernel_shape).copy()
    return norms


def activation_scores(model, calibration_x):
    """Wanda scores :math:`|W_{ij}|\\,\\|X_j\\|_2` of every prunable kernel, ``{key: array}``."""
    weights = prunable_weights(model)
    norms = input_feature_norms(model, calibration_x, list(weights))
    return {k: np.abs(v.numpy().astype(np.float64)) * norms[k] for k, v in weights.items()}


def activation_masks(model, calibration_x, sparsity, scope="global"):
    """Masks that prune the kernel entries with the smallest Wanda scores.

    Args:
        model: A built functional ``keras.Model`` (Dense/Conv2D kernels).
        calibration_x: A batch of inputs (e.g. 256 training images).
        sparsity: Target sparsity in [0, 1).
        scope: ``"global"`` (one threshold over all kernels) or ``"layerwise"`` (each kernel
            to ``sparsity``).

    Returns:
        ``{"<layer>/kernel": float32 0/1 mask}``, for `tf_sfw.pruning.apply_masks`.
    """
    if scope not in ("global", "layerwise"):
        raise ValueError(f"`scope` must be 'global' or 'layerwise'. Received: scope={scope!r}")
    scores = activation_scores(model, calibration_x)
    if scope == "global":
        return global_magnitude_masks(scores, sparsity)
    return layerwise_magnitude_masks(scores, sparsity)
