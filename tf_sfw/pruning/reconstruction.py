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
forward passes and one small linear system per output column (`tf_sfw.pruning.refit`, shared
with Keras 3's `tf_sfw.keras3.pruning.reconstruct`; the solver is
`tf_sfw.pruning.masked_ridge.solve_masked_ridge`).
"""

import numpy as np

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.pruning import refit, sweep_common
from tf_sfw.pruning.layer_inputs import check_supported, kernel_layer
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, is_pruned, prunable_weights, strip
from tf_sfw.pruning.shrink import kept_output_channels
from tf_sfw.pruning.structured import ChannelGraph
from tf_sfw.pruning.sweep import count_nonzero, evaluate_classifier

__all__ = ["reconstruct", "reconstruction_sweep", "refit_shrunk"]


def _to_numpy(value):
    return value.numpy()


def _refit(model, net, name, columns, mask, x, damping, batch_size, max_unknowns, batchnorm=None):
    """Refits layer ``name`` of ``net`` to ``model``'s layer ``name`` (its outputs ``columns``);
    with ``batchnorm`` (the BatchNormalization layer of ``net`` that alone reads a bias-free
    layer) also an intercept, subtracted from that layer's moving mean."""
    dense_layer, layer = kernel_layer(model, name), kernel_layer(net, name)
    dense_probe, net_probe = refit.probe(keras, model, dense_layer), refit.probe(keras, net, layer)
    dense_bias = dense_layer.bias.numpy() if getattr(dense_layer, "use_bias", False) else None
    intercept = refit.refit_layer(layer, (dense_layer.kernel.numpy(), dense_bias), columns, mask,
                                  lambda batch: dense_probe(batch, training=False),
                                  lambda batch: net_probe(batch, training=False),
                                  x, damping, batch_size, max_unknowns, _to_numpy, intercept=batchnorm is not None)
    if intercept is not None:  # BN(z + b) with mean mu is BN(z) with mean mu - b
        mean = batchnorm.moving_mean.numpy()
        batchnorm.moving_mean.assign((mean - intercept).astype(mean.dtype))


def _check_arguments(model, masks, calibration_x, damping, batch_size):
    if not isinstance(model, keras.Model) or is_pruned(model):
        raise ValueError("`model` must be a plain (unwrapped) Keras model; strip pruning wrappers first. "
                         f"Received: model of type {type(model).__name__}")
    keys = refit.check_kernel_masks(model, prunable_weights(model), masks, damping, batch_size)
    return keys, refit.check_calibration(calibration_x)


def reconstruct(model, masks, calibration_x, damping=0.01, batch_size=128, max_unknowns=2048):
    """A pruned copy of ``model`` whose kept weights and biases are refit by least squares.

    Args:
        model: A built, plain functional or Sequential ``keras.Model`` (not modified).
        masks: ``{"<layer>/kernel": 0/1 array}`` for ``Dense`` / ``Conv2D`` kernels (e.g.
            `tf_sfw.pruning.magnitude_masks`); layers without a mask keep their weights.
        calibration_x: Inputs of the calibration batch (e.g. 1 024 training images).
        damping: Ridge strength relative to the mean diagonal of each layer's Gram matrix.
        batch_size: Examples per forward pass while accumulating the normal equations.
        max_unknowns: See `tf_sfw.pruning.masked_ridge.solve_masked_ridge`.

    Returns:
        A new plain model with the masked entries exactly zero and the kept entries refit;
        weights that are exactly zero in ``model`` already stay zero (refitting a pruned
        model keeps its zeros).
    """
    keys, x = _check_arguments(model, masks, calibration_x, damping, batch_size)
    pruned = strip(apply_masks(model, masks))
    for key in keys:
        name = key.rsplit("/", 1)[0]
        columns = np.arange(kernel_layer(model, key).kernel.shape[-1])
        _refit(model, pruned, name, columns, masks[key], x, damping, batch_size, max_unknowns)
    return pruned


def refit_shrunk(model, shrunk, plan, calibration_x, damping=0.01, batch_size=128, max_unknowns=2048,
                 intercept=False):
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

    With ``intercept=True`` a layer without a bias whose only consumer is a BatchNormalization
    (the convolutions of a ResNet) is refit with a constant per output channel as well, and
    the constant :math:`b` goes into that BatchNorm's moving mean, :math:`\mu \leftarrow \mu - b`
    (exact: :math:`\gamma (z + b - \mu) / \sqrt{\sigma^2 + \epsilon} + \beta` is the BatchNorm of
    :math:`z` with mean :math:`\mu - b`), so the refit can also restore the mean its removed
    inputs carried. Without such a BatchNorm the layer is refit as without ``intercept``.
    """
    x = refit.check_calibration(calibration_x)
    validation.check_positive_number(damping, "damping")
    validation.check_positive_int(batch_size, "batch_size")
    kept = kept_output_channels(model, plan)
    refit_model = keras.models.clone_model(shrunk)
    refit_model.set_weights(shrunk.get_weights())
    for name in kept:
        check_supported(kernel_layer(refit_model, f"{name}/kernel"))
    graph = ChannelGraph(refit_model) if intercept else None
    for name, columns in kept.items():
        bn = None
        if graph is not None and not getattr(refit_model.get_layer(name), "use_bias", False):
            bn = graph.batchnorm_after(name)
        bn = None if bn is None else refit_model.get_layer(bn)
        _refit(model, refit_model, name, columns, None, x, damping, batch_size, max_unknowns, bn)
    return refit_model


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
