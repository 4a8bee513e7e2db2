"""Structured (filter / unit) pruning: channel groups, filter scores and pruning plans.

A *filter* of a ``Conv2D`` kernel ``W ∈ R^{kh×kw×C_in×C_out}`` is the slice
``W[..., c]``; a *unit* of a ``Dense`` kernel ``W ∈ R^{C_in×C_out}`` is the column
``W[:, c]`` (groups are slices along the kernel's output axis, as in the group sets of
Zimmer, Spiegel and Pokutta, "Compression-aware Training of Neural Networks using
Frank-Wolfe"). Removing output channel ``c`` of a layer removes, downstream, input slice
``c`` of every consumer (see :mod:`tf_sfw.pruning.shrink`).

Channel groups. The model graph is walked once. Every ``Conv2D``/``Dense`` output opens a
*channel space*; element-wise layers (activations, pooling, dropout, padding) pass it on;
element-wise merges (``Add``, ...) unite the spaces of their inputs (union-find), because
the channels that meet at an add must be removed together. A space is *fixed* (never
pruned) when it reaches a model output (the classifier's units), comes from a model input,
or is normalised across channels (softmax).

Scores. For a group ``G`` of layers sharing one channel space, the score of channel ``c``
is the norm of the concatenation of the filters ``c`` of all layers in ``G``:

.. math:: s_c = \\Big(\\sum_{l \\in G} \\|W_l[..., c]\\|_p^p\\Big)^{1/p}, \\qquad p \\in \\{1, 2\\}

(the L1 / L2 filter-norm criterion of Li et al., ICLR 2017, "Pruning Filters for
Efficient ConvNets"; ``score="kernel"``, the default: biases and BatchNorm scales are not
scored). A BatchNorm after the layer divides the kernel's scale out, so two BatchNorm-aware
scores replace the per-layer filter norm ``‖W_l[..., c]‖_p`` by

- ``score="bn_gamma"``: ``|γ_{l,c}|``, the scale of the BatchNorm right after layer ``l``
  (Liu et al., ICCV 2017, "Learning Efficient Convolutional Networks through Network
  Slimming");
- ``score="bn_scaled"``: ``|γ_{l,c}| / √(σ²_{l,c} + ε) · ‖W_l[..., c]‖_p``, the norm of the
  BatchNorm-folded kernel (moving variance ``σ²``);

combined over the group as above (``(Σ_l v_{l,c}^p)^{1/p}``). These need a
BatchNormalization as the only consumer of every layer of a scored group.

``score="activation"`` looks at the channel where it is used instead of where it is made: with
calibration inputs, every Conv2D / Dense layer ``L`` that reads the group's channel space (its
*consumers*; after ``Flatten`` feature ``p·C + c`` is channel ``c`` at position ``p``) contributes
the channel's input RMS times the norm of the weights that multiply it,

.. math:: s_c = \Big(\sum_{L} \sum_{p} \operatorname{rms}(X_L[\ldots, p C + c])^2\,
          \|\hat W_L[\ldots, p C + c, :]\|_2^2\Big)^{1/2},

where :math:`\operatorname{rms}` runs over calibration examples and spatial positions and
:math:`\hat W_L` is ``L``'s kernel with every output column scaled by
:math:`|γ_o| / \sqrt{σ^2_o + ε}` of the BatchNorm that is ``L``'s only consumer (unscaled
otherwise), so that consumers normalised to different scales are comparable. This is the
channel-level sum of the Wanda criterion :math:`|W_{ij}|\,\|X_j\|_2` (Sun et al., ICLR 2024,
"A Simple and Effective Pruning Approach for Large Language Models") over the consumers' weights;
unlike a filter norm it is not divided out by the BatchNorm after the filter, and it sees the
BatchNorm shift and the residual stream the channel carries.

``score="greedy_least_squares"`` also asks the consumers, but lets the kept channels compensate:
channels are removed one at a time, each time the one whose removal the consumers' least-squares
refit (on their input Gram matrices :math:`X_L^\top X_L` over calibration inputs, kernels
:math:`\hat W_L` as above) makes up for best, by the Optimal Brain Surgeon block formula
(`tf_sfw.pruning.greedy_channels`; the greedy selection of ThiNet, Luo, Wu and Lin, ICCV 2017).
A channel's score is its position in that order (0 = removed first), so the layer-wise plan at
every fraction is the greedy choice; the ranks do not compare across groups, so global mode
refuses this score (:func:`check_score_mode`).

Selection. With ``n_g`` channels in group ``g`` and ``n = Σ_g n_g``:

- ``mode="layerwise"``: group ``g`` loses its ``min(z(f, n_g), n_g - 1)`` lowest-scored
  channels;
- ``mode="global"``: the scores are normalised per group and the ``z(f, n)`` lowest
  normalised scores over all groups are removed, skipping a channel whenever it would be
  the last of its group (so at most ``n - #groups`` channels can go). Normalisation
  ``"mean"`` divides each group's scores by their mean, ``ŝ_c = s_c / mean_g(s)``, which
  makes layers of different fan-in comparable (a filter is removed when it is weak
  *relative to its layer*); ``"none"`` compares raw norms.

  Compute-aware selection (``costs``, global mode only): each group's normalised scores are
  divided by the relative cost of one of its channels, ``ŝ_c · F̄ / F_g``, so that of two equally
  weak channels the more expensive goes first -- the count of removed channels is unchanged, the
  plan spends it where it saves most. With ``cost="flops"`` (:func:`channel_costs`) the cost of a
  channel of group ``g`` is the multiply-adds its removal saves,

  .. math:: F_g = \frac{1}{C_g} \sum_{L \in \text{producers}(g)\,\cup\,\text{consumers}(g)}
            \operatorname{flops}(L),

  every producer losing an output channel and every consumer an input channel (after
  ``Flatten``, the channel's ``repeat`` rows), ``C_g`` the group's width and ``F̄ = Σ_g C_g F_g /
  Σ_g C_g`` the mean over all prunable channels (`tf_sfw.pruning.flops.layer_flops`). This is the
  importance-per-cost ranking of resource-constrained pruning (e.g. Molchanov et al., CVPR 2019,
  "Importance Estimation for Neural Network Pruning", and the latency-saliency knapsack of Shen et
  al., NeurIPS 2022, "Structural Pruning via Latency-Saliency Knapsack") in its simplest form.

Here ``z(f, n) = floor(f·n + 1/2)`` (:func:`tf_sfw.pruning.magnitude.num_pruned`). Ties
follow the package's one tie rule (:func:`tf_sfw.selection.pruning_order`): among equal
scores the higher index -- of the concatenation of the groups in order, in global mode --
is removed first. Every group keeps at least one channel.
"""

import collections

import numpy as np

from tf_sfw import selection
from tf_sfw._keras import keras
from tf_sfw.pruning.flops import layer_flops
from tf_sfw.pruning.greedy_channels import greedy_removal_order
from tf_sfw.pruning.layer_inputs import input_rows
from tf_sfw.pruning.magnitude import num_pruned, validate_sparsity
from tf_sfw.pruning.masks import is_pruned, strip
from tf_sfw.pruning.refit import check_calibration
from tf_sfw.pruning.structured_options import (
    CALIBRATED_SCORES,
    COSTS,
    MODES,
    NORMALIZATIONS,
    NORMS,
    SCORES,
    mode_conflict,
)
from tf_sfw.validation import check_choice, check_positive_int

__all__ = [
    "ChannelGraph", "FilterGroup", "NORMS", "SCORES", "CALIBRATED_SCORES", "NORMALIZATIONS", "MODES", "COSTS",
    "channel_costs", "check_cost_mode", "check_score_mode", "consumer_input_grams", "consumer_input_rms",
    "filter_scores", "scored_groups", "structured_plan",
]  # fmt: skip

#: Layers with prunable output channels, and the config key holding their width.
PRODUCERS = {"Conv2D": "filters", "Dense": "units"}
#: Element-wise (per-channel) layers: output channel c depends only on input channel c.
PASS_THROUGH = frozenset(
    {
        "ReLU", "LeakyReLU", "ELU", "ThresholdedReLU", "Activation", "Softmax",
        "Dropout", "SpatialDropout2D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
        "ActivityRegularization", "MaxPooling2D", "AveragePooling2D",
        "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Cropping2D",
        "UpSampling2D",
    }
)  # fmt: skip
#: Element-wise merges of equally shaped inputs: their channel spaces are united.
MERGES = frozenset({"Add", "Subtract", "Average", "Maximum", "Minimum", "Multiply"})
_CHANNEL_NORMALISING = ("softmax", "log_softmax")

#: One channel group: the layers sharing a channel space and the score of each channel.
FilterGroup = collections.namedtuple("FilterGroup", ["layers", "scores"])


def _unsupported(name, class_name, why):
    return ValueError(f"Structured pruning does not support layer {name!r} ({class_name}): {why}.")


def _activation_name(cfg):
    activation = cfg.get("activation")
    return activation if isinstance(activation, str) else None


class ChannelGraph:
    """The channel structure of a functional or Sequential tf_keras model (read-only).

    Attributes:
        model: The plain model (pruning wrappers stripped).
        config: ``model.get_config()``.
        layout: ``{layer: (space, repeat)}``: the last axis of the layer's output is
            ``repeat`` copies (outer) of channel space ``space`` (inner), i.e. feature
            ``p·C + c`` is channel ``c`` at position ``p`` (``repeat > 1`` after Flatten).
        inputs: ``{layer: [input layer names]}``.
        classes: ``{layer: class name}`` of every layer, in topological order.
        producers: ``{layer: space}`` for Conv2D/Dense layers, in topological order.
        batchnorms: Names of BatchNormalization layers.
    """

    def __init__(self, model):
        if not isinstance(model, keras.Model):
            raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
        self.model = strip(model) if is_pruned(model) else model
        self.sequential = isinstance(self.model, keras.Sequential)
        self.config = self.model.get_config()
        self._parent, self.sizes, self._fixed = [], [], []
        self.layout, self.inputs, self.producers, self.batchnorms = {}, {}, {}, []
        entries = self._entries()
        self.classes = {name: class_name for name, class_name, _, _ in entries}
        self.configs = {name: cfg for name, _, cfg, _ in entries}
        for name, class_name, cfg, inbound in entries:
            self._visit(name, class_name, cfg, inbound)
        outputs = [entries[-1][0]] if self.sequential else [o[0] for o in self.config["output_layers"]]
        for name in outputs:
            self._fix(self.layout[name][0])

    # -- graph entries ------------------------------------------------------------------
    def _entries(self):
        """``[(name, class_name, layer config, [input names])]`` in topological order."""
        entries, previous = [], None
        for item in self.config["layers"]:
            class_name, cfg = item["class_name"], item["config"]
            name = cfg["name"] if self.sequential else item["name"]
            if self.sequential:
                inbound = [] if previous is None else [previous]
            else:
                nodes = item.get("inbound_nodes", [])
                if len(nodes) > 1:
                    raise _unsupported(name, class_name, f"it is called {len(nodes)} times (shared layer)")
                inbound = [self._inbound_name(name, class_name, ref) for ref in (nodes[0] if nodes else [])]
            entries.append((name, class_name, cfg, inbound))
            previous = name
        return entries

    @staticmethod
    def _inbound_name(name, class_name, ref):
        if not isinstance(ref, (list, tuple)) or len(ref) < 3:
            raise _unsupported(name, class_name, f"unrecognised inbound node {ref!r}")
        if ref[2] != 0:
            raise _unsupported(name, class_name, f"it reads output {ref[2]} of multi-output layer {ref[0]!r}")
        return ref[0]

    # -- union-find over channel spaces -------------------------------------------------
    def _new_space(self, size, fixed=False):
        self._parent.append(len(self._parent))
        self.sizes.append(None if size is None else int(size))
        self._fixed.append(bool(fixed))
        return len(self._parent) - 1

    def find(self, space):
        """Root of ``space`` (path halving)."""
        while self._parent[space] != space:
            self._parent[space] = self._parent[self._parent[space]]
            space = self._parent[space]
        return space

    def _fix(self, space):
        self._fixed[self.find(space)] = True

    def _union(self, a, b):
        a, b = self.find(a), self.find(b)
        if a != b:
            self._parent[b] = a
            self._fixed[a] = self._fixed[a] or self._fixed[b]

    def is_fixed(self, space):
        """Whether the channels of ``space`` may not be removed."""
        return self._fixed[self.find(space)]

    # -- layers -------------------------------------------------------------------------
    def _shape(self, name, which):
        layer = self.model.get_layer(name)
        try:
            return tuple(getattr(layer, which).shape)
        except AttributeError as err:
            raise _unsupported(name, type(layer).__name__, f"its {which} shape is ambiguous ({err})") from None

    def _visit(self, name, class_name, cfg, inbound):
        if cfg.get("data_format", "channels_last") != "channels_last":
            raise _unsupported(name, class_name, "only data_format='channels_last' is supported")
        if class_name == "InputLayer":
            self.layout[name] = (self._new_space(None, fixed=True), 1)
            return
        if len(inbound) != 1 and class_name not in MERGES:
            raise _unsupported(name, class_name, f"expected one input, got {len(inbound)}")
        self.inputs[name] = list(inbound)
        space, repeat = self.layout[inbound[0]]
        if class_name in PRODUCERS:
            if class_name == "Conv2D" and cfg.get("groups", 1) != 1:
                raise _unsupported(name, class_name, "grouped convolutions (groups != 1)")
            out = self._new_space(cfg[PRODUCERS[class_name]], _activation_name(cfg) in _CHANNEL_NORMALISING)
            self.producers[name] = out
            self.layout[name] = (out, 1)
        elif class_name == "BatchNormalization":
            axis, rank = cfg.get("axis", -1), len(self._shape(name, "input"))
            axes = [a % rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
            if axes != [rank - 1]:
                raise _unsupported(name, class_name, f"only the last axis can be normalised (axis={axis!r})")
            self.batchnorms.append(name)
            self.layout[name] = (space, repeat)
        elif class_name in PASS_THROUGH:
            if cfg.get("noise_shape") is not None:
                raise _unsupported(name, class_name, "an explicit noise_shape")
            if class_name == "Softmax" or _activation_name(cfg) in _CHANNEL_NORMALISING:
                self._fix(space)  # normalises across channels: removing one changes the others
            self.layout[name] = (space, repeat)
        elif class_name == "Flatten":
            spatial = self._shape(name, "input")[1:-1]
            if any(d is None for d in spatial):
                raise _unsupported(name, class_name, "its input has unknown spatial dimensions")
            self.layout[name] = (space, repeat * int(np.prod(spatial, dtype=np.int64)))
        elif class_name in MERGES:
            self._visit_merge(name, class_name, inbound)
        else:
            raise _unsupported(
                name,
                class_name,
                f"supported layers are {sorted(PRODUCERS)}, BatchNormalization, Flatten, "
                f"{sorted(MERGES)} and {sorted(PASS_THROUGH)}",
            )

    def _visit_merge(self, name, class_name, inbound):
        shapes = {tuple(self.model.get_layer(i).output.shape[1:]) for i in inbound}
        repeats = {self.layout[i][1] for i in inbound}
        if len(shapes) != 1 or len(repeats) != 1:
            raise _unsupported(name, class_name, f"its inputs differ in shape or channel layout ({sorted(shapes)})")
        space = self.layout[inbound[0]][0]
        for other in inbound[1:]:
            self._union(space, self.layout[other][0])
        self.layout[name] = (space, repeats.pop())

    # -- groups and indices -------------------------------------------------------------
    def groups(self):
        """``{root space: [producer layers]}`` of the prunable (not fixed) spaces."""
        out = {}
        for layer, space in self.producers.items():
            if not self.is_fixed(space):
                out.setdefault(self.find(space), []).append(layer)
        return out

    def input_index(self, name, kept):
        """Indices into the last axis of ``name``'s single input that survive ``kept``.

        ``kept`` maps root spaces to kept channel indices; returns ``None`` for "all".
        """
        space, repeat = self.layout[self.inputs[name][0]]
        channels = kept.get(self.find(space))
        if channels is None:
            return None
        size = self.sizes[self.find(space)]
        return (np.arange(repeat, dtype=np.int64)[:, None] * size + channels[None, :]).ravel()

    def read_weights(self):
        """``{layer: [numpy arrays]}`` copies of the weights of producers and BatchNorms."""
        names = list(self.producers) + self.batchnorms
        return {name: [np.array(w) for w in self.model.get_layer(name).get_weights()] for name in names}

    def consumers(self, root):
        """The Conv2D/Dense layers whose input carries channel space ``root``, in model order."""
        return [name for name in self.producers if self.find(self.layout[self.inputs[name][0]][0]) == root]

    def _next_layers(self, layer):
        return [name for name, inbound in self.inputs.items() if layer in inbound]

    def batchnorm_after(self, layer):
        """The BatchNormalization that is ``layer``'s only consumer, or None."""
        consumers = self._next_layers(layer)
        if len(consumers) == 1 and self.classes[consumers[0]] == "BatchNormalization":
            return consumers[0]
        return None

    def _batchnorm_scale(self, weights, layer, score):
        """``|γ|`` (``"bn_gamma"``) or ``|γ| / √(σ² + ε)`` of the BatchNorm consuming ``layer``."""
        bn = self.batchnorm_after(layer)
        if bn is None:
            consumers = self._next_layers(layer)
            raise ValueError(
                f"`score={score!r}` needs a BatchNormalization as the only consumer of layer {layer!r}. "
                f"Its consumers: {consumers}"
            )
        cfg, values = self.configs[bn], [np.asarray(w, dtype=np.float64) for w in weights[bn]]
        gamma = np.abs(values[0]) if cfg.get("scale", True) else np.ones_like(values[-1])
        return gamma if score == "bn_gamma" else gamma / np.sqrt(values[-1] + cfg.get("epsilon", 1e-3))

    def _scored_consumers(self, root, score):
        layers = self.consumers(root)
        if not layers:
            raise ValueError(f"`score={score!r}`: no Conv2D/Dense layer reads the channels of "
                             f"{self.groups()[root][0]!r}, so they have no {score} score.")
        return layers

    def _consumer_kernel(self, weights, layer):
        """``Ŵ_L``: ``layer``'s kernel (float64), every output column scaled by ``|γ| / √(σ² + ε)``
        of the BatchNorm that is its only consumer (unscaled without one)."""
        kernel = np.asarray(weights[layer][0], dtype=np.float64)
        if self.batchnorm_after(layer) is not None:
            kernel = kernel * self._batchnorm_scale(weights, layer, "bn_scaled")
        return kernel

    def _consumer_energy(self, weights, root, input_rms):
        """``Σ_L Σ_p rms_L[p·C + c]² ‖Ŵ_L[..., p·C + c, :]‖²`` per channel ``c`` of space ``root``."""
        total = np.zeros(self.sizes[root])
        for layer in self._scored_consumers(root, "activation"):
            kernel = self._consumer_kernel(weights, layer)
            rows = np.sum(kernel**2, axis=tuple(i for i in range(kernel.ndim) if i != kernel.ndim - 2))
            rms = np.asarray(input_rms[layer], dtype=np.float64)
            total += np.sum((rms**2 * rows).reshape(-1, self.sizes[root]), axis=0)
        return total

    def _greedy_ranks(self, weights, root, input_grams, damping):
        """Each channel's position in the greedy least-squares removal order of space ``root``."""
        layers = self._scored_consumers(root, "greedy_least_squares")
        kernels = [self._consumer_kernel(weights, layer) for layer in layers]
        order, _ = greedy_removal_order([input_grams[layer] for layer in layers],
                                        [k.reshape(-1, k.shape[-1]) for k in kernels], self.sizes[root], damping)
        ranks = np.empty(order.size)
        ranks[order] = np.arange(order.size)
        return ranks

    def channel_flops(self):
        """``{first layer: F_g}`` for every prunable group: the multiply-adds one of its channels
        costs, ``Σ flops(L) / C_g`` over the group's producers and consumers."""
        out = {}
        for root, layers in self.groups().items():
            touched = list(layers) + self.consumers(root)
            out[layers[0]] = sum(layer_flops(self.model.get_layer(layer)) for layer in touched) / self.sizes[root]
        return out

    def filter_groups(self, weights, norm="l2", score="kernel", input_rms=None, input_grams=None, damping=0.01):
        """``{first layer: FilterGroup}`` with the channel scores of every prunable group.

        ``input_rms`` (``score="activation"`` only): ``{layer: RMS of each feature of its input}``
        for the Conv2D/Dense layers (see :func:`consumer_input_rms`). ``input_grams``
        (``score="greedy_least_squares"`` only): ``{layer: X^T X of its input rows}`` (see
        :func:`consumer_input_grams`), ``damping`` as in
        `tf_sfw.pruning.greedy_channels.greedy_removal_order`.
        """
        check_choice(norm, "norm", NORMS)
        check_choice(score, "score", SCORES)
        if score in CALIBRATED_SCORES and norm != "l2":
            raise ValueError(f"`score={score!r}` is an L2 score. Received: norm={norm!r}")
        if score == "activation" and not hasattr(input_rms, "items"):
            raise ValueError(f"`score='activation'` needs `input_rms` (see consumer_input_rms). Received: {input_rms!r:.100}")
        if score == "greedy_least_squares" and not hasattr(input_grams, "items"):
            raise ValueError("`score='greedy_least_squares'` needs `input_grams` (see consumer_input_grams). "
                             f"Received: {input_grams!r:.100}")
        out = {}
        for root, layers in self.groups().items():
            if score == "activation":
                out[layers[0]] = FilterGroup(tuple(layers), np.sqrt(self._consumer_energy(weights, root, input_rms)))
                continue
            if score == "greedy_least_squares":
                out[layers[0]] = FilterGroup(tuple(layers), self._greedy_ranks(weights, root, input_grams, damping))
                continue
            total = 0.0
            for layer in layers:
                kernel = np.asarray(weights[layer][0], dtype=np.float64)
                flat = kernel.reshape(-1, kernel.shape[-1])
                term = np.sum(flat**2, axis=0) if norm == "l2" else np.sum(np.abs(flat), axis=0)
                if score != "kernel":
                    scale = self._batchnorm_scale(weights, layer, score)
                    scale = scale**2 if norm == "l2" else scale
                    term = scale if score == "bn_gamma" else scale * term
                total = total + term
            scores = np.sqrt(total) if norm == "l2" else total
            out[layers[0]] = FilterGroup(tuple(layers), scores)
        return out


def _consumer_inputs(graph, calibration_x, batch_size):
    """``(layers, batches)``: the Conv2D/Dense layers of ``graph.model`` that read a prunable
    channel space (model order) and, per calibration batch, their inputs (inference mode)."""
    x = check_calibration(calibration_x)
    check_positive_int(batch_size, "batch_size")
    layers = [layer for root in graph.groups() for layer in graph.consumers(root)]
    layers = [layer for layer in graph.producers if layer in layers]  # model order, each once
    model = graph.model
    inputs = model.inputs[0] if len(model.inputs) == 1 else model.inputs
    net = keras.Model(inputs, [model.get_layer(layer).input for layer in layers])  # one forward pass for all

    def batches():
        for start in range(0, x.shape[0], batch_size):
            outputs = net(x[start:start + batch_size], training=False)
            yield [np.asarray(v) for v in (outputs if isinstance(outputs, (list, tuple)) else [outputs])]

    return layers, batches()


def consumer_input_rms(graph, calibration_x, batch_size=128):
    """``{layer: RMS over examples and positions of every feature of its input}`` for the
    Conv2D/Dense layers of ``graph.model`` that read a prunable channel space (inference mode)."""
    layers, batches = _consumer_inputs(graph, calibration_x, batch_size)
    sums, counts = [0.0] * len(layers), [0] * len(layers)
    for values in batches:
        for i, value in enumerate(values):
            value = value.reshape(-1, value.shape[-1]).astype(np.float64)
            sums[i] = sums[i] + np.sum(value**2, axis=0)
            counts[i] += value.shape[0]
    return {layer: np.sqrt(total / count) for layer, total, count in zip(layers, sums, counts)}


def consumer_input_grams(graph, calibration_x, batch_size=32, max_features=8192, chunk_rows=8192):
    """``{layer: X^T X}`` (float64) of the input rows (`tf_sfw.pruning.layer_inputs.input_rows`:
    im2col patches for Conv2D) of every Conv2D/Dense layer of ``graph.model`` that reads a
    prunable channel space, summed over ``calibration_x`` (inference mode). ValueError for a
    layer with more than ``max_features`` input features (the matrix would need
    ``8·max_features²`` bytes). Rows are accumulated ``chunk_rows`` at a time in float64."""
    check_positive_int(max_features, "max_features")
    check_positive_int(chunk_rows, "chunk_rows")
    layers, batches = _consumer_inputs(graph, calibration_x, batch_size)
    for layer in layers:
        features = int(np.prod(graph.model.get_layer(layer).kernel.shape[:-1]))
        if features > max_features:
            raise ValueError(f"`score='greedy_least_squares'`: layer {layer!r} has {features} input features, more "
                             f"than max_features={max_features} (its Gram matrix would be {features}x{features}); "
                             "score='activation' measures such layers without it.")
    grams = [0.0] * len(layers)
    for values in batches:
        for i, (layer, value) in enumerate(zip(layers, values)):
            rows = input_rows(graph.model.get_layer(layer), value)
            for start in range(0, rows.shape[0], chunk_rows):
                chunk = rows[start:start + chunk_rows].astype(np.float64)
                grams[i] = grams[i] + chunk.T @ chunk
    return dict(zip(layers, grams))


def scored_groups(graph, weights, norm="l2", score="kernel", calibration_x=None, damping=0.01):
    """:meth:`ChannelGraph.filter_groups`, with the consumers' input statistics measured on
    ``calibration_x`` for ``score="activation"`` (input RMS) and ``score="greedy_least_squares"``
    (input Gram matrices), which need it; other scores refuse it."""
    if score in CALIBRATED_SCORES and calibration_x is None:
        raise ValueError(f"`score={score!r}` needs `calibration_x` (e.g. 512 training inputs). Received: None")
    if score not in CALIBRATED_SCORES and calibration_x is not None:
        raise ValueError(f"`calibration_x` is used by score='activation' or 'greedy_least_squares' only. "
                         f"Received: score={score!r}")
    rms = consumer_input_rms(graph, calibration_x) if score == "activation" else None
    grams = consumer_input_grams(graph, calibration_x) if score == "greedy_least_squares" else None
    return graph.filter_groups(weights, norm, score, rms, grams, damping)


def _check_mode_options(mode, score=None, cost="none"):
    """ValueError naming the argument when ``score`` or ``cost`` needs another ``mode``
    (`tf_sfw.pruning.structured_options.mode_conflict`)."""
    conflict = mode_conflict(mode, score=score, cost=cost)
    if conflict is not None:
        raise ValueError(f"`{conflict.option}={conflict.value!r}` {conflict.why}, so it needs mode={conflict.mode!r}. "
                         f"Received: mode={mode!r}")


def check_score_mode(score, mode):
    """ValueError for ``score="greedy_least_squares"`` with ``mode="global"``: its scores are
    ranks within each group, which do not compare across groups."""
    _check_mode_options(mode, score=score)


def check_cost_mode(cost, mode):
    """ValueError for an unknown ``cost``, or a cost other than ``"none"`` with
    ``mode="layerwise"`` (a cost weighs channels of different layers against each other)."""
    check_choice(cost, "cost", COSTS)
    _check_mode_options(mode, cost=cost)


def channel_costs(graph, cost):
    """``{first layer: cost of one channel}`` of every prunable group of ``graph`` (a
    :class:`ChannelGraph`) for ``cost="flops"`` (the multiply-adds its removal saves; see the
    module docstring), None for ``cost="none"``: the ``costs`` of :func:`structured_plan`."""
    check_choice(cost, "cost", COSTS)
    return graph.channel_flops() if cost == "flops" else None


def filter_scores(model, norm="l2", score="kernel", calibration_x=None):
    """Scores of the output channels of every prunable channel group of ``model``.

    Args:
        model: A functional or Sequential tf_keras model (pruning wrappers are stripped).
        norm: ``"l2"`` or ``"l1"``: the filter norm (of all kernels of a group together).
        score: ``"kernel"`` (filter norm), ``"bn_gamma"``, ``"bn_scaled"``, ``"activation"`` or
            ``"greedy_least_squares"`` (see the module docstring; the BatchNorm scores need a
            BatchNorm right after every scored layer, the last two need ``calibration_x`` and
            ``norm="l2"``; ``"greedy_least_squares"`` gives ranks, for layer-wise plans only).
        calibration_x: Inputs (e.g. a few hundred training images) for the calibrated scores.

    Returns:
        Ordered ``{key: FilterGroup(layers, scores)}``; ``key`` is the first layer of the
        group (topological order), ``layers`` all Conv2D/Dense layers whose outputs share
        the channels (more than one only at element-wise merges such as residual adds),
        ``scores`` a float64 array with one entry per channel.

    Raises:
        ValueError: For an unsupported layer (the message names it) or argument.
    """
    graph = ChannelGraph(model)
    return scored_groups(graph, graph.read_weights(), norm, score, calibration_x)


def _check_groups(groups):
    if not hasattr(groups, "items") or not groups:
        raise ValueError(f"`groups` must be a non-empty mapping from filter_scores(). Received: groups={groups!r:.200}")
    for key, group in groups.items():
        scores = np.asarray(getattr(group, "scores", None), dtype=np.float64)
        if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):
            raise ValueError(f"`groups[{key!r}].scores` must be a non-empty 1-D array of finite numbers.")


def _normalised(scores, normalization):
    if normalization == "none":
        return scores
    mean = float(np.mean(scores))
    return scores / mean if mean > 0 else np.zeros_like(scores)


def _check_costs(costs, groups):
    if not hasattr(costs, "items") or set(costs) != set(groups):
        raise ValueError(f"`costs` must map every key of `groups` ({sorted(groups)}) to a cost. "
                         f"Received: costs={costs!r:.200}")
    values = {key: float(value) for key, value in costs.items()}
    bad = {key: value for key, value in values.items() if not np.isfinite(value) or value <= 0}
    if bad:
        raise ValueError(f"`costs` must be finite and positive. Received: {bad}")
    return values


def _cost_weighted(scores, groups, costs):
    """``ŝ_c · F̄ / F_g`` per group, ``F̄`` the mean cost over all channels."""
    sizes = np.array([len(s) for s in scores], dtype=np.float64)
    per_channel = np.array([costs[key] for key in groups], dtype=np.float64)
    mean = float(np.sum(sizes * per_channel) / np.sum(sizes))
    return [s * (mean / c) for s, c in zip(scores, per_channel)]


def _removed_global(groups, fraction, normalization, costs):
    scores = [_normalised(np.asarray(g.scores, dtype=np.float64), normalization) for g in groups.values()]
    if costs is not None:
        scores = _cost_weighted(scores, groups, costs)
    flat = np.concatenate(scores)
    group_of = np.concatenate([np.full(len(s), i) for i, s in enumerate(scores)])
    channel = np.concatenate([np.arange(len(s)) for s in scores])
    order = selection.pruning_order(flat)
    budget = num_pruned(fraction, len(flat))
    left = [len(s) for s in scores]
    removed = [[] for _ in scores]
    for i in order:
        if budget == 0:
            break
        g = group_of[i]
        if left[g] > 1:
            removed[g].append(channel[i])
            left[g] -= 1
            budget -= 1
    return removed


def _removed_layerwise(groups, fraction):
    removed = []
    for group in groups.values():
        scores = np.asarray(group.scores, dtype=np.float64)
        count = min(num_pruned(fraction, scores.size), scores.size - 1)
        removed.append(list(selection.pruning_order(scores)[:count]))
    return removed


def structured_plan(groups, fraction, mode="global", normalization="mean", costs=None):
    """Which channels to keep when removing a fraction of the filters / units.

    Args:
        groups: ``{key: FilterGroup}`` from :func:`filter_scores`.
        fraction: Fraction in ``[0, 1)`` of the channels to remove (of all prunable
            channels in global mode, of each group's in layerwise mode).
        mode: ``"global"`` (one threshold over normalised scores) or ``"layerwise"``.
        normalization: ``"mean"`` or ``"none"``; how scores are made comparable across
            groups in global mode (ignored in layerwise mode).
        costs: Optional ``{key: cost of one channel}`` for every key of ``groups`` (global
            mode only), e.g. :func:`channel_costs`: normalised scores are divided by each
            group's cost relative to the mean channel's (see the module docstring).

    Returns:
        ``{layer: kept channel indices}`` (sorted int64) for every layer of every group;
        the argument of :func:`tf_sfw.pruning.shrink.shrink_model`.
    """
    _check_groups(groups)
    fraction = validate_sparsity(fraction, "fraction")
    check_choice(mode, "mode", MODES)
    check_choice(normalization, "normalization", NORMALIZATIONS)
    if costs is not None:
        if mode != "global":
            raise ValueError(f"`costs` weigh channels of different groups against each other and need mode='global'. "
                             f"Received: mode={mode!r}")
        costs = _check_costs(costs, groups)
    if mode == "global":
        removed = _removed_global(groups, fraction, normalization, costs)
    else:
        removed = _removed_layerwise(groups, fraction)
    plan = {}
    for group, gone in zip(groups.values(), removed):
        kept = np.setdiff1d(np.arange(len(group.scores), dtype=np.int64), np.asarray(gone, dtype=np.int64))
        for layer in group.layers:
            plan[layer] = kept.copy()
    return plan
