"""Sparsity sweep of a Keras 3 model: evaluated magnitude-pruned at many sparsities, no retraining.

The counted weights' values are copied once (NumPy), the magnitudes are ranked once, and
for each sparsity ``s`` the variables are assigned ``θ ⊙ m(s)`` in place and the model is
evaluated (`tf_sfw.pruning.sweep_common`, shared with the tf_keras flavour: same masks,
same rows, same CSV). At the end -- also after an error -- every counted variable is
assigned its original value again, so the weights are restored bit for bit.

:func:`evaluate_classifier` runs ``model.predict`` (compiled on every backend) and computes
the mean sparse categorical cross-entropy and the top-1 accuracy from its outputs; it never
compiles the model, so the model's compile state is left alone.
"""

import keras
import numpy as np

from tf_sfw import validation
from tf_sfw.keras3.pruning.masks import prunable_weights
from tf_sfw.pruning import sweep_common
from tf_sfw.pruning.sweep_common import (  # noqa: F401  (re-exported: one copy for both flavours)
    DEFAULT_SPARSITIES,
    count_nonzero,
    plot_sweep,
    read_sweep_csv,
    write_sweep_csv,
)

__all__ = [
    "DEFAULT_SPARSITIES",
    "output_is_probabilities",
    "evaluate_classifier",
    "count_nonzero",
    "sweep",
    "write_sweep_csv",
    "read_sweep_csv",
    "plot_sweep",
]


def output_is_probabilities(model):
    """Whether the model's last layer ends with a softmax (so outputs are probabilities)."""
    return sweep_common.output_is_probabilities(model, keras.layers.Softmax)


def _arrays(x, y):
    if y is None:
        if isinstance(x, (tuple, list)) and len(x) == 2:
            x, y = x
        else:
            raise ValueError(
                "`y` must be given (integer labels), or `x` must be a tuple (x, y) of arrays. "
                f"Received: x of type {type(x).__name__}, y=None"
            )
    y = np.asarray(keras.ops.convert_to_numpy(y)).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` differ in length: len(x)={len(x)}, len(y)={len(y)}.")
    if len(y) == 0:
        raise ValueError("`x` is empty: no examples to evaluate.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"`y` must hold integer class labels. Received: y of dtype {y.dtype}")
    return x, y


def evaluate_classifier(model, x, y=None, batch_size=256, from_logits=None):
    """Mean sparse categorical cross-entropy and top-1 accuracy of ``model`` on ``(x, y)``.

    Args:
        model: A Keras 3 classifier.
        x: Input array (or a tuple ``(x, y)`` with ``y=None``).
        y: Integer labels.
        batch_size: Prediction batch size.
        from_logits: Whether outputs are logits; ``None`` infers it from the last layer
            (softmax -> probabilities).

    Returns:
        ``(loss, accuracy)`` as floats, averaged over examples.

    Raises:
        ValueError: For empty or mismatched data, non-integer labels or a non-finite loss.
    """
    x, y = _arrays(x, y)
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    if from_logits is None:
        from_logits = not output_is_probabilities(model)
    out = keras.ops.convert_to_numpy(model.predict(x, batch_size=batch_size, verbose=0))
    losses = keras.losses.sparse_categorical_crossentropy(y, out, from_logits=from_logits)
    loss = float(np.mean(np.asarray(keras.ops.convert_to_numpy(losses), dtype=np.float64)))
    if not np.isfinite(loss):
        raise ValueError(f"Evaluation loss is not finite ({loss}); check the model and inputs.")
    accuracy = float(np.mean(np.argmax(out, axis=-1) == y))
    return loss, accuracy


def sweep(
    model,
    x,
    y=None,
    sparsities=DEFAULT_SPARSITIES,
    scope="global",
    batch_size=256,
    include_bias=False,
    include_batchnorm=False,
    layers=None,
    from_logits=None,
    callback=None,
):
    """Evaluates ``model`` magnitude-pruned to each sparsity, in place, then restores it.

    Args:
        model: A trained, built Keras 3 ``keras.Model`` (its weights change during the
            sweep and are restored bit for bit at the end).
        x: Evaluation inputs (or a tuple ``(x, y)`` with ``y=None``).
        y: Integer labels.
        sparsities: Sparsities in ``[0, 1)``.
        scope: ``"global"`` (one threshold over all counted weights) or ``"layerwise"``.
        batch_size: Prediction batch size.
        include_bias: Also count biases.
        include_batchnorm: Also count BatchNormalization gamma/beta.
        layers: Optional list of layer names to restrict pruning to.
        from_logits: See :func:`evaluate_classifier`.
        callback: Optional ``callback(sparsity, model)`` called while the model is pruned
            to ``sparsity`` (e.g. to export it).

    Returns:
        A list of dicts, one per sparsity, with the keys of the tf_keras sweep:
        ``sparsity``, ``achieved_sparsity`` (exact zeros among the counted weights),
        ``accuracy``, ``loss``, ``nonzero`` (non-zero counted weights) and
        ``nonzero_total`` (non-zero entries over all model weights).

    Raises:
        ValueError: For invalid sparsities, scope, data, layer names or a model without
            prunable weights.
    """
    sparsities = sweep_common.check_sparsities(sparsities)
    sweep_common.check_scope(scope)
    x, y = _arrays(x, y)
    batch_size = validation.check_positive_int(batch_size, "batch_size")
    variables = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    original = {k: keras.ops.convert_to_numpy(v).copy() for k, v in variables.items()}
    rows = []
    try:
        for s, masks in sweep_common.sweep_masks(original, sparsities, scope):
            for k, v in variables.items():
                v.assign(original[k] * masks[k].astype(original[k].dtype))
            loss, accuracy = evaluate_classifier(model, x, y, batch_size=batch_size, from_logits=from_logits)
            values = [keras.ops.convert_to_numpy(v) for v in variables.values()]
            rows.append(sweep_common.sweep_row(s, values, loss, accuracy, count_nonzero(model)))
            if callback is not None:
                callback(s, model)
    finally:
        for k, v in variables.items():
            v.assign(original[k])
    return rows
