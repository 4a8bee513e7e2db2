"""Which weights count for magnitude pruning, and their mask keys (pure Python, shared by the
tf_keras and Keras 3 flavours).

Counted: every kernel (a weight whose name ends in ``kernel``: ``kernel``,
``depthwise_kernel``, ``pointwise_kernel``, ``recurrent_kernel``), optionally biases,
optionally BatchNormalization ``gamma``/``beta``; never BatchNormalization moving
statistics, embeddings or other weights.

A weight's key is ``"<prefix><layer name>/<weight name>"``, where ``prefix`` holds the
names of the nested sub-models the layer sits in (``"encoder/"``), empty at the top level.
"""

import numpy as np

from tf_sfw.variables import short_name

__all__ = ["BATCHNORM_WEIGHTS", "check_masks", "counted_weights", "is_counted", "mask_key"]

#: BatchNormalization weights that can be counted (with ``include_batchnorm``).
BATCHNORM_WEIGHTS = ("gamma", "beta")


def is_counted(variable, is_batchnorm, include_bias, include_batchnorm):
    """Whether ``variable`` of a layer counts for pruning.

    Args:
        variable: The weight (anything with a ``name``) or its name.
        is_batchnorm: Whether its layer is a BatchNormalization layer.
        include_bias: Count biases.
        include_batchnorm: Count BatchNormalization ``gamma`` and ``beta``.
    """
    short = short_name(variable)
    if is_batchnorm:
        return include_batchnorm and short in BATCHNORM_WEIGHTS
    if short.endswith("kernel"):
        return True
    return include_bias and short == "bias"


def mask_key(layer_name, variable, prefix=""):
    """Mask key ``"<prefix><layer name>/<weight name>"`` of ``variable``."""
    return f"{prefix}{layer_name}/{short_name(variable)}"


def check_masks(masks, candidates):
    """``{key: 0/1 array}`` of ``masks`` checked against ``candidates`` (``{key: weight}``, the
    maskable weights of a model, anything with a ``shape``).

    Raises:
        ValueError: For an empty or non-mapping ``masks``, unknown keys, wrong shapes or
            values other than 0 and 1.
    """
    if not hasattr(masks, "items") or len(masks) == 0:
        raise ValueError(
            "`masks` must be a non-empty mapping {'<layer>/<weight>': array}. "
            f"Received: masks={masks!r:.200}"
        )
    unknown = [k for k in masks if k not in candidates]
    if unknown:
        raise ValueError(f"Unknown weight keys in `masks`: {unknown}. Maskable weights: {list(candidates)}")
    checked = {}
    for key, mask in masks.items():
        array = np.asarray(mask)
        shape = tuple(candidates[key].shape)
        if array.shape != shape:
            raise ValueError(f"Mask for {key!r} has shape {array.shape}, but the weight has shape {shape}.")
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"Mask for {key!r} must contain only 0 and 1.")
        checked[key] = array
    return checked


def counted_weights(model_name, leaves, layers, include_bias, include_batchnorm, batchnorm_class):
    """``{key: variable}`` of the counted weights of ``leaves`` in order (both flavours'
    ``prunable_weights``).

    Args:
        model_name: For error messages.
        leaves: ``(layer, prefix)`` pairs of the layers owning the weights (unwrapped),
            ``prefix`` the names of the sub-models they sit in (``"encoder/"``).
        layers: None, a layer name or path, or an iterable of them: only their weights.
        include_bias, include_batchnorm: See `is_counted`.
        batchnorm_class: The flavour's ``keras.layers.BatchNormalization``.

    Raises:
        ValueError: If ``layers`` names no leaf, two weights get the same key, or nothing
            is counted.
    """
    if layers is not None:
        layers = [layers] if isinstance(layers, str) else list(layers)
        names = {layer.name for layer, _ in leaves} | {prefix + layer.name for layer, prefix in leaves}
        unknown = [n for n in layers if n not in names]
        if unknown:
            raise ValueError(f"Unknown layer names in `layers`: {unknown}. Model layers: {sorted(names)}")
    result = {}
    for layer, prefix in leaves:
        if layers is not None and layer.name not in layers and prefix + layer.name not in layers:
            continue
        is_batchnorm = isinstance(layer, batchnorm_class)
        for variable in layer.weights:
            if is_counted(variable, is_batchnorm, include_bias, include_batchnorm):
                key = mask_key(layer.name, variable, prefix)
                if key in result:
                    raise ValueError(f"Duplicate weight key {key!r}; layer names must be unique.")
                result[key] = variable
    if not result:
        what = "kernels" + (", biases" if include_bias else "") + (", BatchNorm gamma/beta" if include_batchnorm else "")
        raise ValueError(
            f"Model {model_name!r} has no prunable weights ({what})"
            + (f" in layers {layers}" if layers is not None else "")
            + "; nothing to prune."
        )
    return result
