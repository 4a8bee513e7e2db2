"""Tests for tf_sfw.pruning.shrink (physically smaller models, sweep, metrics)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.models import mnist_cnn, resnet18, simple_cnn
from tf_sfw.pruning import shrink as shrink_module
from tf_sfw.pruning.export import export_model, load_exported, predict_exported
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, strip
from tf_sfw.pruning.structured import ChannelGraph, filter_scores, structured_plan
from tf_sfw.pruning.sweep import evaluate_classifier
from tf_sfw.pruning.shrink import (
    model_flops,
    shrink_model,
    structured_metrics,
    structured_prune,
    structured_sweep,
)


def residual(seed=0, batchnorm=False):
    """stem -> (a1 -> a2) + stem -> ReLU -> (b1 -> b2) + b_sc(x) -> GAP -> head (optionally Conv-BN)."""
    keras.utils.set_random_seed(seed)

    def conv(x, filters, name, strides=1, kernel=3, relu=False):
        x = keras.layers.Conv2D(filters, kernel, strides, padding="same", use_bias=not batchnorm, name=name)(x)
        if batchnorm:
            x = keras.layers.BatchNormalization(name=f"{name}_bn")(x)
        return keras.layers.ReLU(name=f"{name}_relu")(x) if relu else x

    inp = keras.Input((6, 6, 3), name="input")
    stem = conv(inp, 4, "stem", relu=True)
    x = keras.layers.ReLU(name="relu_a")(keras.layers.Add(name="add_a")([conv(conv(stem, 5, "a1", relu=True), 4, "a2"), stem]))
    y = conv(conv(x, 6, "b1", strides=2, relu=True), 6, "b2")
    x = keras.layers.ReLU(name="relu_b")(keras.layers.Add(name="add_b")([y, conv(x, 6, "b_sc", strides=2, kernel=1)]))
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


def sequential_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    return keras.Sequential(
        [
            keras.Input((7, 7, 2)),
            keras.layers.Conv2D(4, 3, activation="relu", name="c1"),
            keras.layers.Conv2D(5, 2, activation="relu", name="c2"),
            keras.layers.Flatten(name="flat"),
            keras.layers.Dense(3, name="head"),
        ]
    )


def misc_cnn(seed=0):
    """Padding, average pooling, a Dense on feature maps, dropout, global max pooling."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 2), name="input")
    x = keras.layers.ZeroPadding2D(1, name="pad")(inp)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="c1")(x)
    x = keras.layers.AveragePooling2D(2, name="avg")(x)
    x = keras.layers.Dense(5, activation="relu", name="pixelwise")(x)  # per pixel on 3x3x4
    x = keras.layers.Dropout(0.5, name="drop")(x)
    x = keras.layers.Conv2D(6, 2, name="c2")(x)
    x = keras.layers.Activation("relu", name="act")(x)
    x = keras.layers.GlobalMaxPooling2D(name="gmp")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


BUILDERS = {
    "misc": misc_cnn,
    "mnist_cnn": lambda: mnist_cnn(input_shape=(12, 12, 1), num_classes=3),
    "simple_cnn": lambda: simple_cnn(input_shape=(16, 16, 3), num_classes=4),
    "residual": residual,
    "residual_bn": lambda: residual(batchnorm=True),
    "sequential": sequential_cnn,
}


def _randomise_batchnorm(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape
            layer.set_weights([rng.normal(1, 0.3, n), rng.normal(0, 0.3, n), rng.normal(0, 0.3, n), rng.uniform(0.5, 2, n)])


def _x(model, n=3, seed=0):
    return np.random.default_rng(seed).random((n,) + tuple(model.input_shape[1:]), dtype=np.float32)


def _random_plan(model, seed, keep_frac=0.5):
    rng = np.random.default_rng(seed)
    plan = {}
    for group in filter_scores(model).values():
        n = len(group.scores)
        kept = np.sort(rng.choice(n, size=max(1, int(n * keep_frac)), replace=False))
        plan.update({layer: kept for layer in group.layers})
    return plan


@pytest.mark.parametrize("builder", list(BUILDERS))
def test_nothing_removed_gives_identical_shapes_and_outputs(builder):
    model = BUILDERS[builder]()
    _randomise_batchnorm(model)
    full = {k: np.arange(len(g.scores)) for k, g in filter_scores(model).items()}
    x = _x(model)
    for plan in ({}, full):
        new = shrink_model(model, plan)
        assert new is not model and not {id(layer) for layer in new.layers} & {id(layer) for layer in model.layers}
        assert [w.shape for w in new.get_weights()] == [w.shape for w in model.get_weights()]
        np.testing.assert_array_equal(new(x, training=False).numpy(), model(x, training=False).numpy())


def _zeroed_copy(model, plan):
    """The dense model with the removed filters' kernel slices, biases and BN gamma/beta set to zero."""
    dense = keras.models.clone_model(model)
    dense.set_weights(model.get_weights())
    graph = ChannelGraph(model)
    for layer in plan:
        removed = np.setdiff1d(np.arange(graph.sizes[graph.find(graph.producers[layer])]), plan[layer])
        weights = dense.get_layer(layer).get_weights()
        weights[0][..., removed] = 0.0
        for w in weights[1:]:
            w[removed] = 0.0
        dense.get_layer(layer).set_weights(weights)
        bn = f"{layer}_bn"
        if bn in [lay.name for lay in model.layers]:
            gamma, beta, mean, var = dense.get_layer(bn).get_weights()
            gamma[removed], beta[removed] = 0.0, 0.0
            dense.get_layer(bn).set_weights([gamma, beta, mean, var])
    return dense


@pytest.mark.parametrize("builder", list(BUILDERS))
@pytest.mark.parametrize("seed", [0, 1])
def test_shrunken_model_equals_dense_model_with_removed_filters_zeroed(builder, seed):
    model = BUILDERS[builder]()
    _randomise_batchnorm(model, seed)
    plan = _random_plan(model, seed)
    new = shrink_model(model, plan)
    for layer, kept in plan.items():
        assert new.get_layer(layer).get_weights()[0].shape[-1] == kept.size
    assert new.count_params() < model.count_params()
    x = _x(model, seed=seed)
    expected = _zeroed_copy(model, plan)(x, training=False).numpy()
    np.testing.assert_allclose(new(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_flatten_to_dense_rows_follow_channels_last_order():
    model = sequential_cnn(seed=2)  # c2 output 4x4x5 -> Flatten -> head
    kept = np.array([0, 3])
    new = shrink_model(model, {"c2": kept})
    rows = model.get_layer("head").get_weights()[0].reshape(16, 5, 3)[:, kept, :].reshape(-1, 3)
    np.testing.assert_array_equal(new.get_layer("head").get_weights()[0], rows)
    kernel = model.get_layer("c2").get_weights()[0]
    np.testing.assert_array_equal(new.get_layer("c2").get_weights()[0], kernel[..., kept])


def test_batchnorm_after_flatten_keeps_the_features_of_kept_channels():
    inp = keras.Input((3, 3, 2))
    x = keras.layers.Conv2D(4, 2, name="c")(inp)  # 2x2x4 -> 16 features, feature p*4 + c
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Flatten()(x))
    model = keras.Model(inp, keras.layers.Dense(2, name="head")(x))
    _randomise_batchnorm(model)
    new = shrink_model(model, {"c": [1, 2]})
    for old, kept in zip(model.get_layer("bn").get_weights(), new.get_layer("bn").get_weights()):
        np.testing.assert_array_equal(kept, old.reshape(4, 4)[:, [1, 2]].ravel())


def test_pruning_wrapped_models_are_stripped_first():
    model = residual(seed=6)
    wrapped = apply_masks(model, magnitude_masks(model, 0.5))
    plan = _random_plan(model, 6)
    x = _x(model)
    np.testing.assert_array_equal(shrink_model(wrapped, plan)(x).numpy(), shrink_model(strip(wrapped), plan)(x).numpy())


def test_residual_groups_are_pruned_together():
    model = residual(batchnorm=True)
    new = shrink_model(model, {"a2": [1, 3], "b_sc": [0, 2, 5]})  # one layer of each group suffices
    for layers, width in ((("stem", "a2"), 2), (("b2", "b_sc"), 3)):
        for name in layers:
            assert new.get_layer(name).filters == width
            assert new.get_layer(f"{name}_bn").get_weights()[0].shape == (width,)
    np.testing.assert_array_equal(new.get_layer("a2").get_weights()[0], model.get_layer("a2").get_weights()[0][..., [1, 3]])
    np.testing.assert_array_equal(new.get_layer("stem_bn").get_weights()[2], model.get_layer("stem_bn").get_weights()[2][[1, 3]])
    # the consumers of the add read the same two channels
    np.testing.assert_array_equal(new.get_layer("b_sc").get_weights()[0], model.get_layer("b_sc").get_weights()[0][:, :, [1, 3]][..., [0, 2, 5]])
    with pytest.raises(ValueError, match="pruned together"):
        shrink_model(model, {"stem": [0, 1], "a2": [0, 2]})


@pytest.mark.parametrize(
    "plan,match",
    [
        ({"head": [0]}, "cannot be pruned"),
        ({"gap": [0]}, "not a Conv2D/Dense"),
        ({"a1": []}, "non-empty"),
        ({"a1": [0, 0]}, "distinct"),
        ({"a1": [5]}, r"\[0, 5\)"),
        ({"a1": [0.0]}, "integer"),
        ([("a1", [0])], "mapping"),
    ],
)
def test_invalid_plans_are_refused(plan, match):
    with pytest.raises(ValueError, match=match):
        shrink_model(residual(), plan)


def test_resnet18_halved_keeps_adds_consistent():
    model = resnet18(input_shape=(8, 8, 3), num_classes=3)
    new = structured_prune(model, 0.5)
    for layer in new.layers:
        if isinstance(layer, keras.layers.Add):
            assert len({tuple(t.shape) for t in layer.input}) == 1
    assert new.get_layer("fc").units == 3
    assert new.count_params() < 0.3 * model.count_params()
    assert new(_x(model, n=1)).shape == (1, 3)


def _bits(model):
    return [w.copy() for w in model.get_weights()]


def test_sweep_reads_the_model_once_and_leaves_it_untouched(monkeypatch):
    model = residual(seed=4, batchnorm=True)
    _randomise_batchnorm(model, 4)
    before = _bits(model)
    graphs = []

    class CountingGraph(ChannelGraph):
        def __init__(self, m):
            graphs.append(m)
            super().__init__(m)

    monkeypatch.setattr(shrink_module, "ChannelGraph", CountingGraph)
    x, y = _x(model, n=8), np.arange(8) % 3
    fractions = [0.0, 0.3, 0.6]
    rows = structured_sweep(model, fractions, mode="layerwise", data=(x, y), evaluate=lambda m: {"out": float(m(x).numpy().sum())})
    assert len(graphs) == 1
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    monkeypatch.undo()
    assert [r["fraction"] for r in rows] == fractions
    for row, fraction in zip(rows, fractions):
        fresh = structured_prune(model, fraction, mode="layerwise")
        assert row["params"] == fresh.count_params() and row["flops"] == model_flops(fresh)
        assert row["out"] == pytest.approx(float(fresh(x).numpy().sum()), rel=1e-6)
        assert 0.0 <= row["accuracy"] <= 1.0
    assert rows[0]["kept_channels"] == rows[0]["channels"] > rows[-1]["kept_channels"]
    assert rows[0]["params"] == model.count_params() > rows[1]["params"] > rows[2]["params"]


def test_shrunken_savedmodel_reloads_with_identical_predictions(tmp_path):
    model = residual(seed=5, batchnorm=True)
    _randomise_batchnorm(model, 5)
    new = structured_prune(model, 0.5, mode="layerwise")
    x = _x(model, n=4)
    loaded = load_exported(export_model(new, str(tmp_path / "shrunk"), keras_copy=False))
    graph_predict = tf.function(lambda inputs: new(inputs, training=False))  # as traced by the export
    np.testing.assert_array_equal(predict_exported(loaded, x), graph_predict(x).numpy())
    np.testing.assert_allclose(predict_exported(loaded, x), new(x, training=False).numpy(), rtol=1e-6, atol=1e-7)


def test_structured_metrics_against_the_dense_model(monkeypatch):
    model = mnist_cnn()
    new = structured_prune(model, 0.5, mode="layerwise")
    metrics = structured_metrics(new, model, batch_sizes=(1, 4), repeats=2, warmup=1)
    assert metrics["params"] == new.count_params() and metrics["dense_params"] == model.count_params()
    assert metrics["flops_ratio"] == pytest.approx(model_flops(new) / model_flops(model))
    # the SavedModel shrinks by the float32 bytes of the removed weights (graph size ~ unchanged)
    saved = metrics["dense_saved_model_bytes"] - metrics["saved_model_bytes"]
    assert saved == pytest.approx(4 * (model.count_params() - new.count_params()), rel=0.1)
    for b in (1, 4):
        assert metrics[f"latency_b{b}_s"] > 0
        assert metrics[f"latency_ratio_b{b}"] == pytest.approx(metrics[f"latency_b{b}_s"] / metrics[f"dense_latency_b{b}_s"])
    # Dense sizes measured before are reused: only the shrunken model is exported again.
    exported = []
    monkeypatch.setattr(shrink_module, "saved_model_size", lambda m: exported.append(m) or 1000)
    known = {key: metrics[f"dense_{key}"] for key in ("params", "flops", "saved_model_bytes")}
    again = structured_metrics(new, model, batch_sizes=(1,), repeats=1, warmup=1, dense_sizes=known)
    assert exported == [new]
    assert again["saved_model_ratio"] == pytest.approx(1000 / metrics["dense_saved_model_bytes"])
    assert again["flops_ratio"] == metrics["flops_ratio"] and again["dense_params"] == model.count_params()
    with pytest.raises(ValueError, match="dense_sizes"):
        structured_metrics(new, model, dense_sizes=[1, 2])


def test_saved_model_size_ignores_optimizer_state():
    """A compiled, trained model measures as served: its optimizer's slots are not counted."""
    keras.utils.set_random_seed(0)
    inp = keras.Input((16,))
    model = keras.Model(inp, keras.layers.Dense(4)(keras.layers.Dense(64, activation="relu")(inp)))
    plain = shrink_module.saved_model_size(model)
    model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
    model.fit(np.ones((8, 16), np.float32), np.zeros((8, 4), np.float32), epochs=1, verbose=0)
    assert shrink_module.saved_model_size(model) == pytest.approx(plain, rel=0.02)


def _calibration(model, n=16, batch=8, seed=1):
    x = _x(model, n=n, seed=seed) * 3.0 + 0.5  # far from the randomised moving statistics
    return tf.data.Dataset.from_tensor_slices((x, np.arange(n) % 3)).batch(batch)


def _bn_state(model):
    return {
        layer.name: [w.numpy().copy() for w in (layer.moving_mean, layer.moving_variance)]
        for layer in model.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    }


@pytest.mark.parametrize("fraction", [0.0, 0.5])
def test_prune_with_batchnorm_reestimation_changes_only_moving_statistics(fraction):
    model = residual(seed=5, batchnorm=True)
    _randomise_batchnorm(model, 5)
    data = _calibration(model, n=8)  # one batch: the moving mean becomes that batch's mean
    plain = structured_prune(model, fraction, mode="layerwise")
    tuned = structured_prune(model, fraction, mode="layerwise", reestimate_bn=data)
    for a, b in zip(plain.trainable_weights, tuned.trainable_weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    before, after = _bn_state(plain), _bn_state(tuned)
    assert set(before) == set(after) and before
    for name in before:
        for old, new in zip(before[name], after[name]):
            assert old.shape == new.shape and not np.allclose(old, new)
    # numpy reference for the first BatchNorm: the mean over the batch and pixels of its input.
    x = next(iter(data))[0]
    stem_out = keras.Model(tuned.inputs, tuned.get_layer("stem_bn").input)(x).numpy()
    np.testing.assert_allclose(after["stem_bn"][0], stem_out.mean(axis=(0, 1, 2)), rtol=1e-4, atol=1e-5)


def test_sweep_records_accuracy_with_and_without_batchnorm_reestimation():
    model = residual(seed=6, batchnorm=True)
    _randomise_batchnorm(model, 6)
    x, y = _x(model, n=24, seed=2), np.arange(24) % 3
    data = _calibration(model)
    seen = []
    rows = structured_sweep(model, [0.0, 0.5], mode="layerwise", data=(x, y), reestimate_bn=data, bn_batches=1,
                            evaluate=lambda m: seen.append(_bn_state(m)) or {})
    for row, state in zip(rows, seen):
        plain = structured_prune(model, row["fraction"], mode="layerwise")
        tuned = structured_prune(model, row["fraction"], mode="layerwise", reestimate_bn=data, bn_batches=1)
        assert row["bn_batches"] == 1
        assert (row["loss"], row["accuracy"]) == pytest.approx(evaluate_classifier(plain, (x, y)))
        assert (row["bn_loss"], row["bn_accuracy"]) == pytest.approx(evaluate_classifier(tuned, (x, y)))
        assert row["bn_loss"] != pytest.approx(row["loss"])
        for name, values in _bn_state(tuned).items():  # `evaluate` sees the re-estimated model
            for expected, got in zip(values, state[name]):
                np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)
    assert rows[1]["widths"]["stem"] == 2 and rows[0]["widths"]["stem"] == 4 and rows[1]["widths"]["head"] == 3


def test_sweep_without_batchnorm_layers_skips_reestimation():
    model = sequential_cnn(seed=1)
    x, y = _x(model, n=6), np.arange(6) % 3
    rows = structured_sweep(model, [0.5], mode="layerwise", data=(x, y), reestimate_bn=[x])
    assert rows[0]["bn_batches"] == 0 and "bn_accuracy" not in rows[0]
    assert rows[0]["widths"] == {"c1": 2, "c2": 2, "head": 3}


def valid_bn_net(seed=0):
    """Conv-BN-ReLU stem, a residual Add of 1x1 'valid' convs, a bias-free consumer, Flatten -> Dense."""
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 2), name="input")
    x = keras.layers.Conv2D(5, 3, name="c1")(inp)
    x = keras.layers.ReLU(name="r1")(keras.layers.BatchNormalization(name="c1_bn")(x))
    y = keras.layers.BatchNormalization(name="c2_bn")(keras.layers.Conv2D(5, 1, use_bias=False, name="c2")(x))
    x = keras.layers.ReLU(name="r2")(keras.layers.Add(name="add")([x, y]))
    x = keras.layers.Conv2D(4, 2, use_bias=False, activation="relu", name="c3")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    return keras.Model(inp, keras.layers.Dense(3, name="head")(x))


def _zero_kernels_of_removed(model, plan, seed=0):
    """Random BN statistics, non-zero biases, and zero kernel slices for the removed filters."""
    _randomise_batchnorm(model, seed)
    rng = np.random.default_rng(seed)
    graph = ChannelGraph(model)
    for layer in graph.producers:
        weights = model.get_layer(layer).get_weights()
        if layer in plan:
            weights[0][..., np.setdiff1d(np.arange(weights[0].shape[-1]), plan[layer])] = 0.0
        weights[1:] = [rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in weights[1:]]
        model.get_layer(layer).set_weights(weights)


def _moving_means_at_the_zero_kernel_values(model, plan):
    """Removed channels' BN moving means set to their producers' bias: "mean" is then exact."""
    for layer, kept in plan.items():
        if f"{layer}_bn" in [lay.name for lay in model.layers]:
            weights = model.get_layer(layer).get_weights()
            bias = weights[1] if len(weights) > 1 else np.zeros(weights[0].shape[-1], np.float32)
            gamma, beta, mean, var = model.get_layer(f"{layer}_bn").get_weights()
            removed = np.setdiff1d(np.arange(mean.size), kept)
            mean[removed] = bias[removed]
            model.get_layer(f"{layer}_bn").set_weights([gamma, beta, mean, var])


@pytest.mark.parametrize("builder", ["valid_bn", "sequential"])
@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("compensate", ["zero", "mean"])
def test_compensation_makes_shrinking_exact_for_zero_kernels(builder, seed, compensate):
    model = {"valid_bn": valid_bn_net, "sequential": sequential_cnn}[builder](seed)
    plan = _random_plan(model, seed)
    _zero_kernels_of_removed(model, plan, seed)
    if compensate == "mean":
        _moving_means_at_the_zero_kernel_values(model, plan)
    x = _x(model, n=4, seed=seed)
    dense = model(x, training=False).numpy()
    plain = shrink_model(model, plan)(x, training=False).numpy()
    compensated = shrink_model(model, plan, compensate=compensate)
    assert compensated.count_params() < model.count_params()
    np.testing.assert_allclose(compensated(x, training=False).numpy(), dense, rtol=1e-5, atol=1e-5)
    assert np.max(np.abs(plain - dense)) > 1e-2  # dropping the channels' constants changes the outputs


@pytest.mark.parametrize("compensate", ["zero", "mean"])
def test_compensation_reference_bias_and_added_bias(compensate):
    """Consumer bias gains sum_r u_r * sum_spatial W[..., r, o]; a bias-free consumer gets a bias."""
    model = valid_bn_net(3)
    plan = {"c1": np.array([0, 2, 3]), "c2": np.array([0, 2, 3]), "c3": np.array([1, 3])}
    _zero_kernels_of_removed(model, plan, 3)
    new = shrink_model(model, plan, compensate=compensate)
    assert not model.get_layer("c3").use_bias and new.get_layer("c3").use_bias
    # numpy reference for c3: removed channels 1 and 4 of r2 = relu(u1 + bn2(0)), u1 = relu(bn1(b1));
    # with "mean" each BN outputs its beta.
    def bn(layer, x):
        g, be, mu, var = (w.astype(np.float64) for w in model.get_layer(layer).get_weights())
        return be if compensate == "mean" else g * (x - mu) / np.sqrt(var + 1e-3) + be

    u1 = np.maximum(bn("c1_bn", model.get_layer("c1").get_weights()[1].astype(np.float64)), 0)
    u = np.maximum(u1 + bn("c2_bn", 0.0), 0)
    kernel = model.get_layer("c3").get_weights()[0].astype(np.float64)
    removed = [1, 4]
    expected = np.einsum("r,hwro->o", u[removed], kernel[:, :, removed, :])[plan["c3"]]
    np.testing.assert_allclose(new.get_layer("c3").get_weights()[1], expected, rtol=1e-5, atol=1e-6)
    # head after Flatten: the removed c3 channels are relu(0) = 0 (no bias), so nothing is carried.
    np.testing.assert_array_equal(new.get_layer("head").get_weights()[1], model.get_layer("head").get_weights()[1])


@pytest.mark.parametrize("value", [True, 1, "yes", "Zero"])
def test_compensate_must_be_a_known_mode(value):
    model = sequential_cnn()
    with pytest.raises(ValueError, match="`compensate`"):
        shrink_model(model, {}, compensate=value)
    with pytest.raises(ValueError, match="`compensate`"):
        structured_prune(model, 0.5, compensate=value)
    with pytest.raises(ValueError, match="`compensate`"):
        structured_sweep(model, [0.5], compensate=value)


def test_prune_and_sweep_pass_compensation_through():
    model = valid_bn_net(0)
    groups = filter_scores(model)
    plan = structured_plan(groups, 0.4)
    _zero_kernels_of_removed(model, plan, 0)
    x = _x(model, n=4)
    dense = model(x, training=False).numpy()
    pruned = structured_prune(model, 0.4, compensate="zero")
    np.testing.assert_allclose(pruned(x, training=False).numpy(), dense, rtol=1e-5, atol=1e-5)
    def outputs(m):
        return {"out": m(x, training=False).numpy()}

    rows = structured_sweep(model, [0.0, 0.4], evaluate=outputs, compensate="zero")
    for row in rows:
        np.testing.assert_allclose(row["out"], dense, rtol=1e-5, atol=1e-5)
    plain = structured_sweep(model, [0.4], evaluate=outputs)
    assert np.max(np.abs(plain[0]["out"] - dense)) > 1e-2


@pytest.mark.parametrize("score", ["bn_gamma", "bn_scaled"])
def test_prune_and_sweep_use_the_batchnorm_scores(score):
    model = residual(seed=2, batchnorm=True)
    _randomise_batchnorm(model, 2)
    plan = structured_plan(filter_scores(model, score=score), 0.5, mode="layerwise")
    kernel_plan = structured_plan(filter_scores(model), 0.5, mode="layerwise")
    assert any(not np.array_equal(plan[layer], kernel_plan[layer]) for layer in plan)  # a different selection
    x = _x(model)
    expected = shrink_model(model, plan)(x, training=False).numpy()
    pruned = structured_prune(model, 0.5, mode="layerwise", score=score)
    np.testing.assert_array_equal(pruned(x, training=False).numpy(), expected)
    row = structured_sweep(model, [0.5], mode="layerwise", score=score, evaluate=lambda m: {"out": m(x, training=False)})[0]
    np.testing.assert_array_equal(row["out"], expected)
