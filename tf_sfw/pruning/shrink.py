"""Physical shrinking: a new, smaller functional model without the removed filters / units.

Given a plan ``{layer: kept output channels}`` (see
:func:`tf_sfw.pruning.structured.structured_plan`), :func:`shrink_model` rebuilds the
model from its config with fewer ``filters`` / ``units`` and copies the surviving weights:

- a Conv2D/Dense kernel keeps its kept output slices ``W[..., kept]`` (and bias entries)
  and the input slices ``W[..., in_kept, :]`` of its input's kept channels;
- BatchNormalization keeps ``gamma, beta, moving_mean, moving_variance`` of the kept
  channels;
- after ``Flatten`` of an ``H×W×C`` map (channels last), feature ``p·C + c`` is channel
  ``c`` at pixel ``p``, so a following Dense keeps kernel rows ``{p·C + c : p < H·W,
  c ∈ kept}``;
- channels meeting at ``Add`` (and other element-wise merges) are one group with one kept
  set; pooling, activations, dropout and padding pass channels through.

Exactness. When the activations after the removed channels map 0 to 0 (ReLU, linear, ...),
the shrunken model computes the same function as the dense model whose removed filters
(kernel slice and bias) are zero and whose BatchNorm ``gamma`` and ``beta`` of those
channels are zero: every removed channel is then identically zero and contributes nothing
downstream. Structured pruning without retraining removes the channel outright, including
a BatchNorm shift ``beta`` it would have carried (Li et al., ICLR 2017, "Pruning Filters
for Efficient ConvNets").

The sweep (:func:`structured_sweep`) reads the original model's config, weights and
scores once and builds each shrunken model from those copies; the original model is never
rebuilt, cloned or modified.
"""

import copy
import os
import tempfile

import numpy as np

from tf_sfw._keras import keras
from tf_sfw.pruning.batchnorm import reestimate_batchnorm
from tf_sfw.pruning.export import export_model
from tf_sfw.pruning.metrics import relative_latency
from tf_sfw.pruning.structured import PRODUCERS, ChannelGraph, structured_plan
from tf_sfw.pruning.sweep import evaluate_classifier

__all__ = [
    "DEFAULT_FRACTIONS",
    "shrink_model",
    "structured_prune",
    "structured_sweep",
    "kept_widths",
    "model_flops",
    "saved_model_size",
    "structured_metrics",
]

#: Filter fractions of the default structured sweep.
DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def _kept_indices(layer, value, size):
    idx = np.asarray(value)
    if idx.ndim != 1 or idx.size == 0 or not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(
            f"`plan[{layer!r}]` must be a non-empty 1-D array of integer channel indices. Received: {value!r:.200}"
        )
    idx = idx.astype(np.int64)
    if np.unique(idx).size != idx.size or idx.min() < 0 or idx.max() >= size:
        raise ValueError(
            f"`plan[{layer!r}]` must hold distinct channel indices in [0, {size}). Received: {value!r:.200}"
        )
    return np.sort(idx)


def _resolve_plan(graph, plan):
    """``{root space: kept indices}`` for the spaces that lose channels."""
    if not hasattr(plan, "items"):
        raise ValueError(f"`plan` must be a mapping {{layer: kept channel indices}}. Received: plan={plan!r:.200}")
    kept, owner = {}, {}
    for layer, value in plan.items():
        if layer not in graph.producers:
            raise ValueError(
                f"`plan` names {layer!r}, which is not a Conv2D/Dense layer of the model. "
                f"Layers: {list(graph.producers)}"
            )
        space = graph.producers[layer]
        if graph.is_fixed(space):
            raise ValueError(
                f"`plan[{layer!r}]`: the outputs of layer {layer!r} cannot be pruned (they reach a model "
                "output, are added to a model input, or are normalised by a softmax)."
            )
        root = graph.find(space)
        idx = _kept_indices(layer, value, graph.sizes[root])
        if root in kept and not np.array_equal(kept[root], idx):
            raise ValueError(
                f"`plan` keeps different channels for {owner[root]!r} and {layer!r}, whose outputs meet at an "
                "element-wise merge (e.g. a residual Add) and must be pruned together."
            )
        kept[root], owner[root] = idx, layer
    return {root: idx for root, idx in kept.items() if idx.size < graph.sizes[root]}


def _smaller_config(graph, kept, name):
    config = copy.deepcopy(graph.config)
    config["name"] = name
    for item in config["layers"]:
        item.pop("build_config", None)  # built again from the new input shapes
        cfg = item["config"]
        layer = cfg["name"] if graph.sequential else item["name"]
        root = graph.find(graph.producers[layer]) if layer in graph.producers else None
        if root in kept:
            cfg[PRODUCERS[item["class_name"]]] = int(kept[root].size)
    return config


def _take(array, idx, axis):
    return array if idx is None else np.take(array, idx, axis=axis)


def _shrink(graph, weights, plan, name):
    """The shrunken model from a graph and weight copies read once (see :func:`shrink_model`)."""
    kept = _resolve_plan(graph, plan)
    config = _smaller_config(graph, kept, name or f"{graph.model.name}_shrunk")
    model = (keras.Sequential if graph.sequential else keras.Model).from_config(config)
    for layer, space in graph.producers.items():
        out_idx, in_idx = kept.get(graph.find(space)), graph.input_index(layer, kept)
        kernel, *rest = weights[layer]
        values = [_take(_take(kernel, in_idx, -2), out_idx, -1)] + [_take(w, out_idx, 0) for w in rest]
        model.get_layer(layer).set_weights(values)
    for layer in graph.batchnorms:
        idx = graph.input_index(layer, kept)
        model.get_layer(layer).set_weights([_take(w, idx, 0) for w in weights[layer]])
    return model


def shrink_model(model, plan, name=None):
    """A new functional (or Sequential) model with only the kept filters / units.

    Args:
        model: A tf_keras functional or Sequential model of Conv2D, Dense,
            BatchNormalization, Flatten, element-wise merges and per-channel layers
            (pruning wrappers are stripped first). It is not modified.
        plan: ``{layer: kept output channel indices}`` for Conv2D/Dense layers. Layers not
            named keep all channels, except that layers sharing channels with a named one
            (through an Add) follow it; named layers of one group must agree.
        name: Name of the new model (default ``"<model name>_shrunk"``).

    Returns:
        A new, uncompiled ``keras.Model`` with the same layer names and physically smaller
        kernels; weights copied.

    Raises:
        ValueError: For an unsupported layer (named in the message), a layer of ``plan``
            that is not prunable (e.g. the classifier), or invalid indices.
    """
    graph = ChannelGraph(model)
    return _shrink(graph, graph.read_weights(), plan, name)


def structured_prune(
    model, fraction, mode="global", norm="l2", normalization="mean", name=None, reestimate_bn=None, bn_batches=None
):
    """Removes ``fraction`` of the filters / units by norm and returns the shrunken model.

    See :func:`tf_sfw.pruning.structured.structured_plan` for ``fraction``, ``mode``,
    ``normalization``, and :func:`tf_sfw.pruning.structured.filter_scores` for ``norm``.

    Removing channels shifts the statistics that every later BatchNorm layer sees, while its
    moving mean and variance still describe the dense network. With ``reestimate_bn`` (a
    calibration sample of training data: a dataset or iterable of batches ``x`` or
    ``(x, y)``) the shrunken model's BatchNorm moving statistics are recomputed on
    ``bn_batches`` of its batches (all when None) by forward passes only
    (:func:`tf_sfw.pruning.batchnorm.reestimate_batchnorm`); no other weight changes.
    """
    graph = ChannelGraph(model)
    weights = graph.read_weights()
    plan = structured_plan(graph.filter_groups(weights, norm), fraction, mode, normalization)
    shrunk = _shrink(graph, weights, plan, name)
    if reestimate_bn is not None:
        reestimate_batchnorm(shrunk, reestimate_bn, bn_batches)
    return shrunk


def kept_widths(model):
    """``{layer name: output channels}`` of every Conv2D/Dense layer of ``model``: the
    architecture a structured plan left (as recorded in :func:`structured_sweep` rows)."""
    return _widths(ChannelGraph(model), {})


def _widths(graph, plan):
    kept = _resolve_plan(graph, plan)
    return {
        layer: int(kept[graph.find(space)].size) if graph.find(space) in kept else int(graph.sizes[graph.find(space)])
        for layer, space in graph.producers.items()
    }


def _evaluate_row(shrunk, data, evaluate, batch_size):
    row = {}
    if data is not None:
        row["loss"], row["accuracy"] = evaluate_classifier(shrunk, data, batch_size=batch_size)
    if evaluate is not None:
        result = evaluate(shrunk)
        if not hasattr(result, "items"):
            raise ValueError(f"`evaluate` must return a mapping {{name: value}}. Received: {result!r:.200}")
        row.update(result)
    return row


def structured_sweep(
    model,
    fractions=DEFAULT_FRACTIONS,
    mode="global",
    norm="l2",
    normalization="mean",
    data=None,
    evaluate=None,
    batch_size=256,
    reestimate_bn=None,
    bn_batches=None,
):
    """Structured pruning at several filter fractions without retraining.

    The graph, the weights (NumPy copies) and the filter scores of ``model`` are computed
    once; for each fraction a fresh shrunken model is built from those copies, measured
    and evaluated, then dropped. ``model`` itself is never rebuilt or modified.

    Args:
        model: The trained model.
        fractions: Fractions of filters / units to remove, each in ``[0, 1)``.
        mode, norm, normalization: As in :func:`structured_prune`.
        data: Optional ``(x, y)`` arrays or dataset: adds ``loss`` and ``accuracy``
            (:func:`tf_sfw.pruning.sweep.evaluate_classifier`).
        evaluate: Optional ``callable(shrunk_model) -> mapping`` merged into each row
            (called after the BatchNorm re-estimation, when there is one).
        batch_size: Evaluation batch size for array ``data``.
        reestimate_bn: Optional calibration sample of training data (dataset or iterable of
            batches) on which every shrunken model's BatchNorm moving statistics are
            recomputed (:func:`tf_sfw.pruning.batchnorm.reestimate_batchnorm`, forward
            passes only) after ``loss``/``accuracy`` are measured; adds ``bn_batches`` (batches
            used, 0 for a model without BatchNorm) and, with ``data`` and BatchNorm layers,
            ``bn_loss`` and ``bn_accuracy`` of the re-estimated model. Both accuracies are
            thus recorded.
        bn_batches: Batches of ``reestimate_bn`` to use (None: all).

    Returns:
        One dict per fraction: ``fraction``, ``channels`` (prunable channels in all),
        ``kept_channels``, ``widths`` (:func:`kept_widths`), ``params`` (``count_params()``),
        ``flops`` (:func:`model_flops`), plus the evaluation entries.
    """
    graph = ChannelGraph(model)
    weights = graph.read_weights()
    groups = graph.filter_groups(weights, norm)
    total = int(sum(len(g.scores) for g in groups.values()))
    rows = []
    for fraction in fractions:
        plan = structured_plan(groups, fraction, mode, normalization)
        shrunk = _shrink(graph, weights, plan, None)
        kept = int(sum(len(plan[g.layers[0]]) for g in groups.values()))
        row = {"fraction": float(fraction), "channels": total, "kept_channels": kept, "widths": _widths(graph, plan)}
        row.update(params=int(shrunk.count_params()), flops=model_flops(shrunk))
        row.update(_evaluate_row(shrunk, data, None, batch_size))
        if reestimate_bn is not None:
            row["bn_batches"] = reestimate_batchnorm(shrunk, reestimate_bn, bn_batches)
            if row["bn_batches"] and data is not None:
                row["bn_loss"], row["bn_accuracy"] = evaluate_classifier(shrunk, data, batch_size=batch_size)
        row.update(_evaluate_row(shrunk, None, evaluate, batch_size))
        rows.append(row)
    return rows


_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_TRANSPOSED = (keras.layers.Conv1DTranspose, keras.layers.Conv2DTranspose, keras.layers.Conv3DTranspose)


def _layer_flops(layer):
    if isinstance(layer, keras.layers.DepthwiseConv2D):
        kernel = layer.depthwise_kernel
    elif isinstance(layer, keras.layers.Dense) or (isinstance(layer, _CONVS) and not isinstance(layer, _TRANSPOSED)):
        kernel = layer.kernel
    else:
        return 0
    positions = np.prod(layer.output.shape[1:-1], dtype=np.int64)
    return int(positions) * int(np.prod(kernel.shape, dtype=np.int64))


def model_flops(model):
    """Multiply-adds of one example's forward pass through the conv and dense layers.

    A convolution (or a Dense layer applied at every position of a feature map) with
    kernel ``W`` and ``P`` output positions costs ``P · |W|`` multiply-adds, e.g.
    ``H_out·W_out·kh·kw·C_in·C_out`` for Conv2D and ``C_in·C_out`` for Dense on vectors.
    Biases, BatchNorm, activations and pooling are not counted; one multiply-add counts
    as one FLOP (the usual convention of CNN FLOP tables). Nested models are included;
    transposed convolutions are not counted.
    """
    total = 0
    for layer in model.layers:
        total += model_flops(layer) if isinstance(layer, keras.Model) else _layer_flops(layer)
    return total


def saved_model_size(model):
    """Bytes on disk of ``model`` exported as a SavedModel (:func:`tf_sfw.pruning.export_model`,
    without the ``.keras`` copy): the sum of all file sizes in the export directory.

    The model is measured as served: an uncompiled copy with the same weights is exported, so
    a compiled, trained model's optimizer slots (which a SavedModel would otherwise carry) do
    not count.
    """
    serving = keras.models.clone_model(model)
    serving.set_weights(model.get_weights())
    with tempfile.TemporaryDirectory() as tmp:
        directory = export_model(serving, os.path.join(tmp, "model"), keras_copy=False)
        return sum(os.path.getsize(os.path.join(root, f)) for root, _, files in os.walk(directory) for f in files)


def structured_metrics(model, dense_model, batch_sizes=(1, 128), repeats=20, warmup=3, seed=0, dense_sizes=None):
    """Size and speed of a shrunken ``model`` against the ``dense_model`` it came from.

    Args:
        model: The shrunken model.
        dense_model: The original model.
        batch_sizes: Batch sizes at which CPU/device inference latency is measured, on
            random normal inputs (dense kernels' time does not depend on the values).
        repeats, warmup: Passed to :func:`tf_sfw.pruning.metrics.relative_latency`
            (the two models are timed alternately; medians).
        seed: Seed of the random inputs.
        dense_sizes: Optional ``{"params": ..., "flops": ..., "saved_model_bytes": ...}`` of
            ``dense_model`` measured before (e.g. ``dense_params``, ``dense_flops`` and
            ``dense_saved_model_bytes`` of an earlier call), so that a sweep exports the dense
            model once instead of once per fraction. Missing keys are measured.

    Returns:
        Dict with ``params``/``dense_params``/``params_ratio`` (``count_params()``),
        ``flops``/``dense_flops``/``flops_ratio`` (:func:`model_flops`),
        ``saved_model_bytes``/``dense_saved_model_bytes``/``saved_model_ratio``
        (:func:`saved_model_size`) and, for each batch size ``b``, ``latency_b{b}_s`` and
        ``dense_latency_b{b}_s`` (seconds per example) and ``latency_ratio_b{b}``
        (shrunken / dense). Ratios are shrunken / dense.
    """
    if dense_sizes is not None and not hasattr(dense_sizes, "items"):
        raise ValueError(f"`dense_sizes` must be a mapping {{measure: value}} or None. Received: dense_sizes={dense_sizes!r:.200}")
    known = dense_sizes or {}
    out = {}
    measures = (("params", lambda m: int(m.count_params())), ("flops", model_flops), ("saved_model_bytes", saved_model_size))
    for key, fn in measures:
        out[key], out[f"dense_{key}"] = fn(model), known[key] if key in known else fn(dense_model)
        out[f"{key.replace('_bytes', '')}_ratio"] = out[key] / out[f"dense_{key}"]
    rng = np.random.default_rng(seed)
    spec = dense_model.inputs[0]
    for batch in batch_sizes:
        x = rng.standard_normal((int(batch),) + tuple(spec.shape[1:])).astype(spec.dtype.as_numpy_dtype)
        ratio, latency, dense_latency = relative_latency(model, dense_model, x, repeats=repeats, warmup=warmup)
        out.update({f"latency_b{batch}_s": latency, f"dense_latency_b{batch}_s": dense_latency})
        out[f"latency_ratio_b{batch}"] = ratio
    return out
