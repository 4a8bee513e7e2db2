"""Fixed pruning masks held through ``model.fit`` on every Keras 3 backend (no tfmot).

A mask is held as the *constraint* of its variable: a :class:`MaskConstraint` returns
``where(m, θ, 0)``. Keras 3 optimizers apply ``variable.constraint`` right after every
update, inside the compiled train step, on every backend -- including the JAX backend's
stateless ``optimizer.stateless_apply``, where a callback that assigned the variables
would not work (the trainer carries the variables' values through its own state between
steps and writes them back only at the end). So after every optimizer step the pruned
entries are exactly ``0`` whatever the optimizer (momentum, Adam, ``tf_sfw.keras3.SFW``)
did to them, and the kept entries train normally.

A variable's own constraint (``kernel_constraint=...``) is kept and applied first; the
mask is applied to its result. :func:`release_masks` puts the original constraints back.
Held masks are not saved with the model (Keras saves layer configs, not variable
constraints): release them before or after saving, the weights saved are what they are.
"""

import contextlib

import keras
import numpy as np

from tf_sfw.keras3.pruning.masks import apply_masks, check_masks, prunable_weights

__all__ = ["MaskConstraint", "hold_masks", "release_masks", "held_masks", "fixed_masks"]


class MaskConstraint(keras.constraints.Constraint):
    """Constraint ``θ ↦ where(m, c(θ), 0)``: a fixed binary mask after an optional constraint ``c``.

    Args:
        mask: 0/1 (or boolean) array of the variable's shape; ``1`` = keep.
        constraint: The variable's previous constraint ``c`` (or None), applied first.
    """

    def __init__(self, mask, constraint=None):
        array = np.asarray(mask)
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(f"`mask` must contain only 0 and 1. Received values: {np.unique(array)[:10]}")
        self.mask = array != 0
        self.constraint = constraint

    def __call__(self, w):
        if self.constraint is not None:
            w = self.constraint(w)
        w = keras.ops.convert_to_tensor(w)  # a variable's current value (also in JAX's stateless step)
        keep = keras.ops.convert_to_tensor(self.mask)  # a constant of the traced step
        return keras.ops.where(keep, w, keras.ops.zeros((), dtype=w.dtype))


def _reset_compiled_steps(model):
    """Drops the model's cached train/test/predict functions: constraints are read when a
    step is traced, so a step traced before the masks were held (or released) must be
    traced again."""
    for name in ("train_function", "test_function", "predict_function"):
        if getattr(model, name, None) is not None:
            setattr(model, name, None)


def hold_masks(model, masks):
    """Zeroes the pruned entries and holds them at zero through training (in place).

    Sets a :class:`MaskConstraint` on each masked variable (replacing the mask of one held
    before, keeping the variable's own constraint) and drops the model's compiled steps so
    the next ``fit`` traces the constraints.

    Args:
        model: A built Keras 3 ``keras.Model``.
        masks: Mapping ``{"<layer>/<weight>": 0/1 array}`` (see
            `tf_sfw.keras3.pruning.magnitude_masks`).

    Returns:
        ``model``.
    """
    checked = check_masks(model, masks)
    apply_masks(model, masks)
    for variable, keep in checked.values():
        previous = variable.constraint
        if isinstance(previous, MaskConstraint):
            previous = previous.constraint
        variable.constraint = MaskConstraint(keep, previous)
    _reset_compiled_steps(model)
    return model


def _masked_variables(model):
    weights = prunable_weights(model, include_bias=True, include_batchnorm=True)
    return {k: v for k, v in weights.items() if isinstance(v.constraint, MaskConstraint)}


def held_masks(model):
    """The masks held on ``model``'s variables, ``{key: float32 0/1 array}`` (empty if none)."""
    return {k: v.constraint.mask.astype(np.float32) for k, v in _masked_variables(model).items()}


def release_masks(model, keys=None):
    """Removes held masks (restoring the variables' own constraints), in place.

    The masks are applied once more first, so the pruned entries are exactly ``0`` on
    return even if training stopped half-way.

    Args:
        model: A Keras 3 model.
        keys: Keys of the masks to release; ``None`` releases every held mask.

    Returns:
        The released masks, ``{key: float32 0/1 array}``.
    """
    variables = _masked_variables(model)
    if keys is not None:
        variables = {k: v for k, v in variables.items() if k in set(keys)}
    released = {}
    for key, variable in variables.items():
        constraint = variable.constraint
        value = keras.ops.convert_to_numpy(variable)
        variable.assign(np.where(constraint.mask, value, np.zeros_like(value)))
        variable.constraint = constraint.constraint
        released[key] = constraint.mask.astype(np.float32)
    _reset_compiled_steps(model)
    return released


@contextlib.contextmanager
def fixed_masks(model, masks):
    """Context manager: holds ``masks`` on ``model`` inside the block, releases them after
    (:func:`hold_masks`, then :func:`release_masks` of the same keys, also after an error).

    Example::

        masks = magnitude_masks(model, 0.9)
        with fixed_masks(model, masks):
            model.fit(x, y, epochs=1)   # pruned weights stay exactly 0
    """
    hold_masks(model, masks)
    try:
        yield model
    finally:
        release_masks(model, keys=list(masks))
