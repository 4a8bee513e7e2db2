"""Sparsity sweep: one trained model evaluated at many sparsities without retraining.

For a sweep over sparsities ``s_1, s_2, …`` the model is *not* rebuilt: the original
values of the counted weights are copied once (NumPy), the magnitude ranking is
computed once (:func:`tf_sfw.pruning.magnitude.magnitude_order`), and for each ``s``
the variables are assigned ``θ ⊙ m(s)`` in place and the model is evaluated. At the
end (also after an error) every counted variable is assigned its original value
again, so the model's weights are restored bit for bit.

Evaluation (:func:`evaluate_classifier`) is a plain inference loop,
``model(x, training=False)``, with sparse categorical cross-entropy and top-1
accuracy; it never compiles the model, so a model's compile state (optimizer, SFW
constraints, …) is left alone.
"""

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning import sweep_common
from tf_sfw.pruning.masks import is_pruned, prunable_weights
from tf_sfw.pruning.sweep_common import (  # the framework-free half, shared with Keras 3
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


def _as_dataset(data, batch_size):
    if isinstance(data, tf.data.Dataset):
        return data
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        if len(x) != len(y):
            raise ValueError(f"`data` arrays differ in length: len(x)={len(x)}, len(y)={len(y)}.")
        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size)
    raise ValueError(
        "`data` must be a tf.data.Dataset of (x, y) batches or a tuple (x, y) of arrays. "
        f"Received: data of type {type(data).__name__}"
    )


def evaluate_classifier(model, data, batch_size=256, from_logits=None):
    """Mean sparse categorical cross-entropy and top-1 accuracy of ``model`` on ``data``.

    Args:
        model: A ``keras.Model`` classifier.
        data: ``tf.data.Dataset`` of ``(x, y)`` batches (integer labels) or ``(x, y)`` arrays.
        batch_size: Batch size when ``data`` are arrays.
        from_logits: Whether outputs are logits; ``None`` infers it from the last layer
            (softmax -> probabilities).

    Returns:
        ``(loss, accuracy)`` as floats, averaged over examples.

    Raises:
        ValueError: For empty data or non-finite loss.
    """
    if from_logits is None:
        from_logits = not output_is_probabilities(model)
    dataset = _as_dataset(data, batch_size)

    @tf.function
    def step(x, y):
        out = model(x, training=False)
        y = tf.reshape(tf.cast(y, tf.int64), [-1])
        losses = keras.losses.sparse_categorical_crossentropy(y, out, from_logits=from_logits)
        correct = tf.cast(tf.equal(tf.argmax(out, axis=-1, output_type=tf.int64), y), tf.float64)
        return tf.reduce_sum(tf.cast(losses, tf.float64)), tf.reduce_sum(correct), tf.shape(y, out_type=tf.int64)[0]

    total_loss, total_correct, count = 0.0, 0.0, 0
    for batch in dataset:
        x, y = batch[0], batch[1]
        loss, correct, n = step(x, y)
        total_loss += float(loss)
        total_correct += float(correct)
        count += int(n)
    if count == 0:
        raise ValueError("`data` is empty: no examples to evaluate.")
    if not np.isfinite(total_loss):
        raise ValueError(f"Evaluation loss is not finite ({total_loss}); check the model and inputs.")
    return total_loss / count, total_correct / count


def sweep(
    model,
    eval_data,
    sparsities=DEFAULT_SPARSITIES,
    scope="global",
    include_bias=False,
    include_batchnorm=False,
    layers=None,
    batch_size=256,
    from_logits=None,
    callback=None,
):
    """Evaluates ``model`` magnitude-pruned to each sparsity, in place, then restores it.

    Args:
        model: A trained, unwrapped ``keras.Model`` (its weights are changed during the
            sweep and restored bit-exactly at the end).
        eval_data: ``tf.data.Dataset`` of ``(x, y)`` batches or ``(x, y)`` arrays.
        sparsities: Sparsities in ``[0, 1)``.
        scope: ``"global"`` (one threshold over all counted weights) or
            ``"layerwise"`` (each tensor to ``s``).
        include_bias: Also count biases.
        include_batchnorm: Also count BatchNorm gamma/beta.
        layers: Optional list of layer names to restrict pruning to.
        batch_size: Batch size when ``eval_data`` are arrays.
        from_logits: See :func:`evaluate_classifier`.
        callback: Optional ``callback(sparsity, model)`` called while the model is
            pruned to ``sparsity`` (e.g. to measure latency or export).

    Returns:
        A list of dicts, one per sparsity, with keys ``sparsity`` (target),
        ``achieved_sparsity`` (exact zeros among the counted weights after pruning, i.e.
        the pruned entries and the weights that were already zero, / counted weights),
        ``accuracy``,
        ``loss``, ``nonzero`` (non-zero counted weights) and ``nonzero_total``
        (non-zero entries over all model weights).

    Raises:
        ValueError: For invalid sparsities, scope, layer names, a wrapped model or a
            model without prunable weights.
    """
    sparsities = sweep_common.check_sparsities(sparsities)
    sweep_common.check_scope(scope)
    if is_pruned(model):
        raise ValueError("`model` has pruning wrappers; sweep a plain model (use strip() first).")
    variables = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    original = {k: v.numpy().copy() for k, v in variables.items()}

    rows = []
    try:
        for s, masks in sweep_common.sweep_masks(original, sparsities, scope):
            for k, v in variables.items():
                v.assign(original[k] * masks[k].astype(original[k].dtype))
            loss, accuracy = evaluate_classifier(model, eval_data, batch_size=batch_size, from_logits=from_logits)
            values = [v.numpy() for v in variables.values()]
            rows.append(sweep_common.sweep_row(s, values, loss, accuracy, count_nonzero(model)))
            if callback is not None:
                callback(s, model)
    finally:
        for k, v in variables.items():
            v.assign(original[k])
    return rows
