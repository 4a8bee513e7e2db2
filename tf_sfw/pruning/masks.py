"""Fixed pruning masks on Keras models through tfmot ``prune_low_magnitude`` wrappers.

Masks are plain NumPy arrays keyed by ``"<layer name>/<weight name>"`` (the original,
unwrapped layer's name, e.g. ``"conv2d/kernel"``), with ``1`` = keep, ``0`` = prune. In a
model with nested sub-models (a functional model or a Sequential used as a layer) the key
starts with the sub-models' names: ``"encoder/conv2d/kernel"``.

:func:`apply_masks` returns a *copy* of a model whose masked layers are wrapped in
``tfmot.sparsity.keras.PruneLowMagnitude`` with a :class:`FixedMask` pruning schedule,
i.e. a schedule that never recomputes the masks: the masks stay exactly what was set
with :func:`apply_masks` / :func:`set_masks`. The wrappers multiply every masked
weight by its mask before each training forward pass and at the end of each epoch
(``UpdatePruningStep``), so with :func:`tf_sfw.pruning.retrain.fine_tune` the pruned entries stay exactly
``0`` while the others train. :func:`strip` removes the wrappers.

Which weights count (:func:`prunable_weights`): kernels of every layer (``kernel``,
``depthwise_kernel``, ``pointwise_kernel``, ...), optionally biases, optionally
BatchNormalization ``gamma``/``beta``; never BatchNormalization moving statistics.
Biases and BatchNorm parameters are not prunable in tfmot's own registry; here every
masked layer is given a ``get_prunable_weights`` method listing exactly the masked
weights, which tfmot's wrapper accepts for any layer.

tfmot's own schedules and ties. tfmot's wrapper (``prune_low_magnitude`` with e.g.
``ConstantSparsity`` / ``PolynomialDecay``) keeps ``k = max(round(n (1 - s)), 1)``
entries by a threshold: every entry with ``|w| >=`` the k-th largest magnitude is kept.
When magnitudes tie -- as they do for Stochastic Frank-Wolfe iterates, which sit at or near
vertices of the K-sparse polytope where many entries have exactly the same magnitude --
all tied entries are kept, so the achieved sparsity falls short of the target (e.g. 76%
instead of 80%). The masks of this package count exactly (ties broken by index, see
`tf_sfw.pruning.magnitude`). To get exact sparsity:

* prune with this package: ``apply_masks(model, magnitude_masks(model, s))`` (or
  `tf_sfw.pruning.sweep`), or
* keep tfmot's schedule and make its masks exact with
  `tf_sfw.pruning.exact_masks.make_masks_exact` after training (or with its
  `ExactMasks` callback, at the end of every epoch and of
  training, after tfmot's ``UpdatePruningStep``), then ``strip_pruning`` / :func:`strip`.
"""

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot

from tf_sfw._keras import keras
from tf_sfw.pruning import counted
from tf_sfw.pruning.counted import mask_key
from tf_sfw.variables import short_name

__all__ = [
    "FixedMask",
    "weight_key",
    "prunable_weights",
    "apply_masks",
    "get_masks",
    "set_masks",
    "strip",
    "is_pruned",
]



def _is_wrapper(layer):
    """Whether ``layer`` is a tfmot ``PruneLowMagnitude`` wrapper (its class is not public API)."""
    return isinstance(layer, keras.layers.Wrapper) and hasattr(layer, "pruning_vars") and hasattr(layer, "pruning_obj")


class FixedMask(tfmot.sparsity.keras.PruningSchedule):
    """Pruning schedule that never updates the masks (they are set explicitly).

    ``__call__(step)`` returns ``(False, 0.0)``: tfmot's wrapper then skips its own
    magnitude-based mask update at every step and only applies the existing mask.
    """

    def __call__(self, step):
        return (tf.constant(False), tf.constant(0.0, dtype=tf.float32))

    def get_config(self):
        return {"class_name": self.__class__.__name__, "config": {}}


_short_name = short_name  # the one definition: tf_sfw.variables.short_name


def weight_key(layer, variable, prefix=""):
    """Mask key ``"<prefix><layer name>/<weight name>"`` of ``variable`` of ``layer``.

    For a pruning wrapper the inner (original) layer's name is used; ``prefix`` holds the
    names of the sub-models the layer sits in (``"encoder/"``), empty at the top level.
    """
    if _is_wrapper(layer):
        layer = layer.layer
    return mask_key(layer.name, variable, prefix)


def _inner(layer):
    return layer.layer if _is_wrapper(layer) else layer


def _is_submodel(layer):
    return isinstance(layer, keras.Model) and not _is_wrapper(layer)


def _leaf_layers(model, prefix=""):
    """``(layer, prefix)`` for every layer of ``model`` that is not itself a model, in model
    order, descending into nested sub-models (``prefix`` = their names joined by "/")."""
    for layer in model.layers:
        if _is_submodel(layer):
            yield from _leaf_layers(layer, f"{prefix}{layer.name}/")
        else:
            yield layer, prefix


def _check_model(model, name="model"):
    if not isinstance(model, keras.Model):
        raise ValueError(
            f"`{name}` must be a tf_keras `keras.Model` (functional or Sequential). "
            f"Received: {name} of type {type(model).__name__}"
        )


def prunable_weights(model, include_bias=False, include_batchnorm=False, layers=None):
    """The weights that count for pruning, keyed ``"<layer>/<weight>"`` in model order.

    Args:
        model: A ``keras.Model`` (plain, or wrapped by :func:`apply_masks`), built.
        include_bias: Also return biases (``"<layer>/bias"``).
        include_batchnorm: Also return BatchNormalization ``gamma`` and ``beta``.
        layers: Optional iterable of layer names (or ``"<sub-model>/<layer>"`` paths);
            only their weights are returned.

    Returns:
        ``dict[str, tf.Variable]`` in a stable order (layer order, then weight order);
        layers of nested sub-models are included, keyed ``"<sub-model>/<layer>/<weight>"``.

    Raises:
        ValueError: If ``model`` is not a Keras model, ``layers`` names a layer that
            does not exist, two weights get the same key, or nothing is prunable.
    """
    _check_model(model)
    if not model.built:
        raise ValueError(f"`model` {model.name!r} must be built before pruning (call it or give an input shape).")
    leaves = [(_inner(layer), prefix) for layer, prefix in _leaf_layers(model)]
    return counted.counted_weights(
        model.name, leaves, layers, include_bias, include_batchnorm, keras.layers.BatchNormalization
    )


def is_pruned(model):
    """Whether ``model`` contains tfmot pruning wrappers."""
    return isinstance(model, keras.Model) and any(_is_wrapper(layer) for layer, _ in _leaf_layers(model))


def _check_masks(model, masks):
    return counted.check_masks(masks, prunable_weights(model, include_bias=True, include_batchnorm=True))


def apply_masks(model, masks):
    """Returns a pruning-wrapped copy of ``model`` with exactly the given masks.

    Every layer owning a key of ``masks`` is wrapped in ``PruneLowMagnitude`` with a
    :class:`FixedMask` schedule (masks are never recomputed); other layers are plain
    copies. All weights are copied from ``model`` and then the masked weights are
    multiplied by their masks, so ``θ ← θ ⊙ m`` (kept entries are bit-identical).
    ``model`` itself is not modified.

    Args:
        model: A built, unwrapped ``keras.Model`` (functional or Sequential).
        masks: Mapping ``{"<layer>/<weight>": 0/1 array of the weight's shape}``.
            Keys may name kernels, biases and BatchNorm gamma/beta.

    Returns:
        The wrapped, uncompiled copy.

    Raises:
        ValueError: For a model that is already wrapped, unknown keys, wrong shapes or
            non-binary masks.
    """
    _check_model(model)
    if is_pruned(model):
        raise ValueError(f"`model` {model.name!r} already has pruning wrappers; use set_masks() to change its masks.")
    masks = _check_masks(model, masks)
    by_layer = {}
    for key in masks:
        layer_name, weight_name = key.rsplit("/", 1)
        by_layer.setdefault(layer_name, []).append(weight_name)

    def clone(layer, prefix=""):
        if _is_submodel(layer):  # a nested sub-model: clone its layers the same way
            return keras.models.clone_model(layer, clone_function=lambda l: clone(l, f"{prefix}{layer.name}/"))
        new = layer.__class__.from_config(layer.get_config())
        if prefix + layer.name not in by_layer:
            return new
        wanted = by_layer[prefix + layer.name]

        def get_prunable_weights(layer=new, wanted=tuple(wanted)):
            found = {_short_name(v): v for v in layer.weights}
            return [found[w] for w in wanted]

        new.get_prunable_weights = get_prunable_weights
        return tfmot.sparsity.keras.prune_low_magnitude(new, pruning_schedule=FixedMask())

    pruned = keras.models.clone_model(model, clone_function=clone)
    if not pruned.built:
        pruned.build(model.input_shape)
    new_layers = {prefix + _inner(layer).name: _inner(layer) for layer, prefix in _leaf_layers(pruned)}
    for layer, prefix in _leaf_layers(model):
        if layer.weights:
            new_layers[prefix + layer.name].set_weights(layer.get_weights())
    set_masks(pruned, masks)
    return pruned


def _mask_vars(pruned_model):
    if not is_pruned(pruned_model):
        raise ValueError(
            f"`pruned_model` {getattr(pruned_model, 'name', pruned_model)!r} has no pruning wrappers; "
            "create one with apply_masks()."
        )
    result = {}
    for layer, prefix in _leaf_layers(pruned_model):
        if _is_wrapper(layer):
            for weight, mask, _ in layer.pruning_vars:
                result[weight_key(layer, weight, prefix)] = (weight, mask)
    return result


def get_masks(pruned_model):
    """Current masks of a wrapped model, ``{"<layer>/<weight>": float array}``."""
    return {key: mask.numpy().copy() for key, (_, mask) in _mask_vars(pruned_model).items()}


def set_masks(pruned_model, masks):
    """Sets the masks of a wrapped model in place and zeroes the pruned weights.

    Args:
        pruned_model: A model returned by :func:`apply_masks`.
        masks: Mapping for some or all of its masked weights (see :func:`get_masks`);
            weights not mentioned keep their current mask.

    Raises:
        ValueError: For keys that are not masked weights of ``pruned_model`` (only
            weights wrapped by :func:`apply_masks` can be masked), wrong shapes or
            non-binary values.
    """
    variables = _mask_vars(pruned_model)
    if not hasattr(masks, "items") or len(masks) == 0:
        raise ValueError("`masks` must be a non-empty mapping {'<layer>/<weight>': array}.")
    unknown = [k for k in masks if k not in variables]
    if unknown:
        raise ValueError(f"Unknown masked-weight keys in `masks`: {unknown}. Masked weights: {list(variables)}")
    for key, mask in masks.items():
        weight, mask_var = variables[key]
        array = np.asarray(mask)
        if array.shape != tuple(weight.shape):
            raise ValueError(f"Mask for {key!r} has shape {array.shape}, but the weight has shape {tuple(weight.shape)}.")
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"Mask for {key!r} must contain only 0 and 1.")
        mask_var.assign(array.astype(mask_var.dtype.as_numpy_dtype))
        weight.assign(weight.numpy() * mask_var.numpy())


def strip(pruned_model):
    """Removes the pruning wrappers (tfmot ``strip_pruning``); returns an independent copy.

    The masks are applied once more before stripping, so every pruned weight is an
    exact ``0`` in the returned model. Layer names are the original ones.

    Args:
        pruned_model: A model returned by :func:`apply_masks`.

    Returns:
        A plain ``keras.Model`` with the same architecture as the original model.
    """
    variables = _mask_vars(pruned_model)
    for weight, mask in variables.values():
        weight.assign(weight * mask)
    stripped = tfmot.sparsity.keras.strip_pruning(pruned_model)
    # strip_pruning shares layer objects with the wrapped model: make a clean copy.
    copy = keras.models.clone_model(stripped)
    if not copy.built:
        copy.build(stripped.input_shape)
    copy.set_weights(stripped.get_weights())
    return copy
