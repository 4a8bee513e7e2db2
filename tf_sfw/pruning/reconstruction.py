r"""Least-squares reconstruction after one-shot pruning: the kept weights refit, no training.

One-shot pruning removes weights and leaves the rest as they were, so every layer's error
reaches the next one and the errors compound. :func:`reconstruct` keeps the mask (from
magnitude, Wanda or any other criterion) and refits the *kept* weights and the bias of each
pruned ``Dense`` / ``Conv2D`` layer, in model order, so that the pruned network reproduces the
dense layer's pre-activation output on a calibration batch. For a layer with dense kernel
:math:`W_d` (flattened to :math:`d \times m`, see `tf_sfw.pruning.layer_inputs`), bias
:math:`b_d`, its input rows :math:`X_d` in the dense network and :math:`X_p` in the pruned
network built so far (earlier layers already pruned and refit, so each layer also corrects the
error that reaches it), and :math:`\tilde X = [X_p\ \mathbf 1]`, every output column
:math:`j` solves a ridge regression over its kept rows :math:`S_j` (and the bias):

.. math::
    \beta_j = \arg\min_{\beta:\ \beta_i = 0,\ i \notin S_j}
        \|\tilde X \beta - (X_d W_d + \mathbf 1 b_d^\top)_{:, j}\|_2^2
        + \lambda \|\beta - \beta^0_j\|_2^2,
    \qquad (G_{S_j S_j} + \lambda I)\,\beta_{S_j} = t_{S_j} + \lambda \beta^0_{S_j},

with :math:`G = \tilde X^\top \tilde X`, :math:`t = \tilde X^\top (X_d W_d + \mathbf 1 b_d^\top)_{:, j}`,
:math:`\beta^0_j` the magnitude-pruned column (kept entries of :math:`W_d`, and :math:`b_d`), and
:math:`\lambda = \text{damping} \cdot \overline{\operatorname{diag} G}` (SparseGPT's 1 % by
default). The prior keeps a column whose calibration data are too few for its kept entries
near the plainly pruned weights instead of near zero. :math:`G` and :math:`t` are summed over
calibration batches, so memory is :math:`O(d^2 + d m)` per layer, not per example.

This is the layer-wise reconstruction of Optimal Brain Compression / SparseGPT (Frantar &
Alistarh, 2022 and 2023) solved exactly for a given mask; no gradient step is taken, only
forward passes and one small linear system per output column
(`tf_sfw.pruning.masked_ridge.solve_masked_ridge`).
"""

import numpy as np
import tensorflow as tf

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.pruning import sweep_common
from tf_sfw.pruning.layer_inputs import check_supported, input_rows, kernel_layer
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masked_ridge import solve_masked_ridge
from tf_sfw.pruning.masks import apply_masks, is_pruned, prunable_weights, strip
from tf_sfw.pruning.shrink import kept_output_channels
from tf_sfw.pruning.sweep import count_nonzero, evaluate_classifier

__all__ = ["reconstruct", "reconstruction_sweep", "refit_shrunk"]


def _probe(model, layer):
    try:
        return keras.Model(model.inputs, layer.input)
    except (AttributeError, ValueError) as err:  # a layer called more than once has no single input
        raise ValueError(f"Layer {layer.name!r}: reconstruction needs a layer with one input "
                         f"(called once). {err}") from None


def _check_arguments(model, masks, calibration_x, damping, batch_size):
    if not isinstance(model, keras.Model) or is_pruned(model):
        raise ValueError("`model` must be a plain (unwrapped) Keras model; strip pruning wrappers first. "
                         f"Received: model of type {type(model).__name__}")
    weights = prunable_weights(model)
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
    x = _check_calibration(calibration_x)
    validation.check_positive_number(damping, "damping")
    validation.check_positive_int(batch_size, "batch_size")
    return [key for key in weights if key in masks], x


def _check_calibration(calibration_x):
    x = np.asarray(calibration_x, np.float32)
    if x.ndim < 1 or x.shape[0] == 0 or not np.all(np.isfinite(x)):
        raise ValueError(f"`calibration_x` must be a non-empty batch of finite inputs. Received: shape {x.shape}")
    return x


def _normal_equations(dense_probe, probe, dense_layer, layer, target_kernel, target_bias, fit_bias, x, batch_size):
    """:math:`G = \\tilde X^\\top \\tilde X` and :math:`\\tilde X^\\top Y` over the calibration batches,
    :math:`Y = X_d W + b` the dense layer's (kept) outputs, :math:`\\tilde X` the refit network's rows."""
    p = int(np.prod(layer.kernel.shape[:-1])) + fit_bias
    gram, target = np.zeros((p, p)), np.zeros((p, target_kernel.shape[1]))
    for start in range(0, x.shape[0], batch_size):
        batch = tf.convert_to_tensor(x[start:start + batch_size])
        x_dense = input_rows(dense_layer, dense_probe(batch, training=False)).numpy().astype(np.float64)
        rows = input_rows(layer, probe(batch, training=False)).numpy().astype(np.float64)
        y = x_dense @ target_kernel + (0.0 if target_bias is None else target_bias)
        if fit_bias:
            rows = np.concatenate([rows, np.ones((rows.shape[0], 1))], axis=1)
        gram += rows.T @ rows
        target += rows.T @ y
    return gram, target


def _refit_layer(model, net, name, columns, mask, x, damping, batch_size, max_unknowns):
    """Refits layer ``name`` of ``net`` in place to the outputs ``columns`` of ``model``'s layer
    ``name``; ``mask`` (the layer's kernel shape, or None: all) fixes its zeros."""
    dense_layer, layer = kernel_layer(model, name), kernel_layer(net, name)
    shape = tuple(layer.kernel.shape)
    dense_kernel = dense_layer.kernel.numpy().astype(np.float64)
    target_kernel = dense_kernel.reshape(-1, dense_kernel.shape[-1])[:, columns]
    target_bias = dense_layer.bias.numpy().astype(np.float64)[columns] if getattr(dense_layer, "use_bias", False) else None
    fit_bias = bool(getattr(layer, "use_bias", False))
    gram, target = _normal_equations(_probe(model, dense_layer), _probe(net, layer), dense_layer, layer,
                                     target_kernel, target_bias, fit_bias, x, batch_size)
    prior = layer.kernel.numpy().astype(np.float64).reshape(-1, shape[-1])
    keep = np.ones_like(prior) if mask is None else (np.asarray(mask).reshape(prior.shape) != 0).astype(np.float64)
    if fit_bias:
        prior = np.concatenate([prior, layer.bias.numpy().astype(np.float64)[None, :]])
        keep = np.concatenate([keep, np.ones((1, shape[-1]))])
    beta = solve_masked_ridge(gram, target, keep, prior, damping, max_unknowns)
    layer.kernel.assign(beta[:prior.shape[0] - fit_bias].reshape(shape).astype(layer.kernel.dtype.as_numpy_dtype))
    if fit_bias:
        layer.bias.assign(beta[-1].astype(layer.bias.dtype.as_numpy_dtype))


def reconstruct(model, masks, calibration_x, damping=0.01, batch_size=128, max_unknowns=2048):
    """A pruned copy of ``model`` whose kept weights and biases are refit by least squares.

    Args:
        model: A built, plain functional or Sequential ``keras.Model`` (not modified).
        masks: ``{"<layer>/kernel": 0/1 array}`` for ``Dense`` / ``Conv2D`` kernels (e.g.
            `tf_sfw.pruning.magnitude_masks`); layers without a mask keep their weights.
        calibration_x: Inputs of the calibration batch (e.g. 1 024 training images).
        damping: Ridge strength relative to the mean diagonal of each layer's Gram matrix.
        batch_size: Examples per forward pass while accumulating the normal equations.
        max_unknowns: See :func:`solve_masked_ridge`.

    Returns:
        A new plain model with the masked entries exactly zero and the kept entries refit.
    """
    keys, x = _check_arguments(model, masks, calibration_x, damping, batch_size)
    for key in keys:
        check_supported(kernel_layer(model, key))
    pruned = strip(apply_masks(model, masks))
    for key in keys:
        name = key.rsplit("/", 1)[0]
        columns = np.arange(kernel_layer(model, key).kernel.shape[-1])
        _refit_layer(model, pruned, name, columns, masks[key], x, damping, batch_size, max_unknowns)
    return pruned


def refit_shrunk(model, shrunk, plan, calibration_x, damping=0.01, batch_size=128, max_unknowns=2048):
    r"""Structured pruning's reconstruction: a copy of ``shrunk`` whose Dense / Conv2D layers are
    refit, in model order, by least squares to ``model``'s outputs of the channels they kept.

    ``shrunk`` is ``tf_sfw.pruning.shrink_model(model, plan)`` (filters / units removed, the
    next layers' inputs with them). Every layer of it solves the ridge regression of the
    module docstring with all its entries free: its input rows come from the shrunken network
    refit so far, its target is the dense layer's pre-activation output restricted to the
    layer's kept output channels (`tf_sfw.pruning.shrink.kept_output_channels`) -- the
    least-squares channel pruning of He, Zhang and Sun (ICCV 2017, "Channel Pruning for
    Accelerating Very Deep Neural Networks") and ThiNet (Luo, Wu and Lin, ICCV 2017), with the
    channels chosen by the plan. A BatchNorm after a refit convolution then sees the
    statistics it was trained with.
    """
    x = _check_calibration(calibration_x)
    validation.check_positive_number(damping, "damping")
    validation.check_positive_int(batch_size, "batch_size")
    kept = kept_output_channels(model, plan)
    refit = keras.models.clone_model(shrunk)
    refit.set_weights(shrunk.get_weights())
    for name, columns in kept.items():
        check_supported(kernel_layer(refit, f"{name}/kernel"))
    for name, columns in kept.items():
        _refit_layer(model, refit, name, columns, None, x, damping, batch_size, max_unknowns)
    return refit


def reconstruction_sweep(model, eval_data, sparsities, calibration_x, scope="global", layers=None, damping=0.01,
                         batch_size=256):
    """Like `tf_sfw.pruning.sweep`, with each magnitude-pruned model refit by :func:`reconstruct`.

    ``layers`` restricts pruning (and the refit) to those layers. ``model`` is not modified.
    Rows have the keys of `tf_sfw.pruning.sweep`'s rows (kernels counted).
    """
    sparsities = sweep_common.check_sparsities(sparsities)
    sweep_common.check_scope(scope)
    rows = []
    for s in sparsities:
        rebuilt = reconstruct(model, magnitude_masks(model, s, scope=scope, layers=layers), calibration_x,
                              damping=damping)
        loss, accuracy = evaluate_classifier(rebuilt, eval_data, batch_size=batch_size)
        values = [v.numpy() for v in prunable_weights(rebuilt).values()]
        rows.append(sweep_common.sweep_row(s, values, loss, accuracy, count_nonzero(rebuilt)))
    return rows
