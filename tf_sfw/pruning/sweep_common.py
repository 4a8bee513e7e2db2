"""The framework-free half of a sparsity sweep, shared by the tf_keras and Keras 3 flavours.

A sweep evaluates one trained model magnitude-pruned to each of several sparsities
``s_1, s_2, …`` without retraining. Everything here is NumPy / standard library (no
TensorFlow, no Keras import): the list of sparsities, the masks for each sparsity from a
single magnitude ranking (:func:`sweep_masks`, the counting and tie rule of
`tf_sfw.pruning.magnitude`), the row of results, and the CSV / PNG output.
`tf_sfw.pruning.sweep` (tf_keras) and `tf_sfw.keras3.pruning.sweep` (Keras 3) only add
the reading, assigning and evaluating of the model.
"""

import csv
import numbers
import os

import numpy as np

from tf_sfw.pruning.magnitude import magnitude_order, masks_from_order, num_pruned, validate_sparsity

__all__ = [
    "DEFAULT_SPARSITIES",
    "SCOPES",
    "CSV_FIELDS",
    "check_sparsities",
    "check_scope",
    "output_is_probabilities",
    "count_nonzero",
    "sweep_masks",
    "sweep_row",
    "write_sweep_csv",
    "read_sweep_csv",
    "plot_sweep",
]

#: Sparsities of the default sweep (fractions of zeros among the counted weights).
DEFAULT_SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99)
#: Pruning scopes: one threshold over all counted weights, or one per tensor.
SCOPES = ("global", "layerwise")
#: Columns of a sweep CSV (after an optional leading ``model`` column).
CSV_FIELDS = ("sparsity", "achieved_sparsity", "accuracy", "loss", "nonzero", "nonzero_total")


def check_sparsities(sparsities):
    """``sparsities`` (one number or an iterable) as a non-empty list of floats in ``[0, 1)``."""
    if isinstance(sparsities, numbers.Real):
        sparsities = [sparsities]
    sparsities = list(sparsities)
    if not sparsities:
        raise ValueError("`sparsities` must contain at least one value. Received: sparsities=[]")
    return [validate_sparsity(s, "sparsities") for s in sparsities]


def check_scope(scope):
    """Returns ``scope`` if it is ``"global"`` or ``"layerwise"``; ValueError otherwise."""
    if scope not in SCOPES:
        raise ValueError(f"`scope` must be 'global' or 'layerwise'. Received: scope={scope!r}")
    return scope


def output_is_probabilities(model, softmax_class):
    """Whether the model's last layer ends with a softmax (so outputs are probabilities).

    Args:
        model: A Keras model (tf_keras or Keras 3).
        softmax_class: That Keras' ``keras.layers.Softmax``.
    """
    layer = model.layers[-1]
    if hasattr(layer, "layer"):  # pruning wrapper
        layer = layer.layer
    if isinstance(layer, softmax_class):
        return True
    activation = getattr(layer, "activation", None)
    return activation is not None and getattr(activation, "__name__", "") == "softmax"


def count_nonzero(model):
    """Number of non-zero entries over all weights of ``model`` (including non-trainable)."""
    return int(sum(int(np.count_nonzero(w)) for w in model.get_weights()))


def sweep_masks(original, sparsities, scope):
    """Yields ``(s, masks)`` for each sparsity ``s``, ranking the magnitudes only once.

    Global scope zeroes ``num_pruned(s, n)`` of all ``n`` counted entries, layer-wise scope
    ``num_pruned(s, n_l)`` of each tensor's ``n_l`` entries, with the ranking (and tie rule)
    of :func:`tf_sfw.pruning.magnitude.magnitude_order`: the masks equal those of
    `global_magnitude_masks` / `layerwise_magnitude_masks` at every ``s``.

    Args:
        original: Mapping ``{key: NumPy array}`` of the counted weights' values.
        sparsities: Validated sparsities (:func:`check_sparsities`).
        scope: ``"global"`` or ``"layerwise"``.
    """
    check_scope(scope)
    shapes = {k: a.shape for k, a in original.items()}
    if scope == "global":
        order = magnitude_order(original)
        for s in sparsities:
            yield s, masks_from_order(order, shapes, num_pruned(s, len(order)))
        return
    orders = {k: magnitude_order({k: a}) for k, a in original.items()}
    for s in sparsities:
        masks = {}
        for k, a in original.items():
            masks.update(masks_from_order(orders[k], {k: a.shape}, num_pruned(s, a.size)))
        yield s, masks


def sweep_row(sparsity, counted_values, loss, accuracy, nonzero_total):
    """One row of a sweep: target and achieved sparsity, accuracy, loss and non-zero counts.

    ``achieved_sparsity`` is the fraction of exact zeros among the counted weights after
    pruning (the pruned entries and the weights that were already zero).

    Args:
        sparsity: Target sparsity.
        counted_values: The counted weights' values after pruning (NumPy arrays).
        loss: Mean evaluation loss.
        accuracy: Top-1 accuracy.
        nonzero_total: Non-zero entries over all model weights (:func:`count_nonzero`).
    """
    counted_values = list(counted_values)
    n_counted = int(sum(np.size(a) for a in counted_values))
    nonzero = int(sum(int(np.count_nonzero(a)) for a in counted_values))
    return {
        "sparsity": sparsity,
        "achieved_sparsity": 1.0 - nonzero / n_counted,
        "accuracy": accuracy,
        "loss": loss,
        "nonzero": nonzero,
        "nonzero_total": nonzero_total,
    }


def write_sweep_csv(rows, path, label=None):
    """Writes sweep rows to ``path`` (CSV with a header; optional leading ``model`` column).

    Args:
        rows: Rows of a sweep, or a mapping ``{label: rows}`` for several models.
        path: CSV file to write (parent directories are created).
        label: Model label for a single list of rows.
    """
    groups = rows if hasattr(rows, "items") else {label: rows}
    with_label = any(k is not None for k in groups)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow((("model",) if with_label else ()) + CSV_FIELDS)
        for name, group in groups.items():
            for row in group:
                writer.writerow(((name,) if with_label else ()) + tuple(row[k] for k in CSV_FIELDS))


def read_sweep_csv(path):
    """Reads a CSV written by :func:`write_sweep_csv` into ``{label or None: rows}``."""
    groups = {}
    with open(path, newline="") as f:
        for record in csv.DictReader(f):
            name = record.pop("model", None)
            row = {k: (int(record[k]) if k.startswith("nonzero") else float(record[k])) for k in CSV_FIELDS}
            groups.setdefault(name, []).append(row)
    return groups


def plot_sweep(results, path, title="Accuracy after one-shot magnitude pruning (no retraining)"):
    """Saves a PNG plot of accuracy against sparsity.

    Args:
        results: ``{label: rows}`` with rows of a sweep (or a single list).
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
