"""Tests for tf_sfw.pruning.structured (channel groups, filter scores, plans)."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import num_pruned
from tf_sfw.pruning.structured import (
    ChannelGraph,
    FilterGroup,
    channel_costs,
    check_cost_mode,
    filter_scores,
    structured_plan,
)


def plain_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 2), name="input")
    x = keras.layers.Conv2D(6, 3, activation="relu", name="c1")(inp)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Conv2D(5, 2, activation="relu", name="c2")(x)
    x = keras.layers.Flatten(name="flat")(x)
    x = keras.layers.Dense(7, activation="relu", name="fc")(x)
    out = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inp, out)


def residual(seed=0, identity_from_input=False):
    """stem -> [a1 -> relu -> a2] + stem -> relu -> [b1 -> relu -> b2] + shortcut(b_sc) -> GAP -> head."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 4 if identity_from_input else 3), name="input")
    stem = inp if identity_from_input else keras.layers.Conv2D(4, 3, padding="same", name="stem")(inp)
    y = keras.layers.Conv2D(5, 3, padding="same", activation="relu", name="a1")(stem)
    y = keras.layers.Conv2D(4, 3, padding="same", name="a2")(y)
    x = keras.layers.ReLU(name="relu_a")(keras.layers.Add(name="add_a")([y, stem]))
    y = keras.layers.Conv2D(6, 3, strides=2, padding="same", activation="relu", name="b1")(x)
    y = keras.layers.Conv2D(6, 3, padding="same", name="b2")(y)
    sc = keras.layers.Conv2D(6, 1, strides=2, name="b_sc")(x)
    x = keras.layers.ReLU(name="relu_b")(keras.layers.Add(name="add_b")([y, sc]))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


def test_groups_unite_channels_at_adds_and_exclude_the_classifier():
    groups = filter_scores(residual())
    assert {k: g.layers for k, g in groups.items()} == {
        "stem": ("stem", "a2"),
        "a1": ("a1",),
        "b1": ("b1",),
        "b2": ("b2", "b_sc"),
    }
    assert "head" not in filter_scores(plain_cnn())
    # a residual add with the model input fixes the whole group
    assert {g.layers for g in filter_scores(residual(identity_from_input=True)).values()} == {("a1",), ("b1",), ("b2", "b_sc")}


@pytest.mark.parametrize("norm", ["l2", "l1"])
def test_scores_are_norms_of_concatenated_filters(norm):
    model = residual(seed=3)
    groups = filter_scores(model, norm=norm)
    for group in groups.values():
        kernels = [model.get_layer(name).get_weights()[0] for name in group.layers]
        for c in range(kernels[0].shape[-1]):
            concat = np.concatenate([k[..., c].ravel() for k in kernels]).astype(np.float64)
            expected = np.linalg.norm(concat, ord=2 if norm == "l2" else 1)
            np.testing.assert_allclose(group.scores[c], expected, rtol=1e-12)


def _random_groups(seed, sizes=(3, 8, 5, 1)):
    rng = np.random.default_rng(seed)
    return {f"g{i}": FilterGroup((f"g{i}", f"g{i}_twin"), rng.random(n) * (i + 1)) for i, n in enumerate(sizes)}


@pytest.mark.parametrize("fraction", [0.0, 0.25, 0.5, 0.9])
def test_layerwise_plan_drops_the_lowest_scores_of_each_group(fraction):
    groups = _random_groups(0)
    plan = structured_plan(groups, fraction, mode="layerwise")
    for key, group in groups.items():
        n = len(group.scores)
        drop = min(num_pruned(fraction, n), n - 1)
        expected = np.sort(np.argsort(group.scores)[drop:])
        np.testing.assert_array_equal(plan[key], expected)
        np.testing.assert_array_equal(plan[f"{key}_twin"], expected)  # every layer of a group alike


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.6, 0.99])
@pytest.mark.parametrize("normalization", ["mean", "none"])
def test_global_plan_removes_the_globally_lowest_normalised_scores(fraction, normalization):
    groups = _random_groups(1)
    plan = structured_plan(groups, fraction, normalization=normalization)
    n = sum(len(g.scores) for g in groups.values())
    removed_scores, kept_scores, removed = [], [], 0
    for key, group in groups.items():
        s = group.scores / (group.scores.mean() if normalization == "mean" else 1.0)
        kept = plan[key]
        assert kept.size >= 1
        gone = np.setdiff1d(np.arange(len(s)), kept)
        removed += gone.size
        removed_scores += list(s[gone])
        if kept.size > 1:  # channels that were not protected as the last of their group
            kept_scores += list(s[kept])
    assert removed == min(num_pruned(fraction, n), n - len(groups))
    if removed_scores and kept_scores:
        assert max(removed_scores) <= min(kept_scores)


def test_mean_normalisation_makes_global_plans_scale_invariant_per_group():
    groups = _random_groups(2)
    scaled = dict(groups)
    scaled["g1"] = groups["g1"]._replace(scores=groups["g1"].scores * 1000.0)
    a, b = structured_plan(groups, 0.5), structured_plan(scaled, 0.5)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    c, d = structured_plan(groups, 0.5, normalization="none"), structured_plan(scaled, 0.5, normalization="none")
    assert not all(np.array_equal(c[k], d[k]) for k in c)


def test_ties_remove_higher_indices_first():
    groups = {"a": FilterGroup(("a",), np.ones(4)), "b": FilterGroup(("b",), np.ones(4))}
    np.testing.assert_array_equal(structured_plan(groups, 0.5, mode="layerwise")["a"], [0, 1])
    plan = structured_plan(groups, 0.25)  # 2 of 8: the last entries of the concatenation a, b
    np.testing.assert_array_equal(plan["a"], [0, 1, 2, 3])
    np.testing.assert_array_equal(plan["b"], [0, 1])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"fraction": 1.0}, "fraction"),
        ({"fraction": -0.1}, "fraction"),
        ({"fraction": 0.5, "mode": "per_layer"}, "mode"),
        ({"fraction": 0.5, "normalization": "max"}, "normalization"),
    ],
)
def test_plan_arguments_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        structured_plan(_random_groups(0), **kwargs)


def test_scores_norm_is_validated():
    with pytest.raises(ValueError, match="norm"):
        filter_scores(plain_cnn(), norm="l3")


def _model_with(layer_fn):
    inp = keras.Input((6, 6, 2), name="input")
    x = keras.layers.Conv2D(4, 3, name="c1")(inp)
    x = layer_fn(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inp, keras.layers.Dense(2, name="head")(x))


@pytest.mark.parametrize(
    "layer_fn,name",
    [
        (lambda x: keras.layers.Concatenate(name="cat")([x, x]), "cat"),
        (lambda x: keras.layers.Reshape((32, 2), name="reshape")(x), "reshape"),
        (lambda x: keras.layers.DepthwiseConv2D(1, name="dw")(x), "dw"),
        (lambda x: keras.layers.Conv2D(4, 1, groups=2, name="grouped")(x), "grouped"),
        (lambda x: keras.layers.LayerNormalization(name="ln")(x), "ln"),
        (lambda x: keras.layers.BatchNormalization(axis=1, name="bn_axis1")(x), "bn_axis1"),
    ],
)
def test_unsupported_layers_are_refused_by_name(layer_fn, name):
    with pytest.raises(ValueError, match=f"'{name}'"):
        ChannelGraph(_model_with(layer_fn))


def test_shared_layers_are_refused():
    shared = keras.layers.Conv2D(2, 1, name="shared")
    inp = keras.Input((4, 4, 2))
    out = keras.layers.Flatten()(shared(shared(inp)))
    with pytest.raises(ValueError, match="'shared'.*shared layer"):
        ChannelGraph(keras.Model(inp, out))


def test_softmax_over_channels_fixes_the_group():
    inp = keras.Input((6, 6, 2))
    x = keras.layers.Conv2D(4, 3, name="c1")(inp)
    x = keras.layers.Activation("softmax", name="sm")(x)
    x = keras.layers.Conv2D(3, 3, name="c2")(x)
    out = keras.layers.Dense(2, name="head")(keras.layers.Flatten()(x))
    assert list(filter_scores(keras.Model(inp, out))) == ["c2"]


def conv_bn_net(seed=0, scale=True):
    """c1 -> BN -> ReLU -> c2 -> BN -> ReLU -> GAP -> head (BatchNorm after every pruned layer)."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 2), name="input")
    x = keras.layers.Conv2D(5, 3, use_bias=False, name="c1")(inp)
    x = keras.layers.ReLU(name="r1")(keras.layers.BatchNormalization(scale=scale, epsilon=1e-2, name="c1_bn")(x))
    x = keras.layers.Conv2D(4, 2, use_bias=False, name="c2")(x)
    x = keras.layers.ReLU(name="r2")(keras.layers.BatchNormalization(scale=scale, epsilon=1e-2, name="c2_bn")(x))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(x))
    rng = np.random.default_rng(seed)
    for layer in ("c1_bn", "c2_bn"):
        *affine, var = model.get_layer(layer).get_weights()
        model.get_layer(layer).set_weights([rng.normal(0, 1, w.shape) for w in affine] + [rng.uniform(0.1, 3, var.shape)])
    return model


@pytest.mark.parametrize("norm", ["l2", "l1"])
@pytest.mark.parametrize("score", ["bn_gamma", "bn_scaled"])
@pytest.mark.parametrize("scale", [True, False])
def test_batchnorm_aware_scores_match_numpy(norm, score, scale):
    model = conv_bn_net(seed=1, scale=scale)
    groups = filter_scores(model, norm=norm, score=score)
    assert list(groups) == ["c1", "c2"]
    for name, group in groups.items():
        kernel = model.get_layer(name).get_weights()[0].astype(np.float64)
        bn = [w.astype(np.float64) for w in model.get_layer(f"{name}_bn").get_weights()]
        gamma = np.abs(bn[0]) if scale else np.ones_like(bn[-1])
        filters = kernel.reshape(-1, kernel.shape[-1])
        weight_norm = np.linalg.norm(filters, ord=2 if norm == "l2" else 1, axis=0)
        expected = gamma if score == "bn_gamma" else gamma / np.sqrt(bn[-1] + 1e-2) * weight_norm
        np.testing.assert_allclose(group.scores, expected, rtol=1e-10)
    kernel_scores = filter_scores(model, norm=norm)["c1"].scores
    assert not np.allclose(groups["c1"].scores, kernel_scores)


def test_batchnorm_scores_are_invariant_to_the_kernel_scale_that_bn_divides_out():
    """Scaling filter c by a (and its BN statistics accordingly) leaves bn_scaled unchanged, not the kernel norm."""
    model = conv_bn_net(seed=2)
    before = filter_scores(model, score="bn_scaled")["c1"].scores
    kernel = model.get_layer("c1").get_weights()[0]
    gamma, beta, mean, var = model.get_layer("c1_bn").get_weights()
    kernel[..., 0] *= 10.0
    mean[0], var[0] = mean[0] * 10.0, var[0] * 100.0
    model.get_layer("c1").set_weights([kernel])
    model.get_layer("c1_bn").set_weights([gamma, beta, mean, var])
    after = filter_scores(model, score="bn_scaled")["c1"].scores
    np.testing.assert_allclose(after[1:], before[1:], rtol=1e-10)
    np.testing.assert_allclose(after[0], before[0], rtol=0.05)  # up to epsilon = 1e-2 in sqrt(var + eps)
    kernel_before, kernel_after = (filter_scores(m)["c1"].scores[0] for m in (conv_bn_net(seed=2), model))
    np.testing.assert_allclose(kernel_after, 10 * kernel_before, rtol=1e-6)


def test_batchnorm_scores_need_a_batchnorm_after_every_scored_layer():
    with pytest.raises(ValueError, match="`score='bn_gamma'`.*'c1'"):
        filter_scores(plain_cnn(), score="bn_gamma")
    with pytest.raises(ValueError, match="`score`"):
        filter_scores(conv_bn_net(), score="gamma")


def _input_rms(model, layer, x):
    values = keras.Model(model.inputs, model.get_layer(layer).input)(x, training=False).numpy().astype(np.float64)
    return np.sqrt(np.mean(values.reshape(-1, values.shape[-1]) ** 2, axis=0))


def _bn_folded(model, layer):
    """``layer``'s kernel with every output column scaled by the following BatchNorm's |γ|/√(σ²+ε), if any."""
    kernel = model.get_layer(layer).get_weights()[0].astype(np.float64)
    consumers = [l for l in model.layers if any(n.inbound_layers == model.get_layer(layer) for n in l._inbound_nodes)]
    if len(consumers) == 1 and isinstance(consumers[0], keras.layers.BatchNormalization):
        bn = consumers[0]
        gamma, *_, var = [w.astype(np.float64) for w in bn.get_weights()]
        kernel = kernel * (np.abs(gamma) / np.sqrt(var + bn.epsilon))
    return kernel


def one_hidden(seed=0):
    """A single prunable layer, so the activation probe has a single output."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((5,), name="input")
    return keras.Model(inp, keras.layers.Dense(3, name="head")(keras.layers.Dense(4, activation="relu", name="h")(inp)))


#: Test nets and the consumers (Conv2D / Dense layers reading the channels) of each channel group.
NETS_AND_CONSUMERS = [
    (one_hidden, {"h": ["head"]}),
    (plain_cnn, {"c1": ["c2"], "c2": ["fc"], "fc": ["head"]}),
    (residual, {"stem": ["a1", "b1", "b_sc"], "a1": ["a2"], "b1": ["b2"], "b2": ["head"]}),
    (conv_bn_net, {"c1": ["c2"], "c2": ["head"]}),
]


def _calibrated_groups(model, score, x, batch_size):
    """Scores through filter_scores (default batching) or through filter_groups with the statistics
    measured at ``batch_size``, so both paths are tested."""
    from tf_sfw.pruning.structured import consumer_input_grams, consumer_input_rms

    if batch_size == 128:
        return filter_scores(model, score=score, calibration_x=x)
    graph = ChannelGraph(model)
    if score == "activation":
        return graph.filter_groups(graph.read_weights(), score=score,
                                   input_rms=consumer_input_rms(graph, x, batch_size=batch_size))
    return graph.filter_groups(graph.read_weights(), score=score,
                               input_grams=consumer_input_grams(graph, x, batch_size=batch_size))


@pytest.mark.parametrize("builder, consumers", NETS_AND_CONSUMERS)
@pytest.mark.parametrize("batch_size", [3, 128])
def test_activation_scores_match_numpy(builder, consumers, batch_size):
    model = builder(seed=4)
    x = np.random.default_rng(0).uniform(0, 1, (10, *model.input_shape[1:])).astype(np.float32)
    graph = ChannelGraph(model)
    groups = _calibrated_groups(model, "activation", x, batch_size)
    assert set(groups) == set(consumers)
    for key, group in groups.items():
        size = len(group.scores)
        energy = np.zeros(size)
        for layer in consumers[key]:
            assert graph.consumers(graph.find(graph.producers[key])).count(layer) == 1
            rows = np.sum(_bn_folded(model, layer) ** 2, axis=-1)  # Dense: (F,), Conv2D: (kh, kw, C_in)
            rows = rows.reshape(-1, rows.shape[-1]).sum(axis=0)
            energy += ((_input_rms(model, layer, x) ** 2) * rows).reshape(-1, size).sum(axis=0)
        np.testing.assert_allclose(group.scores, np.sqrt(energy), rtol=1e-5)
    assert not np.allclose(groups[next(iter(groups))].scores, filter_scores(model)[next(iter(groups))].scores)


def test_activation_score_sees_a_dead_channel_that_the_kernel_norm_misses():
    """A channel whose BatchNorm output is always negative is zero after ReLU: its activation score is 0."""
    model = conv_bn_net(seed=5)
    gamma, beta, mean, var = model.get_layer("c1_bn").get_weights()
    beta = np.abs(beta) + 1.0  # every other channel alive
    beta[2], gamma[2] = -100.0, 1.0
    model.get_layer("c1_bn").set_weights([gamma, beta, mean, var])
    x = np.random.default_rng(1).uniform(0, 1, (8, 6, 6, 2)).astype(np.float32)
    scores = filter_scores(model, score="activation", calibration_x=x)["c1"].scores
    assert scores[2] == 0.0 and np.all(np.delete(scores, 2) > 0)
    assert filter_scores(model)["c1"].scores[2] > 0
    from tf_sfw.pruning.shrink import shrink_model

    plan = structured_plan(filter_scores(model, score="activation", calibration_x=x), 0.2, mode="layerwise")
    np.testing.assert_array_equal(plan["c1"], [0, 1, 3, 4])
    shrunk = shrink_model(model, {"c1": plan["c1"]})  # removing the dead channel changes nothing
    np.testing.assert_allclose(shrunk(x, training=False).numpy(), model(x, training=False).numpy(), atol=1e-5)


def test_activation_score_arguments():
    x = np.zeros((2, 8, 8, 2), np.float32)
    with pytest.raises(ValueError, match="needs `calibration_x`"):
        filter_scores(plain_cnn(), score="activation")
    with pytest.raises(ValueError, match="score='activation' or 'greedy_least_squares' only.*'kernel'"):
        filter_scores(plain_cnn(), calibration_x=x)
    with pytest.raises(ValueError, match="L2 score.*'l1'"):
        filter_scores(plain_cnn(), norm="l1", score="activation", calibration_x=x)
    with pytest.raises(ValueError, match="calibration_x"):
        filter_scores(plain_cnn(), score="activation", calibration_x=np.full((2, 8, 8, 2), np.nan, np.float32))
    graph = ChannelGraph(plain_cnn())
    with pytest.raises(ValueError, match="needs `input_rms`"):
        graph.filter_groups(graph.read_weights(), score="activation")


def _im2col_gram(model, layer, x):
    """``XᵀX`` of ``layer``'s input rows, im2col written out here with explicit loops (numpy reference)."""
    values = keras.Model(model.inputs, model.get_layer(layer).input)(x, training=False).numpy().astype(np.float64)
    lyr = model.get_layer(layer)
    if isinstance(lyr, keras.layers.Dense):
        rows = values.reshape(-1, values.shape[-1])
    else:
        (kh, kw), (sh, sw) = lyr.kernel_size, lyr.strides
        if lyr.padding == "same":
            out_h, out_w = -(-values.shape[1] // sh), -(-values.shape[2] // sw)
            ph = max((out_h - 1) * sh + kh - values.shape[1], 0)
            pw = max((out_w - 1) * sw + kw - values.shape[2], 0)
            values = np.pad(values, [(0, 0), (ph // 2, ph - ph // 2), (pw // 2, pw - pw // 2), (0, 0)])
        else:
            out_h, out_w = (values.shape[1] - kh) // sh + 1, (values.shape[2] - kw) // sw + 1
        rows = [values[n, i * sh:i * sh + kh, j * sw:j * sw + kw, :].ravel()
                for n in range(values.shape[0]) for i in range(out_h) for j in range(out_w)]
        rows = np.array(rows)
    return rows.T @ rows


@pytest.mark.parametrize("builder, consumers", NETS_AND_CONSUMERS)
@pytest.mark.parametrize("batch_size", [3, 128])
def test_greedy_least_squares_scores_are_the_greedy_removal_ranks(builder, consumers, batch_size):
    from tf_sfw.pruning.greedy_channels import greedy_removal_order

    model = builder(seed=6)
    x = np.random.default_rng(2).uniform(0, 1, (7, *model.input_shape[1:])).astype(np.float32)
    groups = _calibrated_groups(model, "greedy_least_squares", x, batch_size)
    assert set(groups) == set(consumers)
    for key, group in groups.items():
        size = len(group.scores)
        kernels = [_bn_folded(model, layer) for layer in consumers[key]]
        order, _ = greedy_removal_order([_im2col_gram(model, layer, x) for layer in consumers[key]],
                                        [k.reshape(-1, k.shape[-1]) for k in kernels], size)
        np.testing.assert_array_equal(np.argsort(group.scores), order)
        np.testing.assert_array_equal(np.sort(group.scores), np.arange(size))
        plan = structured_plan(groups, 0.5, mode="layerwise")
        np.testing.assert_array_equal(plan[key], np.sort(order[num_pruned(0.5, size):]))


def test_greedy_least_squares_keeps_a_channel_that_carries_information_others_do_not():
    """Two copies of a channel: the greedy choice drops a copy; the activation score keeps both copies
    (they have the largest weights) and drops a channel nothing else can stand in for."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((4,), name="input")
    hidden = keras.layers.Dense(4, name="h")
    model = keras.Model(inp, keras.layers.Dense(3, name="head")(hidden(inp)))
    w = np.random.default_rng(0).normal(size=(4, 4))
    w[:, 3] = w[:, 0]  # channel 3 is a copy of channel 0
    hidden.set_weights([w, np.zeros(4)])
    head = np.random.default_rng(1).normal(size=(4, 3)) * np.array([[5.0], [1.0], [1.0], [5.0]])
    model.get_layer("head").set_weights([head, np.zeros(3)])
    x = np.random.default_rng(2).normal(size=(200, 4)).astype(np.float32)
    greedy = structured_plan(filter_scores(model, score="greedy_least_squares", calibration_x=x), 0.25, "layerwise")
    activation = structured_plan(filter_scores(model, score="activation", calibration_x=x), 0.25, "layerwise")
    assert len(np.intersect1d(greedy["h"], [0, 3])) == 1 and 1 in greedy["h"] and 2 in greedy["h"]
    assert set(activation["h"]) >= {0, 3}


def test_greedy_least_squares_arguments():
    from tf_sfw.pruning.shrink import structured_prune, structured_sweep
    from tf_sfw.pruning.structured import consumer_input_grams

    x = np.zeros((2, 8, 8, 2), np.float32)
    with pytest.raises(ValueError, match="`score='greedy_least_squares'` needs `calibration_x`"):
        filter_scores(plain_cnn(), score="greedy_least_squares")
    with pytest.raises(ValueError, match="L2 score.*'l1'"):
        filter_scores(plain_cnn(), norm="l1", score="greedy_least_squares", calibration_x=x)
    graph = ChannelGraph(plain_cnn())
    with pytest.raises(ValueError, match="needs `input_grams`"):
        graph.filter_groups(graph.read_weights(), score="greedy_least_squares")
    with pytest.raises(ValueError, match="layer 'c2' has 24 input features, more than max_features=20"):
        consumer_input_grams(graph, x, max_features=20)
    for call in (structured_prune, lambda *a, **k: structured_sweep(a[0], [a[1]], **k)):
        with pytest.raises(ValueError, match="needs mode='layerwise'. Received: mode='global'"):
            call(plain_cnn(), 0.5, mode="global", score="greedy_least_squares", calibration_x=x)
    shrunk = structured_prune(plain_cnn(), 0.5, mode="layerwise", score="greedy_least_squares", calibration_x=x)
    assert shrunk.get_layer("c1").kernel.shape[-1] == 3


@pytest.mark.parametrize("batch_size, chunk_rows", [(1, 1), (4, 7), (32, 8192)])
def test_input_grams_do_not_depend_on_batching(batch_size, chunk_rows):
    from tf_sfw.pruning.structured import consumer_input_grams

    graph = ChannelGraph(residual(seed=3))
    x = np.random.default_rng(4).uniform(0, 1, (9, 6, 6, 3)).astype(np.float32)
    reference = {layer: _im2col_gram(graph.model, layer, x) for layer in ("a1", "a2", "b1", "b2", "b_sc", "head")}
    grams = consumer_input_grams(graph, x, batch_size=batch_size, chunk_rows=chunk_rows)
    assert set(grams) == set(reference)
    for layer, gram in grams.items():
        np.testing.assert_allclose(gram, reference[layer], rtol=1e-6, atol=1e-9)


# -- compute-aware global plans (costs) --------------------------------------------------------


@pytest.mark.parametrize("builder", [builder for builder, _ in NETS_AND_CONSUMERS])
def test_channel_flops_are_the_multiply_adds_one_removed_channel_saves(builder):
    from tf_sfw.pruning.flops import model_flops
    from tf_sfw.pruning.shrink import shrink_model

    model = builder(seed=1)
    graph = ChannelGraph(model)
    costs = channel_costs(graph, "flops")
    groups = filter_scores(model)
    assert set(costs) == set(groups)
    dense = model_flops(model)
    for key, group in groups.items():
        for drop in (0, len(group.scores) - 1):  # every channel of a group costs the same
            kept = np.setdiff1d(np.arange(len(group.scores)), [drop])
            smaller = shrink_model(model, {layer: kept for layer in group.layers})
            assert costs[key] == pytest.approx(dense - model_flops(smaller), rel=1e-12)
    assert channel_costs(graph, "none") is None


def test_channel_flops_of_mnist_cnn():
    from tf_sfw.models import mnist_cnn

    costs = channel_costs(ChannelGraph(mnist_cnn()), "flops")
    # conv2d: its own 26·26·3·3 per filter + conv2d_1's 11·11·3·3·64 per input channel;
    # conv2d_1: its own 11·11·3·3·32 + the classifier's 5·5·10 rows per channel after Flatten
    assert costs == {"conv2d": 26 * 26 * 9 + 11 * 11 * 9 * 64, "conv2d_1": 11 * 11 * 9 * 32 + 25 * 10}


def _cost_weighted_reference(groups, fraction, costs, normalization):
    """NumPy reference: remove the lowest ŝ_c·F̄/F_g one at a time (higher concatenated index first
    among ties), never the last channel of a group."""
    keys = list(groups)
    sizes = np.array([len(groups[k].scores) for k in keys])
    mean_cost = np.sum(sizes * np.array([costs[k] for k in keys])) / sizes.sum()
    entries = []
    offset = 0
    for key in keys:
        s = np.asarray(groups[key].scores, dtype=np.float64)
        s = s / s.mean() if normalization == "mean" else s
        for c, value in enumerate(s * mean_cost / costs[key]):
            entries.append((value, -(offset + c), key, c))
        offset += len(s)
    budget, left, gone = num_pruned(fraction, int(sizes.sum())), dict(zip(keys, sizes)), {k: [] for k in keys}
    for _, _, key, c in sorted(entries):
        if budget == 0:
            break
        if left[key] > 1:
            gone[key].append(c)
            left[key] -= 1
            budget -= 1
    return {k: np.setdiff1d(np.arange(len(groups[k].scores)), gone[k]) for k in keys}


@pytest.mark.parametrize("fraction", [0.1, 0.4, 0.6, 0.99])
@pytest.mark.parametrize("normalization", ["mean", "none"])
@pytest.mark.parametrize("seed", [0, 1])
def test_cost_weighted_global_plan_matches_numpy(fraction, normalization, seed):
    groups = _random_groups(seed)
    costs = dict(zip(groups, np.random.default_rng(seed + 10).uniform(0.1, 10.0, len(groups))))
    plan = structured_plan(groups, fraction, normalization=normalization, costs=costs)
    expected = _cost_weighted_reference(groups, fraction, costs, normalization)
    for key in groups:
        np.testing.assert_array_equal(plan[key], expected[key])
        np.testing.assert_array_equal(plan[f"{key}_twin"], expected[key])


def test_equal_costs_change_nothing_and_costs_act_only_through_their_ratios():
    groups = _random_groups(3)
    plain = structured_plan(groups, 0.5)
    for costs in ({k: 7.0 for k in groups}, {k: 1e-3 for k in groups}):
        plan = structured_plan(groups, 0.5, costs=costs)
        assert all(np.array_equal(plain[k], plan[k]) for k in plain)
    costs = dict(zip(groups, [1.0, 3.0, 0.5, 2.0]))
    a = structured_plan(groups, 0.5, costs=costs)
    b = structured_plan(groups, 0.5, costs={k: 40.0 * v for k, v in costs.items()})
    assert all(np.array_equal(a[k], b[k]) for k in a)


def test_of_equally_scored_channels_the_expensive_go_first():
    groups = {"cheap": FilterGroup(("cheap",), np.ones(4)), "dear": FilterGroup(("dear",), np.ones(4))}
    plan = structured_plan(groups, 0.25, costs={"cheap": 1.0, "dear": 2.0})  # 2 of 8 channels
    np.testing.assert_array_equal(plan["cheap"], np.arange(4))
    np.testing.assert_array_equal(plan["dear"], [0, 1])
    plan = structured_plan(groups, 0.25, costs={"cheap": 2.0, "dear": 1.0})
    np.testing.assert_array_equal(plan["cheap"], [0, 1])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"mode": "layerwise", "costs": {"g0": 1.0, "g1": 1.0, "g2": 1.0, "g3": 1.0}}, "mode='global'"),
        ({"costs": {"g0": 1.0}}, "every key"),
        ({"costs": [1.0, 1.0, 1.0, 1.0]}, "costs"),
        ({"costs": {"g0": 1.0, "g1": 0.0, "g2": 1.0, "g3": 1.0}}, "positive"),
        ({"costs": {"g0": 1.0, "g1": np.nan, "g2": 1.0, "g3": 1.0}}, "positive"),
    ],
)
def test_plan_costs_are_validated(kwargs, match):
    with pytest.raises(ValueError, match=match):
        structured_plan(_random_groups(0), 0.5, **kwargs)


def test_cost_options_are_validated():
    check_cost_mode("flops", "global")
    check_cost_mode("none", "layerwise")
    with pytest.raises(ValueError, match=r"cost='flops'.*mode='global'.*Received: mode='layerwise'"):
        check_cost_mode("flops", "layerwise")
    with pytest.raises(ValueError, match="cost"):
        check_cost_mode("latency", "global")
    with pytest.raises(ValueError, match="cost"):
        channel_costs(ChannelGraph(plain_cnn()), "params")
