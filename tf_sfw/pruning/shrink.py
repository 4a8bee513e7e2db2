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

Compensation (``compensate``, off by default). A removed channel is rarely zero
downstream: with a zero kernel slice, a Conv2D/Dense output channel ``c`` is the constant
``a(b_c)`` (bias ``b_c``, activation ``a``); a following BatchNorm maps it to
``γ_c (a(b_c) − μ_c)/√(σ²_c + ε) + β_c`` and a ReLU to the positive part of that -- not
zero, so dropping the channel drops a constant from every consumer. With compensation every
removed channel is replaced by a constant ``u_r`` and each consumer Conv2D/Dense with
kernel ``W`` gets

.. math:: b'_o = b_o + \\sum_{r \\in \\text{removed}} u_r \\sum_{\\text{spatial}} W[\\ldots, r, o]

(a consumer without a bias gets one, ``use_bias=True``, when the sum is not zero). The
constant is propagated from the removed channel's producer through BatchNorm (inference
mode), activations, element-wise merges (``Add`` sums the constants of its inputs),
pooling, dropout and ``Flatten``:

- ``compensate="zero"``: ``u_r`` is the channel's value if its filter's kernel were zero
  (bias through everything that follows, as above). This is exact -- the shrunken model
  equals the dense model -- when the removed filters' kernels are zero and the consumers
  use ``padding="valid"``.
- ``compensate="mean"``: as ``"zero"``, except that a BatchNorm outputs its shift ``β_c``,
  the mean of ``γ_c (x − μ_c)/√(σ²_c + ε) + β_c`` when ``x`` has its moving mean ``μ_c``
  (with BatchNorm a small kernel says little about the channel: BN divides the scale out).
  Later non-linearities are applied to that mean, so after a ReLU ``relu(β_c)`` is a lower
  bound of the channel's mean (Jensen). Exact when the removed channels equal their
  BatchNorm moving means (e.g. zero kernel and ``μ_c = a(b_c)``).

At the borders of a ``padding="same"`` convolution (or after ``ZeroPadding2D``) some taps
read zero padding instead of the constant, so there the compensation over-counts: it is
exact at interior positions only. For removed filters with non-zero kernels the channel's
varying part is still lost; only the constant (e.g. the BatchNorm shift ``β`` that Li et
al. drop) is carried into the next layer's bias.

Compensation changes only biases (and may add them), computed from the original weights.

The sweep (:func:`structured_sweep`) reads the original model's config, weights and
scores once and builds each shrunken model from those copies; the original model is never
rebuilt, cloned or modified.
"""

import copy
import os
import tempfile

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.batchnorm import reestimate_batchnorm
from tf_sfw.pruning.export import export_model
from tf_sfw.pruning.flops import model_flops
from tf_sfw.pruning.metrics import relative_latency
from tf_sfw.pruning.structured import (
    MERGES,
    PRODUCERS,
    ChannelGraph,
    channel_costs,
    check_cost_mode,
    check_score_mode,
    scored_groups,
    structured_plan,
)
from tf_sfw.pruning.sweep import evaluate_classifier

__all__ = [
    "COMPENSATIONS",
    "DEFAULT_FRACTIONS",
    "shrink_model",
    "structured_prune",
    "structured_sweep",
    "kept_output_channels",
    "kept_widths",
    "model_flops",
    "saved_model_size",
    "structured_metrics",
]

#: Values of ``compensate`` besides None (off); see the module docstring.
COMPENSATIONS = ("zero", "mean")
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


def _smaller_config(graph, kept, name, add_bias=()):
    config = copy.deepcopy(graph.config)
    config["name"] = name
    for item in config["layers"]:
        item.pop("build_config", None)  # built again from the new input shapes
        cfg = item["config"]
        layer = cfg["name"] if graph.sequential else item["name"]
        root = graph.find(graph.producers[layer]) if layer in graph.producers else None
        if root in kept:
            cfg[PRODUCERS[item["class_name"]]] = int(kept[root].size)
        if layer in add_bias:
            cfg["use_bias"] = True
    return config


def _check_compensate(compensate):
    if compensate is None:
        return None
    if not isinstance(compensate, str) or compensate not in COMPENSATIONS:
        raise ValueError(
            f"`compensate` must be None or one of {COMPENSATIONS}. Received: compensate={compensate!r:.200}"
        )
    return compensate


_IDENTITY_ON_CONSTANTS = frozenset(
    {
        "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
        "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
        "ZeroPadding2D", "Cropping2D", "UpSampling2D",
    }
)  # fmt: skip
_MERGE_OPS = {
    "Add": lambda v: np.sum(v, axis=0),
    "Subtract": lambda v: v[0] - v[1],
    "Average": lambda v: np.mean(v, axis=0),
    "Maximum": lambda v: np.max(v, axis=0),
    "Minimum": lambda v: np.min(v, axis=0),
    "Multiply": lambda v: np.prod(v, axis=0),
}


def _call_on_constant(layer, vector):
    """``layer`` (inference mode) applied to a constant feature map whose last axis is ``vector``."""
    rank = len(layer.input.shape)
    x = tf.constant(np.reshape(vector, (1,) * (rank - 1) + (-1,)), dtype=layer.dtype or "float32")
    return np.asarray(layer(x, training=False), dtype=np.float64).reshape(-1)


def _removed_channel_values(graph, weights, compensate):
    """``{layer: last-axis vector}``: each layer's output if every Conv2D/Dense kernel were zero
    (``"zero"``), or with BatchNorm outputs replaced by their shifts ``β`` (``"mean"``).

    Entry ``i`` is the (spatially constant) value of feature ``i`` of the layer's output;
    used only for the removed channels.
    """
    values = {}
    for name, class_name in graph.classes.items():
        if class_name == "InputLayer":
            continue
        layer = graph.model.get_layer(name)
        inbound = [values.get(i) for i in graph.inputs[name]]
        if class_name in PRODUCERS:
            bias = weights[name][1] if len(weights[name]) > 1 else np.zeros(weights[name][0].shape[-1])
            activation = getattr(layer, "activation", None) or keras.activations.linear
            values[name] = np.asarray(activation(tf.constant(bias[None], dtype=layer.dtype)), dtype=np.float64)[0]
        elif any(v is None for v in inbound):
            continue  # fed (also) by a model input: never pruned
        elif class_name in MERGES:
            values[name] = _MERGE_OPS[class_name](np.stack(inbound))
        elif class_name == "Flatten":
            _, repeat = graph.layout[name]
            values[name] = np.tile(inbound[0], repeat // graph.layout[graph.inputs[name][0]][1])
        elif class_name in _IDENTITY_ON_CONSTANTS:
            values[name] = inbound[0]
        elif class_name == "BatchNormalization" and compensate == "mean":
            cfg = graph.configs[name]
            beta = weights[name][1 if cfg.get("scale", True) else 0] if cfg.get("center", True) else 0.0 * inbound[0]
            values[name] = np.asarray(beta, dtype=np.float64)
        else:  # BatchNormalization and element-wise activations
            values[name] = _call_on_constant(layer, inbound[0])
    return values


def _compensations(graph, weights, kept, compensate):
    """``{consumer: bias increment (full output width)}`` for the consumers of removed channels."""
    values = _removed_channel_values(graph, weights, compensate)
    out = {}
    for layer in graph.producers:
        in_idx = graph.input_index(layer, kept)
        if in_idx is None:
            continue
        kernel = np.asarray(weights[layer][0], dtype=np.float64)
        removed = np.setdiff1d(np.arange(kernel.shape[-2]), in_idx)
        constants = values[graph.inputs[layer][0]][removed]
        summed = kernel[..., removed, :].reshape(-1, removed.size, kernel.shape[-1]).sum(axis=0)
        out[layer] = constants @ summed
    return out


def _take(array, idx, axis):
    return array if idx is None else np.take(array, idx, axis=axis)


def _shrink(graph, weights, plan, name, compensate=None):
    """The shrunken model from a graph and weight copies read once (see :func:`shrink_model`)."""
    kept = _resolve_plan(graph, plan)
    shifts = _compensations(graph, weights, kept, compensate) if compensate else {}
    add_bias = {layer for layer, shift in shifts.items() if len(weights[layer]) == 1 and np.any(shift != 0)}
    config = _smaller_config(graph, kept, name or f"{graph.model.name}_shrunk", add_bias)
    model = (keras.Sequential if graph.sequential else keras.Model).from_config(config)
    for layer, space in graph.producers.items():
        out_idx, in_idx = kept.get(graph.find(space)), graph.input_index(layer, kept)
        kernel, *rest = weights[layer]
        if layer in shifts and (rest or layer in add_bias):
            rest = [(rest[0] if rest else 0.0) + shifts[layer]] + rest[1:]
        rest = [np.asarray(w, dtype=kernel.dtype) for w in rest]
        values = [_take(_take(kernel, in_idx, -2), out_idx, -1)] + [_take(w, out_idx, 0) for w in rest]
        model.get_layer(layer).set_weights(values)
    for layer in graph.batchnorms:
        idx = graph.input_index(layer, kept)
        model.get_layer(layer).set_weights([_take(w, idx, 0) for w in weights[layer]])
    return model


def shrink_model(model, plan, name=None, compensate=None):
    """A new functional (or Sequential) model with only the kept filters / units.

    Args:
        model: A tf_keras functional or Sequential model of Conv2D, Dense,
            BatchNormalization, Flatten, element-wise merges and per-channel layers
            (pruning wrappers are stripped first). It is not modified.
        plan: ``{layer: kept output channel indices}`` for Conv2D/Dense layers. Layers not
            named keep all channels, except that layers sharing channels with a named one
            (through an Add) follow it; named layers of one group must agree.
        name: Name of the new model (default ``"<model name>_shrunk"``).
        compensate: None (default: removed channels are dropped), ``"zero"`` or
            ``"mean"``: carry a constant for every removed channel into its consumers'
            biases (see the module docstring).

    Returns:
        A new, uncompiled ``keras.Model`` with the same layer names and physically smaller
        kernels; weights copied.

    Raises:
        ValueError: For an unsupported layer (named in the message), a layer of ``plan``
            that is not prunable (e.g. the classifier), or invalid indices.
    """
    compensate = _check_compensate(compensate)
    graph = ChannelGraph(model)
    return _shrink(graph, graph.read_weights(), plan, name, compensate)


def structured_prune(
    model,
    fraction,
    mode="global",
    norm="l2",
    normalization="mean",
    name=None,
    reestimate_bn=None,
    bn_batches=None,
    compensate=None,
    score="kernel",
    calibration_x=None,
    cost="none",
):
    """Removes ``fraction`` of the filters / units by score and returns the shrunken model.

    See :func:`tf_sfw.pruning.structured.structured_plan` for ``fraction``, ``mode``,
    ``normalization``, :func:`tf_sfw.pruning.structured.filter_scores` for ``norm``,
    ``score`` and ``calibration_x`` (the inputs ``score="activation"`` measures channels on), and
    :func:`tf_sfw.pruning.structured.channel_costs` for ``cost`` (``"flops"``: in global mode, of
    two equally weak channels the one costing more multiply-adds goes first).

    Removing channels shifts the statistics that every later BatchNorm layer sees, while its
    moving mean and variance still describe the dense network. With ``reestimate_bn`` (a
    calibration sample of training data: a dataset or iterable of batches ``x`` or
    ``(x, y)``) the shrunken model's BatchNorm moving statistics are recomputed on
    ``bn_batches`` of its batches (all when None) by forward passes only
    (:func:`tf_sfw.pruning.batchnorm.reestimate_batchnorm`); no other weight changes.
    ``compensate`` is as in :func:`shrink_model` (applied before any re-estimation).
    """
    compensate = _check_compensate(compensate)
    check_score_mode(score, mode)
    check_cost_mode(cost, mode)
    graph = ChannelGraph(model)
    weights = graph.read_weights()
    groups = scored_groups(graph, weights, norm, score, calibration_x)
    plan = structured_plan(groups, fraction, mode, normalization, channel_costs(graph, cost))
    shrunk = _shrink(graph, weights, plan, name, compensate)
    if reestimate_bn is not None:
        reestimate_batchnorm(shrunk, reestimate_bn, bn_batches)
    return shrunk


def kept_widths(model):
    """``{layer name: output channels}`` of every Conv2D/Dense layer of ``model``: the
    architecture a structured plan left (as recorded in :func:`structured_sweep` rows)."""
    return _widths(ChannelGraph(model), {})


def _kept_outputs(graph, plan):
    kept = _resolve_plan(graph, plan)
    return {layer: kept.get(graph.find(space), np.arange(graph.sizes[graph.find(space)]))
            for layer, space in graph.producers.items()}


def kept_output_channels(model, plan):
    """``{layer: sorted kept output channel indices}`` of every Conv2D/Dense layer of ``model``
    under ``plan`` (layers that share channels through an Add follow their group; the others
    keep all)."""
    return _kept_outputs(ChannelGraph(model), plan)


def _widths(graph, plan):
    return {layer: int(idx.size) for layer, idx in _kept_outputs(graph, plan).items()}


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
    compensate=None,
    score="kernel",
    refit=None,
    calibration_x=None,
    cost="none",
):
    """Structured pruning at several filter fractions without retraining.

    The graph, the weights (NumPy copies) and the filter scores of ``model`` are computed
    once; for each fraction a fresh shrunken model is built from those copies, measured
    and evaluated, then dropped. ``model`` itself is never rebuilt or modified.

    Args:
        model: The trained model.
        fractions: Fractions of filters / units to remove, each in ``[0, 1)``.
        mode, norm, normalization, score, calibration_x, cost: As in :func:`structured_prune`.
        data: Optional ``(x, y)`` arrays or dataset: adds ``loss`` and ``accuracy``
            (:func:`tf_sfw.pruning.sweep.evaluate_classifier`).
        evaluate: Optional ``callable(shrunk_model) -> mapping`` merged into each row
            (called after the BatchNorm re-estimation, when there is one; with ``refit``, on
            the refit model instead).
        batch_size: Evaluation batch size for array ``data``.
        reestimate_bn: Optional calibration sample of training data (dataset or iterable of
            batches) on which every shrunken model's BatchNorm moving statistics are
            recomputed (:func:`tf_sfw.pruning.batchnorm.reestimate_batchnorm`, forward
            passes only) after ``loss``/``accuracy`` are measured; adds ``bn_batches`` (batches
            used, 0 for a model without BatchNorm) and, with ``data`` and BatchNorm layers,
            ``bn_loss`` and ``bn_accuracy`` of the re-estimated model. Both accuracies are
            thus recorded.
        bn_batches: Batches of ``reestimate_bn`` to use (None: all).
        compensate: As in :func:`shrink_model`: None, ``"zero"`` or ``"mean"``.
        refit: Optional ``callable(model, shrunk, plan) -> refit model`` applied to the plainly
            shrunken model (before any BatchNorm re-estimation), e.g. the least-squares refit
            `tf_sfw.pruning.reconstruction.refit_shrunk` with its calibration images bound;
            with ``data`` adds ``refit_loss`` and ``refit_accuracy``.

    Returns:
        One dict per fraction: ``fraction``, ``channels`` (prunable channels in all),
        ``kept_channels``, ``widths`` (:func:`kept_widths`), ``params`` (``count_params()``),
        ``flops`` (:func:`model_flops`), plus the evaluation entries.
    """
    compensate = _check_compensate(compensate)
    check_score_mode(score, mode)
    check_cost_mode(cost, mode)
    graph = ChannelGraph(model)
    weights = graph.read_weights()
    groups = scored_groups(graph, weights, norm, score, calibration_x)
    costs = channel_costs(graph, cost)
    total = int(sum(len(g.scores) for g in groups.values()))
    rows = []
    for fraction in fractions:
        plan = structured_plan(groups, fraction, mode, normalization, costs)
        shrunk = _shrink(graph, weights, plan, None, compensate)
        kept = int(sum(len(plan[g.layers[0]]) for g in groups.values()))
        row = {"fraction": float(fraction), "channels": total, "kept_channels": kept, "widths": _widths(graph, plan)}
        row.update(params=int(shrunk.count_params()), flops=model_flops(shrunk))
        row.update(_evaluate_row(shrunk, data, None, batch_size))
        refit_model = None if refit is None else refit(model, shrunk, plan)
        if refit_model is not None and data is not None:
            row["refit_loss"], row["refit_accuracy"] = evaluate_classifier(refit_model, data, batch_size=batch_size)
        if reestimate_bn is not None:
            row["bn_batches"] = reestimate_batchnorm(shrunk, reestimate_bn, bn_batches)
            if row["bn_batches"] and data is not None:
                row["bn_loss"], row["bn_accuracy"] = evaluate_classifier(shrunk, data, batch_size=batch_size)
        row.update(_evaluate_row(shrunk if refit_model is None else refit_model, None, evaluate, batch_size))
        rows.append(row)
    return rows


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
