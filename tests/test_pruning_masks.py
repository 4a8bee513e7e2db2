"""Tests for tf_sfw.pruning.masks (fixed masks through tfmot wrappers)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import global_magnitude_masks, magnitude_masks
from tf_sfw.pruning.masks import (
    FixedMask,
    apply_masks,
    get_masks,
    is_pruned,
    prunable_weights,
    set_masks,
    strip,
)


def tiny_model(seed=0, batchnorm=True):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inp)
    if batchnorm:
        x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(3, activation="softmax", name="dense_out")(x)
    model = keras.Model(inp, out, name="tiny")
    # non-trivial biases / BN parameters so that they can be pruned meaningfully
    for layer in model.layers:
        if layer.weights:
            layer.set_weights([w + np.random.default_rng(seed).normal(0, 0.1, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return model


def tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize(
    "include_bias,include_batchnorm,expected",
    [
        (False, False, ["conv_a/kernel", "dense_out/kernel"]),
        (True, False, ["conv_a/kernel", "conv_a/bias", "dense_out/kernel", "dense_out/bias"]),
        (False, True, ["conv_a/kernel", "bn/gamma", "bn/beta", "dense_out/kernel"]),
        (True, True, ["conv_a/kernel", "conv_a/bias", "bn/gamma", "bn/beta", "dense_out/kernel", "dense_out/bias"]),
    ],
)
def test_prunable_weights_keys_and_order(include_bias, include_batchnorm, expected):
    weights = prunable_weights(tiny_model(), include_bias=include_bias, include_batchnorm=include_batchnorm)
    assert list(weights) == expected
    assert all(isinstance(v, tf.Variable) for v in weights.values())


def test_prunable_weights_layer_filter_and_unknown_layer():
    model = tiny_model()
    assert list(prunable_weights(model, layers=["dense_out"])) == ["dense_out/kernel"]
    with pytest.raises(ValueError, match=r"Unknown layer names in `layers`: \['nope'\]"):
        prunable_weights(model, layers=["nope"])


def test_unprunable_model_raises():
    inp = keras.Input((4,))
    model = keras.Model(inp, keras.layers.Activation("relu")(inp))
    with pytest.raises(ValueError, match="no prunable weights"):
        prunable_weights(model)
    with pytest.raises(ValueError, match="no prunable weights"):
        magnitude_masks(model, 0.5)


def test_not_a_model_raises():
    with pytest.raises(ValueError, match="keras.Model"):
        prunable_weights(keras.layers.Dense(3))


def nested_model(seed=0):
    keras.utils.set_random_seed(seed)
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="fc")], name="inner")
    block = keras.Sequential([inner, keras.layers.Dense(4, name="fc")], name="block")  # equal layer names
    inp = keras.Input((6,))
    return keras.Model(inp, keras.layers.Dense(3, name="out")(block(inp)), name="nested")


def test_nested_models_are_pruned_with_path_keys():
    model = nested_model()
    weights = prunable_weights(model, include_bias=True)
    assert list(weights) == [
        "block/inner/fc/kernel", "block/inner/fc/bias", "block/fc/kernel", "block/fc/bias", "out/kernel", "out/bias",
    ]
    assert list(prunable_weights(model, layers=["block/fc"])) == ["block/fc/kernel"]
    masks = magnitude_masks(model, 0.6)
    n = sum(int(m.size) for m in masks.values())
    assert sum(int((m == 0).sum()) for m in masks.values()) == int(np.floor(0.6 * n + 0.5))
    x = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
    pruned = apply_masks(model, masks)
    assert is_pruned(pruned) and set(get_masks(pruned)) == set(masks)
    plain = strip(pruned)
    expected = {k: v.numpy() * masks[k] for k, v in prunable_weights(model).items()}
    for key, variable in prunable_weights(plain).items():
        np.testing.assert_array_equal(variable.numpy(), expected[key])
    # the pruned copy computes the masked model; the original is untouched
    for key, variable in prunable_weights(model).items():
        variable.assign(expected[key])
    np.testing.assert_allclose(plain(x).numpy(), model(x).numpy(), rtol=1e-6)


@pytest.mark.parametrize("include_bias,include_batchnorm", [(False, False), (True, True)])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_apply_masks_exact_copy(include_bias, include_batchnorm, sparsity):
    model = tiny_model()
    before = [w.copy() for w in model.get_weights()]
    values = {k: v.numpy() for k, v in prunable_weights(model, include_bias, include_batchnorm).items()}
    masks = global_magnitude_masks(values, sparsity)
    pruned = apply_masks(model, masks)
    assert is_pruned(pruned) and not is_pruned(model)
    # the original is untouched
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    got = get_masks(pruned)
    assert list(got) == list(masks)
    after = {k: v.numpy() for k, v in prunable_weights(pruned, include_bias, include_batchnorm).items()}
    for k in masks:
        np.testing.assert_array_equal(got[k], masks[k])
        np.testing.assert_array_equal(after[k][masks[k] == 1], values[k][masks[k] == 1])  # bit-identical
        assert np.all(after[k][masks[k] == 0] == 0)
    n = sum(m.size for m in masks.values())
    assert sum(int((m == 0).sum()) for m in got.values()) == int(np.floor(sparsity * n + 0.5))


def test_apply_masks_validates():
    model = tiny_model()
    ones = {k: np.ones(v.shape) for k, v in prunable_weights(model).items()}
    with pytest.raises(ValueError, match=r"Unknown weight keys in `masks`: \['nope/kernel'\]"):
        apply_masks(model, {"nope/kernel": np.ones(3)})
    with pytest.raises(ValueError, match="shape"):
        apply_masks(model, {"conv_a/kernel": np.ones(3)})
    with pytest.raises(ValueError, match="only 0 and 1"):
        apply_masks(model, {"conv_a/kernel": np.full(ones["conv_a/kernel"].shape, 0.5)})
    with pytest.raises(ValueError, match="non-empty"):
        apply_masks(model, {})
    pruned = apply_masks(model, ones)
    with pytest.raises(ValueError, match="already has pruning wrappers"):
        apply_masks(pruned, ones)


def test_sequential_model_round_trip():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Conv2D(2, 3, input_shape=(6, 6, 1), name="c"), keras.layers.Flatten(), keras.layers.Dense(3, name="d")])
    masks = magnitude_masks(model, 0.5, include_bias=True)
    pruned = apply_masks(model, masks)
    assert isinstance(pruned, keras.Sequential)
    x = np.random.default_rng(0).random((4, 6, 6, 1), dtype=np.float32)
    stripped = strip(pruned)
    assert isinstance(stripped, keras.Sequential)
    np.testing.assert_allclose(stripped.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-6, atol=1e-7)
    for k, v in prunable_weights(stripped, include_bias=True).items():
        assert np.all(v.numpy()[masks[k] == 0] == 0)


def test_get_set_masks_roundtrip_and_errors():
    model = tiny_model()
    pruned = apply_masks(model, magnitude_masks(model, 0.3))
    new = magnitude_masks(model, 0.7)
    set_masks(pruned, new)
    for k, m in get_masks(pruned).items():
        np.testing.assert_array_equal(m, new[k])
    with pytest.raises(ValueError, match="Unknown masked-weight keys"):
        set_masks(pruned, {"bn/gamma": np.ones(4)})
    with pytest.raises(ValueError, match="no pruning wrappers"):
        get_masks(model)


def test_fixed_mask_schedule_config_roundtrip():
    schedule = FixedMask()
    config = schedule.get_config()
    assert config == {"class_name": "FixedMask", "config": {}}
    clone = FixedMask.from_config(config["config"])
    assert isinstance(clone, FixedMask)
    should_prune, sparsity = clone(tf.constant(5, tf.int64))
    assert not bool(should_prune) and float(sparsity) == 0.0


def test_strip_gives_independent_plain_copy_with_same_predictions():
    model = tiny_model()
    pruned = apply_masks(model, magnitude_masks(model, 0.5, include_bias=True))
    x, _ = tiny_data(16)
    stripped = strip(pruned)
    assert not is_pruned(stripped)
    assert [l.name for l in stripped.layers] == [l.name for l in model.layers]
    np.testing.assert_allclose(stripped.predict(x, verbose=0), pruned.predict(x, verbose=0), rtol=1e-6, atol=1e-6)
    stripped.layers[1].kernel.assign(tf.ones_like(stripped.layers[1].kernel))
    assert not np.all(pruned.layers[1].layer.kernel.numpy() == 1.0)


# --------------------------------------------------------------------------- tfmot's own schedules


def _tied_dense_model(seed=0):
    """A Dense kernel like an SFW iterate: magnitudes 0.25 (many tied), 0.5 and 0."""
    rng = np.random.default_rng(seed)
    model = keras.Sequential([keras.Input((20,)), keras.layers.Dense(10, name="fc")])
    kernel = rng.choice([-0.25, 0.25], size=(20, 10)) * (rng.random((20, 10)) < 0.95)
    kernel[:3] = 0.5
    model.get_layer("fc").kernel.assign(kernel.astype(np.float32))
    return model


def test_tfmot_threshold_mask_misses_the_target_on_ties_and_make_masks_exact_fixes_it():
    import tensorflow_model_optimization as tfmot

    from tf_sfw.pruning.exact_masks import ExactMasks, make_masks_exact

    model = _tied_dense_model()
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.8, begin_step=0, frequency=1)
    wrapped = tfmot.sparsity.keras.prune_low_magnitude(model, pruning_schedule=schedule)
    wrapped.compile(keras.optimizers.SGD(0.0), "mse")
    x, y = np.ones((4, 20), np.float32), np.zeros((4, 10), np.float32)
    wrapped.fit(x, y, epochs=1, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep()])
    tfmot_sparsity = float((get_masks(wrapped)["fc/kernel"] == 0).mean())
    assert tfmot_sparsity < 0.8 - 0.01  # ties: every |w| >= threshold kept
    assert make_masks_exact(wrapped) == {"fc/kernel": pytest.approx(0.8)}
    stripped = strip(wrapped)
    assert float((stripped.get_layer("fc").kernel.numpy() == 0).mean()) == pytest.approx(0.8)
    # as a callback after tfmot's UpdatePruningStep
    wrapped2 = tfmot.sparsity.keras.prune_low_magnitude(_tied_dense_model(), pruning_schedule=schedule)
    wrapped2.compile(keras.optimizers.SGD(0.0), "mse")
    wrapped2.fit(x, y, epochs=1, verbose=0, callbacks=[tfmot.sparsity.keras.UpdatePruningStep(), ExactMasks()])
    assert float((get_masks(wrapped2)["fc/kernel"] == 0).mean()) == pytest.approx(0.8)
    # an explicit sparsity, and FixedMask wrappers left alone by default
    assert make_masks_exact(wrapped2, 0.5) == {"fc/kernel": pytest.approx(0.5)}
    fixed = apply_masks(_tied_dense_model(), {"fc/kernel": np.ones((20, 10))})
    assert make_masks_exact(fixed) == {}


@pytest.mark.parametrize("bad, match", [(1.0, "sparsity=1.0"), (-0.2, "sparsity=-0.2")])
def test_make_masks_exact_validates(bad, match):
    from tf_sfw.pruning.exact_masks import ExactMasks, make_masks_exact

    with pytest.raises(ValueError, match=match):
        ExactMasks(bad)
    with pytest.raises(ValueError, match="no pruning wrappers"):
        make_masks_exact(tiny_model())
