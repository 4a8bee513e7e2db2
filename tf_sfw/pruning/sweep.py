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

import csv
import numbers
import os

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import magnitude_order, masks_from_order, num_pruned, validate_sparsity
from tf_sfw.pruning.masks import is_pruned, prunable_weights

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

#: Sparsities of the default sweep (fractions of zeros among the counted weights).
DEFAULT_SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)


def output_is_probabilities(model):
    """Whether the model's last layer ends with a softmax (so outputs are probabilities)."""
    layer = model.layers[-1]
    if hasattr(layer, "layer"):  # pruning wrapper
        layer = layer.layer
    if isinstance(layer, keras.layers.Softmax):
        return True
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


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


def count_nonzero(model):
    """Number of non-zero entries over all weights of ``model`` (including non-trainable)."""
    return int(sum(int(np.count_nonzero(w)) for w in model.get_weights()))


def _check_sparsities(sparsities):
    if isinstance(sparsities, numbers.Real):
        sparsities = [sparsities]
    sparsities = list(sparsities)
    if not sparsities:
        raise ValueError("`sparsities` must contain at least one value. Received: sparsities=[]")
    return [validate_sparsity(s, "sparsities") for s in sparsities]


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
    sparsities = _check_sparsities(sparsities)
    if scope not in ("global", "layerwise"):
        raise ValueError(f"`scope` must be 'global' or 'layerwise'. Received: scope={scope!r}")
    if is_pruned(model):
        raise ValueError("`model` has pruning wrappers; sweep a plain model (use strip() first).")
    variables = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    original = {k: v.numpy().copy() for k, v in variables.items()}
    shapes = {k: a.shape for k, a in original.items()}
    n_counted = int(sum(a.size for a in original.values()))
    if scope == "global":
        orders = {None: magnitude_order(original)}
    else:
        orders = {k: magnitude_order({k: a}) for k, a in original.items()}

    rows = []
    try:
        for s in sparsities:
            if scope == "global":
                masks = masks_from_order(orders[None], shapes, num_pruned(s, n_counted))
            else:
                masks = {}
                for k, a in original.items():
                    masks.update(masks_from_order(orders[k], {k: a.shape}, num_pruned(s, a.size)))
            for k, v in variables.items():
                v.assign(original[k] * masks[k].astype(original[k].dtype))
            loss, accuracy = evaluate_classifier(model, eval_data, batch_size=batch_size, from_logits=from_logits)
            nonzero = int(sum(int(np.count_nonzero(v.numpy())) for v in variables.values()))
            rows.append(
                {
                    "sparsity": s,
                    "achieved_sparsity": 1.0 - nonzero / n_counted,
                    "accuracy": accuracy,
                    "loss": loss,
                    "nonzero": nonzero,
                    "nonzero_total": count_nonzero(model),
                }
            )
            if callback is not None:
                callback(s, model)
    finally:
        for k, v in variables.items():
            v.assign(original[k])
    return rows


_CSV_FIELDS = ("sparsity", "achieved_sparsity", "accuracy", "loss", "nonzero", "nonzero_total")


def write_sweep_csv(rows, path, label=None):
    """Writes sweep rows to ``path`` (CSV with a header; optional leading ``model`` column).

    Args:
        rows: Output of :func:`sweep`, or a mapping ``{label: rows}`` for several models.
        path: CSV file to write (parent directories are created).
        label: Model label for a single list of rows.
    """
    groups = rows if hasattr(rows, "items") else {label: rows}
    with_label = any(k is not None for k in groups)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow((("model",) if with_label else ()) + _CSV_FIELDS)
        for name, group in groups.items():
            for row in group:
                writer.writerow(((name,) if with_label else ()) + tuple(row[k] for k in _CSV_FIELDS))


def read_sweep_csv(path):
    """Reads a CSV written by :func:`write_sweep_csv` into ``{label or None: rows}``."""
    groups = {}
    with open(path, newline="") as f:
        for record in csv.DictReader(f):
            name = record.pop("model", None)
            row = {k: (int(record[k]) if k.startswith("nonzero") else float(record[k])) for k in _CSV_FIELDS}
            groups.setdefault(name, []).append(row)
    return groups


def plot_sweep(results, path, title="Accuracy after one-shot magnitude pruning (no retraining)"):
    """Saves a PNG plot of accuracy against sparsity.

    Args:
        results: ``{label: rows}`` with rows from :func:`sweep` (or a single list).
        path: Output PNG path (parent directories are created).
        title: Plot title.
    """
    import matplotlib  # local: plotting is optional and slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not hasattr(results, "items"):
        results = {"model": results}
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for label, rows in results.items():
        ax.plot([100 * r["sparsity"] for r in rows], [100 * r["accuracy"] for r in rows], marker="o", label=str(label))
    ax.set_xlabel("sparsity (% of counted weights set to zero)")
    ax.set_ylabel("test accuracy (%)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
