"""tf_sfw.pruning.gmp: tfmot gradual magnitude pruning as the baseline."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning import is_pruned
from tf_sfw.pruning.gmp import gmp_schedule, gmp_train


def _model():
    keras.utils.set_random_seed(0)
    inputs = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="dense")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize("total,begin,end", [(100, 0.2, 0.6), (10, 0.0, 1.0), (1000, 0.25, 0.75)])
def test_schedule_spans_the_middle_of_the_run(total, begin, end):
    schedule = gmp_schedule(0.8, total, begin, end)
    config = schedule.get_config()["config"]
    assert config["begin_step"] == int(begin * total)
    assert config["end_step"] == max(int(begin * total) + 1, int(end * total))
    assert config["final_sparsity"] == 0.8 and config["initial_sparsity"] == 0.0
    assert 1 <= config["frequency"] <= 100
    assert (config["end_step"] - config["begin_step"]) // config["frequency"] >= min(10, config["end_step"] - config["begin_step"])


@pytest.mark.parametrize(
    "kwargs,match",
    [(dict(final_sparsity=1.0), "final_sparsity"), (dict(total_steps=0), "total_steps"),
     (dict(begin_frac=0.7, end_frac=0.6), "begin_frac"), (dict(frequency=0), "frequency")],
)
def test_schedule_validates_arguments(kwargs, match):
    args = dict(final_sparsity=0.5, total_steps=10)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        gmp_schedule(**args)


@pytest.mark.parametrize("sparsity", [0.5, 0.9])
def test_gmp_train_reaches_layerwise_sparsity_and_strips(sparsity):
    model = _model()
    bias_before = model.get_layer("conv").bias.numpy().copy()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 6, 6, 1)).astype("float32")
    y = rng.integers(0, 3, 64)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8).repeat()
    stripped, history = gmp_train(model, ds, sparsity, epochs=2, steps_per_epoch=8,
                                  optimizer=keras.optimizers.SGD(0.05, momentum=0.9), begin_frac=0.1, end_frac=0.5)
    assert not is_pruned(stripped)
    assert len(history.history["loss"]) == 2
    for name in ("conv", "dense"):
        kernel = stripped.get_layer(name).kernel.numpy()
        np.testing.assert_allclose((kernel == 0).mean(), sparsity, atol=1.0 / kernel.size + 1e-9)
    # Biases are trained but not pruned.
    bias = stripped.get_layer("conv").bias.numpy()
    assert np.count_nonzero(bias) == bias.size and not np.allclose(bias, bias_before)


def test_gmp_train_validates_lengths():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        gmp_train(_model(), None, 0.5, epochs=1, steps_per_epoch=0, optimizer=keras.optimizers.SGD())
