"""One-shot magnitude masks on Keras 3 models: which weights count, the masks, and zeroing.

Masks are NumPy arrays keyed ``"<layer name>/<weight name>"`` (``"dense/kernel"``), with
``1`` = keep and ``0`` = prune; in a model with nested sub-models (a Sequential or
functional model used as a layer) the key starts with the sub-models' names
(``"encoder/conv2d/kernel"``). The keys, the counted weights (kernels; optionally biases
and BatchNormalization ``gamma``/``beta``, `tf_sfw.pruning.counted`) and the mask math
(`tf_sfw.pruning.magnitude`: exactly ``floor(s n + 1/2)`` zeros, ties broken by flat index)
are those of the tf_keras flavour `tf_sfw.pruning`, so the same weights give the same
masks under tf_keras and under Keras 3 on every backend.

Unlike the tf_keras flavour there are no wrapper layers: :func:`apply_masks` zeroes the
pruned entries of the model's own variables in place, and
`tf_sfw.keras3.pruning.fixed_masks` keeps them at zero while training.
"""

import keras
import numpy as np

from tf_sfw.pruning import counted
from tf_sfw.pruning.magnitude import global_magnitude_masks, layerwise_magnitude_masks
from tf_sfw.pruning.sweep_common import check_scope

__all__ = ["prunable_weights", "magnitude_masks", "check_masks", "apply_masks"]


def _check_model(model, name="model"):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{name}` must be a Keras 3 `keras.Model`. Received: {name} of type {type(model).__name__}"
        )
    if not model.built:
        raise ValueError(
            f"`{name}` {model.name!r} must be built before pruning (call it on data or give it an Input)."
        )


def _leaf_layers(model, prefix=""):
    """``(layer, prefix)`` for every layer of ``model`` that is not itself a model, in model
    order, descending into nested sub-models (``prefix`` = their names joined by "/")."""
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            yield from _leaf_layers(layer, f"{prefix}{layer.name}/")
        else:
            yield layer, prefix


def prunable_weights(model, include_bias=False, include_batchnorm=False, layers=None):
    """The weights that count for pruning, keyed ``"<layer>/<weight>"`` in model order.

    Args:
        model: A built Keras 3 ``keras.Model``.
        include_bias: Also return biases (``"<layer>/bias"``).
        include_batchnorm: Also return BatchNormalization ``gamma`` and ``beta``.
        layers: Optional iterable of layer names (or ``"<sub-model>/<layer>"`` paths);
            only their weights are returned.

    Returns:
        ``dict[str, keras.Variable]`` in a stable order (layer order, then weight order);
        layers of nested sub-models are keyed ``"<sub-model>/<layer>/<weight>"``.

    Raises:
        ValueError: If ``model`` is not a built Keras 3 model, ``layers`` names a layer
            that does not exist, two weights get the same key, or nothing is prunable.
    """
    _check_model(model)
    return counted.counted_weights(
        model.name, list(_leaf_layers(model)), layers, include_bias, include_batchnorm, keras.layers.BatchNormalization
    )


def magnitude_masks(model, sparsity, scope="global", include_bias=False, include_batchnorm=False, layers=None):
    """One-shot magnitude masks for the counted weights of a Keras 3 model.

    ``scope="global"``: one threshold over all ``n`` counted entries, exactly
    ``floor(s n + 1/2)`` of them zeroed (the smallest ``|θ|``; ties: higher flat index
    first). ``scope="layerwise"``: the same rule in each tensor separately. See
    `tf_sfw.pruning.magnitude` (Han et al., NeurIPS 2015 "Learning both Weights and
    Connections for Efficient Neural Networks" for magnitude pruning).

    Args:
        model: A built Keras 3 ``keras.Model``.
        sparsity: Target sparsity in ``[0, 1)`` (for ``scope="layerwise"`` also a mapping
            ``{key: sparsity}``; tensors missing from it are not pruned).
        scope: ``"global"`` or ``"layerwise"``.
        include_bias: Also count biases.
        include_batchnorm: Also count BatchNormalization ``gamma``/``beta``.
        layers: Optional list of layer names to restrict pruning to.

    Returns:
        ``dict[str, np.ndarray]``: float32 0/1 masks with the weights' shapes.
    """
    check_scope(scope)
    weights = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    values = {k: keras.ops.convert_to_numpy(v) for k, v in weights.items()}
    if scope == "global":
        return global_magnitude_masks(values, sparsity)
    return layerwise_magnitude_masks(values, sparsity)


def check_masks(model, masks):
    """Validates ``masks`` against ``model``; returns ``{key: (variable, bool keep array)}``.

    Keys may name any kernel, bias or BatchNormalization ``gamma``/``beta`` of the model.

    Raises:
        ValueError: For an empty or non-mapping ``masks``, unknown keys, wrong shapes or
            values other than 0 and 1.
    """
    candidates = prunable_weights(model, include_bias=True, include_batchnorm=True)
    return {key: (candidates[key], array != 0) for key, array in counted.check_masks(masks, candidates).items()}


def apply_masks(model, masks):
    """Zeroes the pruned entries of ``model``'s weights in place: ``θ ← θ ⊙ m``.

    Kept entries are left bit for bit as they were. The model keeps no trace of the masks:
    training it afterwards moves pruned entries away from zero unless the masks are held
    (`tf_sfw.keras3.pruning.fine_tune`, `tf_sfw.keras3.pruning.fixed_masks`).

    Args:
        model: A built Keras 3 ``keras.Model``.
        masks: Mapping ``{"<layer>/<weight>": 0/1 array of the weight's shape}``.

    Returns:
        ``model``.
    """
    for variable, keep in check_masks(model, masks).values():
        value = keras.ops.convert_to_numpy(variable)
        variable.assign(np.where(keep, value, np.zeros_like(value)))
    return model
