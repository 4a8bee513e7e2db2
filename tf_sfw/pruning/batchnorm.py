r"""Re-estimating BatchNormalization statistics after pruning, with forward passes only.

Pruning changes the distribution of every activation after the first pruned layer, but the
BatchNorm moving mean and variance still describe the dense network. Recomputing them on a
few training batches (as for "BN recalibration" after quantization or in the one-shot pruning
literature, e.g. Li et al., 2020, "EagleEye") often recovers much of the lost accuracy
without any training.

:func:`reestimate_batchnorm` runs the model in training mode on ``num_batches`` batches with
each BatchNorm layer's momentum set so that the moving statistics become the plain average
of the per-batch statistics: at the i-th batch (1-based) momentum :math:`1 - 1/i`, i.e.

.. math::
    \hat\mu_i = (1 - \tfrac1i)\,\hat\mu_{i-1} + \tfrac1i\,\mu_{B_i}
    \quad\Rightarrow\quad \hat\mu_n = \tfrac1n \textstyle\sum_{i} \mu_{B_i}

(likewise the variance). The forward passes are eager calls ``model(x, training=True)``; no
gradient is computed and no trainable weight changes. Dropout is active in these passes, as
in PyTorch's usual recipe (``model.train()`` under ``no_grad``).
"""

import numbers

import tensorflow as tf

from tf_sfw._keras import keras

__all__ = ["batchnorm_layers", "reestimate_batchnorm"]


def batchnorm_layers(model):
    """Every BatchNormalization layer of ``model`` (nested models and wrappers included)."""
    found = []
    for layer in model.submodules:
        if isinstance(layer, keras.layers.BatchNormalization) and layer not in found:
            found.append(layer)
    return found


def reestimate_batchnorm(model, data, num_batches=None):
    """Recomputes the moving mean/variance of every BatchNorm layer of ``model`` in place.

    Args:
        model: A Keras model.
        data: A ``tf.data.Dataset`` of batches ``x`` or ``(x, y, ...)``, or an iterable of
            input arrays.
        num_batches: Number of batches to use (None: all of ``data``).

    Returns:
        The number of batches used (0 when ``model`` has no BatchNorm layer; then nothing
        runs).

    Raises:
        ValueError: For an invalid ``num_batches`` or empty data.
    """
    if num_batches is not None and (
        isinstance(num_batches, bool) or not isinstance(num_batches, numbers.Integral) or num_batches < 1
    ):
        raise ValueError(f"`num_batches` must be a positive integer or None. Received: num_batches={num_batches!r}")
    layers = batchnorm_layers(model)
    if not layers:
        return 0
    saved = [layer.momentum for layer in layers]
    used = 0
    try:
        for batch in data:
            if num_batches is not None and used >= num_batches:
                break
            x = batch[0] if isinstance(batch, (tuple, list)) else batch
            used += 1
            for layer in layers:
                layer.momentum = 1.0 - 1.0 / used
            model(tf.convert_to_tensor(x), training=True)
    finally:
        for layer, momentum in zip(layers, saved):
            layer.momentum = momentum
    if used == 0:
        raise ValueError("`data` is empty: no batch to estimate BatchNorm statistics from.")
    return used
