"""tf_sfw.pruning.batchnorm: re-estimating BN moving statistics with forward passes only."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.batchnorm import batchnorm_layers, reestimate_batchnorm


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((5, 5, 2))
    x = keras.layers.Conv2D(4, 3, name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(3, name="dense")(x)
    outputs = keras.layers.BatchNormalization(name="bn_out", momentum=0.5)(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("num_batches", [1, 3, None])
def test_moving_statistics_become_the_mean_of_batch_statistics(num_batches):
    model = _model()
    rng = np.random.default_rng(0)
    batches = [(rng.normal(2.0, 3.0, size=(6, 5, 5, 2)).astype("float32"), np.zeros(6)) for _ in range(4)]
    trainable_before = [w.numpy().copy() for w in model.trainable_weights]
    conv_out = keras.Model(model.inputs, model.get_layer("bn").input)
    used_batches = batches if num_batches is None else batches[:num_batches]
    means = [conv_out(x).numpy().mean(axis=(0, 1, 2)) for x, _ in used_batches]
    variances = [conv_out(x).numpy().var(axis=(0, 1, 2), ddof=1) for x, _ in used_batches]

    used = reestimate_batchnorm(model, tf.data.Dataset.from_tensor_slices(
        (np.stack([b[0] for b in batches]), np.stack([b[1] for b in batches]))), num_batches=num_batches)

    assert used == len(used_batches)
    bn = model.get_layer("bn")
    np.testing.assert_allclose(bn.moving_mean.numpy(), np.mean(means, axis=0), rtol=1e-4, atol=1e-5)
    # Keras may use the biased or the unbiased batch variance: accept either.
    biased = np.mean(variances, axis=0) * (6 * 9 - 1) / (6 * 9)
    unbiased = np.mean(variances, axis=0)
    got = bn.moving_variance.numpy()
    assert np.allclose(got, unbiased, rtol=1e-3) or np.allclose(got, biased, rtol=1e-3)
    # Forward passes only: no trainable weight changed, the momenta are restored.
    for before, after in zip(trainable_before, model.trainable_weights):
        np.testing.assert_array_equal(before, after.numpy())
    assert bn.momentum == 0.99 and model.get_layer("bn_out").momentum == 0.5


def test_changes_only_moving_statistics_and_recovers_pruned_accuracy_signal():
    model = _model()
    x = np.random.default_rng(1).normal(1.0, 2.0, size=(16, 5, 5, 2)).astype("float32")
    before = {w.name: w.numpy().copy() for w in model.weights}
    reestimate_batchnorm(model, [x[:8], x[8:]])
    changed = {name for name, w in ((w.name, w) for w in model.weights) if not np.array_equal(before[name], w.numpy())}
    assert changed and all("moving_mean" in n or "moving_variance" in n for n in changed)


def test_no_batchnorm_and_validation():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2)(inputs))
    assert batchnorm_layers(model) == []
    assert reestimate_batchnorm(model, [np.zeros((2, 3), "float32")]) == 0
    with pytest.raises(ValueError, match="num_batches"):
        reestimate_batchnorm(_model(), [], num_batches=0)
    with pytest.raises(ValueError, match="empty"):
        reestimate_batchnorm(_model(), [])
