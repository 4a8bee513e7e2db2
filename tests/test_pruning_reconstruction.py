"""tf_sfw.pruning.reconstruction: every layer's refit against a NumPy lstsq reference or its optimality conditions."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning import magnitude_masks, strip, apply_masks
from tf_sfw.pruning.layer_inputs import input_rows
from tf_sfw.pruning.reconstruction import reconstruct, reconstruction_sweep
from tf_sfw.pruning.sweep import evaluate_classifier, sweep
from test_pruning_masked_ridge import reference_solution


def _dense_model(bias=True):
    keras.utils.set_random_seed(3)
    inputs = keras.Input((5,))
    h = keras.layers.Dense(6, activation="relu", use_bias=bias, name="fc1")(inputs)
    outputs = keras.layers.Dense(3, name="fc2")(h)
    return keras.Model(inputs, outputs)


def _augment(x, bias):
    return np.concatenate([x, np.ones((x.shape[0], 1))], axis=1) if bias else x


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("damping", [0.01, 0.3])
def test_two_dense_layers_match_a_sequential_numpy_reference(bias, damping):
    """fc1 is refit to the dense fc1 output; fc2 to the dense fc2 output, from the refit fc1's activations."""
    model = _dense_model(bias)
    x = np.random.default_rng(0).normal(size=(64, 5)).astype("float32")
    masks = magnitude_masks(model, 0.5)
    got = reconstruct(model, masks, x, damping=damping, batch_size=16)

    w1, w2 = model.get_layer("fc1").kernel.numpy(), model.get_layer("fc2").kernel.numpy()
    b1 = model.get_layer("fc1").bias.numpy() if bias else np.zeros(6)
    b2 = model.get_layer("fc2").bias.numpy()
    x64 = x.astype(np.float64)
    m1 = np.vstack([masks["fc1/kernel"], np.ones((1, 6))]) if bias else masks["fc1/kernel"]
    prior1 = np.vstack([w1 * masks["fc1/kernel"], b1[None]]) if bias else w1 * masks["fc1/kernel"]
    beta1 = reference_solution(_augment(x64, bias), x64 @ w1 + b1, m1, prior1, damping)
    h_dense = np.maximum(x64 @ w1 + b1, 0)
    h_pruned = np.maximum(_augment(x64, bias) @ beta1, 0)
    m2 = np.vstack([masks["fc2/kernel"], np.ones((1, 3))])
    prior2 = np.vstack([w2 * masks["fc2/kernel"], b2[None]])
    beta2 = reference_solution(_augment(h_pruned, True), h_dense @ w2 + b2, m2, prior2, damping)

    np.testing.assert_allclose(got.get_layer("fc1").kernel.numpy(), beta1[:5], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.get_layer("fc2").kernel.numpy(), beta2[:6], rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got.get_layer("fc2").bias.numpy(), beta2[6], rtol=1e-4, atol=1e-5)
    if bias:
        np.testing.assert_allclose(got.get_layer("fc1").bias.numpy(), beta1[5], rtol=1e-4, atol=1e-5)
    for key, mask in masks.items():
        layer = got.get_layer(key.split("/")[0])
        assert np.all(layer.kernel.numpy()[mask == 0] == 0)


def _conv_model():
    keras.utils.set_random_seed(5)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(4, 3, strides=2, padding="same", name="conv")(inputs)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Conv2D(5, 2, padding="valid", use_bias=False, name="conv2")(x)
    x = keras.layers.Flatten()(x)
    return keras.Model(inputs, keras.layers.Dense(3, name="fc")(x))


def _pre_activation(model, name, x):
    layer = model.get_layer(name)
    rows = input_rows(layer, keras.Model(model.inputs, layer.input)(x)).astype(np.float64)
    out = rows @ layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1])
    return rows, out + (layer.bias.numpy() if layer.use_bias else 0)


@pytest.mark.parametrize("max_unknowns", [2048, 0])
def test_conv_layers_satisfy_the_optimality_conditions(max_unknowns):
    """On every kept entry: X̃ᵀ(X̃β − y) + λ(β − β⁰) = 0, with X̃ the pruned net's im2col rows."""
    model = _conv_model()
    x = np.random.default_rng(1).normal(size=(32, 8, 8, 2)).astype("float32")
    masks = magnitude_masks(model, 0.6)
    got = reconstruct(model, masks, x, damping=0.05, max_unknowns=max_unknowns)
    plain = strip(apply_masks(model, masks))
    for name in ("conv", "conv2", "fc"):
        layer = got.get_layer(name)
        rows, _ = _pre_activation(got, name, x)
        _, target = _pre_activation(model, name, x)  # the dense network's pre-activation output
        rows = _augment(rows, layer.use_bias)
        beta = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]).astype(np.float64)
        prior = model.get_layer(name).kernel.numpy().reshape(beta.shape) * masks[f"{name}/kernel"].reshape(beta.shape)
        mask = masks[f"{name}/kernel"].reshape(beta.shape)
        if layer.use_bias:
            beta = np.vstack([beta, layer.bias.numpy()[None]])
            prior = np.vstack([prior, model.get_layer(name).bias.numpy()[None]])
            mask = np.vstack([mask, np.ones((1, beta.shape[1]))])
        lam = 0.05 * np.mean(np.sum(rows * rows, axis=0))
        gradient = rows.T @ (rows @ beta - target) + lam * (beta - prior)
        scale = np.abs(rows.T @ target).max()
        assert np.abs(gradient[mask == 1]).max() < 2e-4 * scale
        # the refit layer reproduces the dense layer better than the plainly pruned one
        plain_rows, _ = _pre_activation(plain, name, x)
        plain_err = np.linalg.norm(_augment(plain_rows, layer.use_bias) @ np.where(mask == 1, prior, 0) - target)
        assert np.linalg.norm(rows @ beta - target) <= plain_err + 1e-6


def test_nothing_pruned_reproduces_the_dense_model_and_leaves_it_untouched():
    model = _conv_model()
    before = [w.copy() for w in model.get_weights()]
    x = np.random.default_rng(2).normal(size=(16, 8, 8, 2)).astype("float32")
    got = reconstruct(model, magnitude_masks(model, 0.0), x)
    for a, b in zip(got.get_weights(), before):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(got(x).numpy(), model(x).numpy(), rtol=1e-4, atol=1e-4)
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)
    assert got is not model


def test_bad_arguments_name_themselves():
    model = _dense_model()
    x = np.zeros((4, 5), "float32")
    masks = magnitude_masks(model, 0.5)
    with pytest.raises(ValueError, match="masks` key 'nope/kernel'"):
        reconstruct(model, {"nope/kernel": np.ones((5, 6))}, x)
    with pytest.raises(ValueError, match=r"masks\['fc1/kernel'\]` has shape \(2, 2\)"):
        reconstruct(model, {"fc1/kernel": np.ones((2, 2))}, x)
    with pytest.raises(ValueError, match="masks` must be a non-empty dict"):
        reconstruct(model, {}, x)
    with pytest.raises(ValueError, match="calibration_x"):
        reconstruct(model, masks, np.zeros((0, 5), "float32"))
    with pytest.raises(ValueError, match="calibration_x"):
        reconstruct(model, masks, np.full((2, 5), np.nan, "float32"))
    with pytest.raises(ValueError, match="damping"):
        reconstruct(model, masks, x, damping=-1.0)
    with pytest.raises(ValueError, match="batch_size"):
        reconstruct(model, masks, x, batch_size=0)
    with pytest.raises(ValueError, match="plain"):
        reconstruct(apply_masks(model, masks), masks, x)


def test_weights_already_zero_stay_zero():
    model = _dense_model()
    kernel = model.get_layer("fc1").kernel.numpy()
    kernel[0, :3] = 0.0
    model.get_layer("fc1").kernel.assign(kernel)
    x = np.random.default_rng(8).normal(size=(32, 5)).astype("float32")
    got = reconstruct(model, magnitude_masks(model, 0.0), x).get_layer("fc1").kernel.numpy()
    assert np.all(got[0, :3] == 0) and np.all(got[kernel != 0] != 0)


def test_nested_models_are_refused_by_name():
    inner = keras.Sequential([keras.Input((5,)), keras.layers.Dense(4, name="fc")], name="inner")
    inputs = keras.Input((5,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inner(inputs)))
    masks = magnitude_masks(model, 0.5)
    with pytest.raises(ValueError, match="'inner/fc/kernel' is inside a nested sub-model"):
        reconstruct(model, masks, np.zeros((4, 5), "float32"))


def test_unsupported_layers_are_rejected():
    inputs = keras.Input((6, 6, 4))
    outputs = keras.layers.Conv2D(4, 3, groups=2, name="grouped")(inputs)
    model = keras.Model(inputs, outputs)
    with pytest.raises(ValueError, match="groups=1"):
        reconstruct(model, {"grouped/kernel": np.ones((3, 3, 2, 4))}, np.zeros((2, 6, 6, 4), "float32"))


def test_reconstruction_sweep_rows_are_the_refit_models():
    model = _conv_model()
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(48, 8, 8, 2)).astype("float32"), rng.integers(0, 3, 48)
    rows = reconstruction_sweep(model, (x, y), [0.0, 0.7], x[:32], scope="layerwise")
    plain = sweep(model, (x, y), [0.0, 0.7], scope="layerwise")
    assert [r["sparsity"] for r in rows] == [0.0, 0.7]
    assert [r["nonzero"] for r in rows] == [r["nonzero"] for r in plain]  # the same zeros
    refit = reconstruct(model, magnitude_masks(model, 0.7, scope="layerwise"), x[:32])
    loss, accuracy = evaluate_classifier(refit, (x, y))
    assert rows[1]["loss"] == pytest.approx(loss, rel=1e-5) and rows[1]["accuracy"] == accuracy
    with pytest.raises(ValueError, match="scope"):
        reconstruction_sweep(model, (x, y), [0.5], x, scope="per-filter")


def _residual_model():
    """conv -> BN -> relu, a block whose output is added to it, a head: channels tied by the Add."""
    keras.utils.set_random_seed(7)
    inputs = keras.Input((8, 8, 2))
    x = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU()(x)
    y = keras.layers.Conv2D(4, 3, padding="same", name="inner")(x)
    y = keras.layers.ReLU()(y)
    y = keras.layers.Conv2D(6, 3, padding="same", use_bias=False, name="outer")(y)
    y = keras.layers.BatchNormalization(name="outer_bn")(y)
    x = keras.layers.ReLU()(keras.layers.Add()([x, y]))
    x = keras.layers.GlobalAveragePooling2D()(x)
    model = keras.Model(inputs, keras.layers.Dense(3, name="head")(x))
    rng = np.random.default_rng(0)
    for bn in ("stem_bn", "outer_bn"):  # non-trivial inference statistics
        layer = model.get_layer(bn)
        layer.set_weights([rng.uniform(0.5, 1.5, 6), rng.normal(size=6), rng.normal(size=6), rng.uniform(0.5, 2, 6)])
    return model


def test_kept_output_channels_follow_the_residual_group():
    from tf_sfw.pruning.shrink import kept_output_channels

    kept = kept_output_channels(_residual_model(), {"stem": np.array([0, 2, 5]), "inner": np.array([1, 3])})
    assert {k: v.tolist() for k, v in kept.items()} == {"stem": [0, 2, 5], "inner": [1, 3], "outer": [0, 2, 5],
                                                         "head": [0, 1, 2]}


def test_refit_shrunk_solves_each_layer_and_beats_the_plain_shrink():
    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import kept_output_channels, shrink_model

    model = _residual_model()
    x = np.random.default_rng(3).normal(size=(40, 8, 8, 2)).astype("float32")
    plan = {"stem": np.array([0, 2, 5]), "inner": np.array([1, 3])}
    shrunk = shrink_model(model, plan)
    before = [w.copy() for w in shrunk.get_weights()]
    refit = refit_shrunk(model, shrunk, plan, x, damping=0.05)
    for a, b in zip(shrunk.get_weights(), before):  # the shrunken model is not modified
        np.testing.assert_array_equal(a, b)
    kept = kept_output_channels(model, plan)
    for name in ("stem", "inner", "outer", "head"):
        layer = refit.get_layer(name)
        rows, _ = _pre_activation(refit, name, x)
        _, target = _pre_activation(model, name, x)
        target = target[:, kept[name]]  # the dense layer's outputs of the kept channels
        rows = _augment(rows, layer.use_bias)
        beta = layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]).astype(np.float64)
        prior = shrunk.get_layer(name).kernel.numpy().reshape(beta.shape).astype(np.float64)
        if layer.use_bias:
            beta = np.vstack([beta, layer.bias.numpy()[None]])
            prior = np.vstack([prior, shrunk.get_layer(name).bias.numpy()[None]])
        lam = 0.05 * np.mean(np.sum(rows * rows, axis=0))
        gradient = rows.T @ (rows @ beta - target) + lam * (beta - prior)
        assert np.abs(gradient).max() < 2e-4 * np.abs(rows.T @ target).max()
    dense_out = model(x).numpy()
    assert np.linalg.norm(refit(x).numpy() - dense_out) < np.linalg.norm(shrunk(x).numpy() - dense_out)


def test_refit_shrunk_without_removal_reproduces_the_dense_model():
    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import shrink_model

    model = _residual_model()
    x = np.random.default_rng(5).normal(size=(24, 8, 8, 2)).astype("float32")
    refit = refit_shrunk(model, shrink_model(model, {}), {}, x, damping=1e-6)
    np.testing.assert_allclose(refit(x).numpy(), model(x).numpy(), rtol=1e-3, atol=1e-3)
    with pytest.raises(ValueError, match="calibration_x"):
        refit_shrunk(model, shrink_model(model, {}), {}, np.zeros((0, 8, 8, 2), "float32"))


def test_refit_shrunk_intercept_goes_into_the_batchnorm_moving_mean():
    """With `intercept=True` the bias-free stem/outer convolutions solve the ridge problem with a
    ones column (prior 0 for the constant); the constant is subtracted from their BatchNorm's moving
    mean, so the BatchNorm output equals that of a conv with bias b and the old mean."""
    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import kept_output_channels, shrink_model

    model = _residual_model()
    x = np.random.default_rng(3).normal(size=(40, 8, 8, 2)).astype("float32") + 0.7  # a mean to restore
    plan = {"stem": np.array([0, 2, 5]), "inner": np.array([1, 3])}
    shrunk = shrink_model(model, plan)
    plain = refit_shrunk(model, shrunk, plan, x, damping=0.05)
    refit = refit_shrunk(model, shrunk, plan, x, damping=0.05, intercept=True)
    kept = kept_output_channels(model, plan)
    for name, bn_name in (("stem", "stem_bn"), ("outer", "outer_bn")):
        layer = refit.get_layer(name)
        rows, _ = _pre_activation(refit, name, x)
        _, target = _pre_activation(model, name, x)
        rows, target = _augment(rows, True), target[:, kept[name]]
        mean_shift = shrunk.get_layer(bn_name).moving_mean.numpy() - refit.get_layer(bn_name).moving_mean.numpy()
        beta = np.vstack([layer.kernel.numpy().reshape(-1, layer.kernel.shape[-1]), mean_shift[None]]).astype(np.float64)
        prior = np.vstack([shrunk.get_layer(name).kernel.numpy().reshape(-1, beta.shape[1]), np.zeros((1, beta.shape[1]))])
        lam = 0.05 * np.mean(np.sum(rows * rows, axis=0))
        gradient = rows.T @ (rows @ beta - target) + lam * (beta - prior)
        assert np.abs(gradient).max() < 2e-4 * np.abs(rows.T @ target).max()
        if name == "outer":  # its inputs lost channels: the constant is used (the stem's inputs are exact)
            assert np.abs(mean_shift).max() > 1e-3
        # variances, gamma and beta of the BatchNorm are untouched
        for a, b in zip(refit.get_layer(bn_name).get_weights()[:2] + refit.get_layer(bn_name).get_weights()[3:],
                        shrunk.get_layer(bn_name).get_weights()[:2] + shrunk.get_layer(bn_name).get_weights()[3:]):
            np.testing.assert_array_equal(a, b)
    # `inner` has a bias of its own: refit as without the option; the head likewise
    np.testing.assert_allclose(refit.get_layer("head").bias.numpy().shape, plain.get_layer("head").bias.numpy().shape)
    dense_out = model(x).numpy()
    assert np.linalg.norm(refit(x).numpy() - dense_out) < np.linalg.norm(shrunk(x).numpy() - dense_out)
    # nothing removed: the constant is ~0 and the dense model is reproduced
    same = refit_shrunk(model, shrink_model(model, {}), {}, x, damping=1e-6, intercept=True)
    np.testing.assert_allclose(same(x).numpy(), dense_out, rtol=1e-3, atol=1e-3)


def test_structured_sweep_reports_the_refit_accuracy():
    from functools import partial

    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import structured_sweep

    model = _residual_model()
    rng = np.random.default_rng(6)
    x, y = rng.normal(size=(32, 8, 8, 2)).astype("float32"), rng.integers(0, 3, 32)
    seen = []

    def refit(dense, shrunk, plan):
        seen.append(sorted(plan))
        return refit_shrunk(dense, shrunk, plan, x)

    evaluated = []
    rows = structured_sweep(model, [0.0, 0.5], mode="layerwise", data=(x, y), refit=refit,
                            evaluate=lambda m: evaluated.append(m) or {})
    plain = structured_sweep(model, [0.0, 0.5], mode="layerwise", data=(x, y))
    assert [r["accuracy"] for r in rows] == [r["accuracy"] for r in plain]
    assert all("refit_accuracy" in r and "refit_loss" in r for r in rows) and len(seen) == 2
    assert rows[0]["refit_loss"] == pytest.approx(rows[0]["loss"], rel=1e-2)  # nothing removed: the same model
    # `evaluate` (sizes, latency, fine-tune in the study script) receives the refit model
    assert evaluate_classifier(evaluated[1], (x, y))[0] == pytest.approx(rows[1]["refit_loss"], rel=1e-5)
    assert "refit_accuracy" not in structured_sweep(model, [0.5], refit=partial(refit_shrunk, calibration_x=x))[0]
