"""Tests for tf_sfw.pruning.retrain (fine-tuning with fixed masks)."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, get_masks, prunable_weights, strip
from tf_sfw.pruning.retrain import fine_tune, prune_and_fine_tune



def tiny_model(seed=0, batchnorm=True):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv_a")(inp)
    if batchnorm:
        x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten(name="flat")(x)
    out = keras.layers.Dense(3, activation="softmax", name="dense_out")(x)
    model = keras.Model(inp, out, name="tiny")
    rng = np.random.default_rng(seed)
    for layer in model.layers:  # non-zero biases / BN parameters, so that pruning them matters
        if layer.weights:
            layer.set_weights([w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in layer.get_weights()])
    return model


def tiny_data(n=64, seed=0):
    rng = np.random.default_rng(seed)
    return rng.random((n, 8, 8, 1), dtype=np.float32), rng.integers(0, 3, n)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("include_bias,include_batchnorm", [(False, False), (True, True)])
def test_masks_survive_fine_tuning(optimizer, include_bias, include_batchnorm):
    model = tiny_model()
    masks = magnitude_masks(model, 0.6, include_bias=include_bias, include_batchnorm=include_batchnorm)
    pruned = apply_masks(model, masks)
    before = {k: v.numpy().copy() for k, v in prunable_weights(pruned, include_bias, include_batchnorm).items()}
    opt = keras.optimizers.SGD(0.1, momentum=0.9) if optimizer == "sgd" else keras.optimizers.Adam(0.01)
    history = fine_tune(pruned, tiny_data(), epochs=2, optimizer=opt)
    assert len(history.history["loss"]) == 2
    after = {k: v.numpy() for k, v in prunable_weights(pruned, include_bias, include_batchnorm).items()}
    for k, m in get_masks(pruned).items():
        np.testing.assert_array_equal(m, masks[k])  # masks never recomputed
        assert np.all(after[k][m == 0] == 0.0)  # pruned stay exactly zero
    assert any(not np.array_equal(before[k][masks[k] == 1], after[k][masks[k] == 1]) for k in masks)  # kept ones trained
    stripped = strip(pruned)
    for k, v in prunable_weights(stripped, include_bias, include_batchnorm).items():
        assert np.all(v.numpy()[masks[k] == 0] == 0.0)


def test_fine_tune_with_dataset_and_validation():
    model = tiny_model(batchnorm=False)
    pruned = apply_masks(model, magnitude_masks(model, 0.5))
    ds = tf.data.Dataset.from_tensor_slices(tiny_data()).batch(16)
    fine_tune(pruned, ds, epochs=1, steps_per_epoch=2)
    assert all(np.all(v.numpy()[get_masks(pruned)[k] == 0] == 0) for k, v in prunable_weights(pruned).items())


@pytest.mark.parametrize("epochs", [-1, 1.5, True])
def test_fine_tune_validates(epochs):
    model = tiny_model()
    pruned = apply_masks(model, magnitude_masks(model, 0.5))
    with pytest.raises(ValueError, match="epochs"):
        fine_tune(pruned, tiny_data(), epochs=epochs)


def test_fine_tune_requires_wrapped_model():
    with pytest.raises(ValueError, match="pruning wrappers"):
        fine_tune(tiny_model(), tiny_data(), epochs=1)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
def test_prune_and_fine_tune(scope):
    model = tiny_model()
    before = [w.copy() for w in model.get_weights()]
    stripped, history = prune_and_fine_tune(model, 0.75, tiny_data(), epochs=1, scope=scope)
    assert len(history.history["loss"]) == 1
    masks = magnitude_masks(model, 0.75, scope=scope)
    for k, v in prunable_weights(stripped).items():
        assert np.all(v.numpy()[masks[k] == 0] == 0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # input model untouched
    stripped0, none = prune_and_fine_tune(model, 0.75, tiny_data(), epochs=0, scope=scope)
    assert none is None
    for k, v in prunable_weights(stripped0).items():
        assert int((v.numpy() == 0).sum()) >= int((masks[k] == 0).sum())


def test_fine_tune_with_sfw_optimizer_keeps_zeros():
    import tf_sfw
    from tf_sfw.constraints import KSparsePolytope, constraints_for_model

    model = tiny_model(batchnorm=False)
    pruned = apply_masks(model, magnitude_masks(model, 0.5))
    # mode="radius": the wrapped variables are renamed, so initializer lookup is not used here
    cons = constraints_for_model(pruned, KSparsePolytope(k=10, k_frac=0.05, mode="radius", value=0.2))
    fine_tune(pruned, tiny_data(), epochs=1, optimizer=tf_sfw.SFW(learning_rate=1.0, momentum=0.9, rescale="gradient", constraints=cons))
    masks = get_masks(pruned)
    for k, v in prunable_weights(pruned).items():
        assert np.all(v.numpy()[masks[k] == 0] == 0)
