r"""Layer-by-layer least-squares refit of a pruned network, written once for both Keras flavours.

For a Dense / Conv2D layer of the network being refit and the same layer of the dense network
(kernel :math:`W_d`, bias :math:`b_d`): with :math:`X_d` the dense layer's input rows and
:math:`\tilde X = [X\ \mathbf 1]` the refit network's (`tf_sfw.pruning.layer_inputs`; the
bias column when the layer has one), the normal equations

.. math::
    G = \sum_{\text{batches}} \tilde X^\top \tilde X, \qquad
    T = \sum_{\text{batches}} \tilde X^\top (X_d W_d + \mathbf 1 b_d^\top)_{:, C}

(:math:`C` the dense layer's output channels the layer keeps) are summed over calibration
batches and solved column by column, with the layer's zero pattern and a ridge towards its
current weights (`tf_sfw.pruning.masked_ridge`); the result is assigned to the layer. Everything
framework-specific comes in as arguments: the layer's inputs in the dense and in the refit
network as functions of a batch (`probe` builds them from the flavour's ``keras.Model``) and
``to_numpy`` (a variable to a NumPy array), so `tf_sfw.pruning.reconstruction` (tf_keras, a
pruned copy) and `tf_sfw.keras3.pruning.reconstruction` (Keras 3 on any backend, in place) share
it. Importing this module imports neither TensorFlow nor Keras.
"""

import numpy as np

from tf_sfw import validation
from tf_sfw.pruning.layer_inputs import check_supported, input_rows, kernel_layer
from tf_sfw.pruning.masked_ridge import solve_masked_ridge

__all__ = ["check_calibration", "check_kernel_masks", "probe", "refit_layer"]


def check_calibration(calibration_x):
    """``calibration_x`` as float32 NumPy; ValueError for an empty or non-finite batch."""
    x = np.asarray(calibration_x, np.float32)
    if x.ndim < 1 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"`calibration_x` must be a non-empty batch of finite inputs. Received: shape {x.shape}")
    return x


def check_kernel_masks(model, weights, masks, damping, batch_size):
    """The keys of ``masks`` in model order (``weights``: the flavour's prunable weights), checked:
    top-level Dense / Conv2D kernels of matching shapes, ``damping`` > 0, ``batch_size`` >= 1."""
    if not isinstance(masks, dict) or not masks:
        raise ValueError(f"`masks` must be a non-empty dict {{'<layer>/kernel': 0/1 array}}. Received: masks={masks!r}")
    for key, mask in masks.items():
        if key not in weights or not key.endswith("/kernel"):
            raise ValueError(f"`masks` key {key!r} is not a prunable kernel of the model. Known: {sorted(weights)}")
        if key.count("/") != 1:
            raise ValueError(f"`masks` key {key!r} is inside a nested sub-model: reconstruction needs the kernels' "
                             "layers at the top level of a functional or Sequential model.")
        if tuple(np.shape(mask)) != tuple(weights[key].shape):
            raise ValueError(f"`masks[{key!r}]` has shape {np.shape(mask)}, the kernel {tuple(weights[key].shape)}.")
    validation.check_positive_number(damping, "damping")
    validation.check_positive_int(batch_size, "batch_size")
    keys = [key for key in weights if key in masks]
    for key in keys:
        check_supported(kernel_layer(model, key))
    return keys


def probe(keras, model, layer):
    """A model from ``model``'s input to ``layer``'s input (ValueError for a layer used twice)."""
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    try:
        return keras.Model(inputs, layer.input)
    except (AttributeError, ValueError) as err:  # a layer called more than once has no single input
        raise ValueError(f"Layer {layer.name!r}: reconstruction needs a layer with one input "
                         f"(called once). {err}") from None


def _normal_equations(layer, dense_inputs, inputs, target_kernel, target_bias, fit_bias, x, batch_size):
    """:math:`G` and :math:`T` of the module docstring over the calibration batches."""
    p = int(np.prod(tuple(layer.kernel.shape)[:-1])) + fit_bias
    gram, target = np.zeros((p, p)), np.zeros((p, target_kernel.shape[1]))
    for start in range(0, x.shape[0], batch_size):
        batch = x[start:start + batch_size]
        x_dense = input_rows(layer, dense_inputs(batch)).astype(np.float64)
        rows = input_rows(layer, inputs(batch)).astype(np.float64)
        y = x_dense @ target_kernel + (0.0 if target_bias is None else target_bias)
        if fit_bias:
            rows = np.concatenate([rows, np.ones((rows.shape[0], 1))], axis=1)
        gram += rows.T @ rows
        target += rows.T @ y
    return gram, target


def refit_layer(layer, dense_weights, columns, mask, dense_inputs, inputs, x, damping, batch_size, max_unknowns,
                to_numpy, intercept=False):
    """Refits ``layer`` in place.

    Args:
        layer: The Dense / Conv2D layer of the network being refit.
        dense_weights: ``(kernel, bias or None)`` NumPy arrays of the same layer in the dense network.
        columns: The dense layer's output channels ``layer`` keeps (all, unless filters were removed).
        mask: 0/1 array of ``layer``'s kernel shape fixing its zeros (with the entries that are
            exactly zero in ``layer`` already), or None (every entry free).
        dense_inputs, inputs: ``batch -> array``: the layer's input in the dense network and in
            the network being refit (NumPy batches in, anything ``np.asarray`` reads out).
        x, damping, batch_size, max_unknowns: Calibration inputs and solver settings.
        to_numpy: A variable of the flavour to a NumPy array.
        intercept: For a layer without a bias: also fit a constant per output channel (the
            ones column of the module docstring, prior 0) and return it, for the caller to
            place elsewhere (e.g. into the moving mean of the BatchNorm that follows).

    Returns:
        The fitted intercept (NumPy, one per output channel) with ``intercept`` and a
        bias-free layer; otherwise None.
    """
    shape = tuple(layer.kernel.shape)
    dense_kernel, dense_bias = dense_weights
    target_kernel = np.asarray(dense_kernel, np.float64).reshape(-1, dense_kernel.shape[-1])[:, columns]
    target_bias = None if dense_bias is None else np.asarray(dense_bias, np.float64)[columns]
    has_bias = bool(getattr(layer, "use_bias", False))
    fit_bias = has_bias or bool(intercept)
    gram, target = _normal_equations(layer, dense_inputs, inputs, target_kernel, target_bias, fit_bias, x, batch_size)
    kernel = to_numpy(layer.kernel)
    prior = kernel.astype(np.float64).reshape(-1, shape[-1])
    keep = np.ones_like(prior)
    if mask is not None:  # the mask's zeros, and the weights that were zero already, stay zero
        keep = ((np.asarray(mask).reshape(prior.shape) != 0) & (prior != 0)).astype(np.float64)
    if fit_bias:
        bias = to_numpy(layer.bias).astype(np.float64) if has_bias else np.zeros(shape[-1])
        prior = np.concatenate([prior, bias[None, :]])
        keep = np.concatenate([keep, np.ones((1, shape[-1]))])
    beta = solve_masked_ridge(gram, target, keep, prior, damping, max_unknowns)
    layer.kernel.assign(beta[:prior.shape[0] - fit_bias].reshape(shape).astype(kernel.dtype))
    if has_bias:
        layer.bias.assign(beta[-1].astype(kernel.dtype))
    return beta[-1] if fit_bias and not has_bias else None
