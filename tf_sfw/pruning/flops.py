"""Multiply-add counts of the conv and dense layers of a model (the FLOPs of CNN tables)."""

import numpy as np

from tf_sfw._keras import keras

__all__ = ["layer_flops", "model_flops"]

_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)


def layer_flops(layer):
    """Multiply-adds of one example through ``layer``: ``P · |W|`` for a convolution (or a
    Dense layer applied at every position of a feature map) with kernel ``W`` and ``P`` output
    positions, e.g. ``H_out·W_out·kh·kw·C_in·C_out`` for Conv2D and ``C_in·C_out`` for Dense
    on vectors; depthwise convolutions count their depthwise kernel. 0 for every other layer
    (biases, BatchNorm, activations, pooling) and for transposed convolutions."""
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = layer.depthwise_kernel
    elif isinstance(layer, keras.layers.Dense) or (isinstance(layer, _CONVS) and not isinstance(layer, _TRANSPOSED)):
        kernel = layer.kernel
    else:
        return 0
    positions = np.prod(layer.output.shape[1:-1], dtype=np.int64)
    return int(positions) * int(np.prod(kernel.shape, dtype=np.int64))


def model_flops(model):
    """Multiply-adds of one example's forward pass through the conv and dense layers
    (:func:`layer_flops` summed; one multiply-add counts as one FLOP, the usual convention of
    CNN FLOP tables). Nested models are included."""
    total = 0
    for layer in model.layers:
        total += model_flops(layer) if isinstance(layer, keras.Model) else layer_flops(layer)
    return total
