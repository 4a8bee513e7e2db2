"""SVRF / SVFW (tf_sfw.variance_reduction): NumPy parity on softmax regression, feasibility,
gradient counts, config round trip, model.fit, argument errors."""

import json

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import constraints as C
from tf_sfw import fw
from tf_sfw import schedules
from tf_sfw import variance_reduction as vr
from tf_sfw._keras import keras

RNG = np.random.default_rng(11)
K, R = 3, 0.5


def softmax_regression(seed=0, features=4, classes=3):
    keras.utils.set_random_seed(seed)
    model = keras.Sequential([keras.Input((features,)), keras.layers.Dense(classes)])
    w = (0.02 * RNG.normal(size=(features, classes))).astype(np.float32)  # feasible start
    b = (0.02 * RNG.normal(size=classes)).astype(np.float32)
    model.set_weights([w, b])
    return model


def np_grads(params, x, y):
    """Mean softmax cross-entropy gradients of logits = x W + b."""
    w, b = params
    logits = x @ w + b
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    p[np.arange(len(y)), y] -= 1.0
    return [x.T @ p / len(y), p.mean(0)]


def np_lmo(g):
    flat = g.ravel()
    v = np.zeros_like(flat)
    top = np.argsort(-np.abs(flat), kind="stable")[:K]
    v[top] = -R * np.sign(flat[top])
    return v.reshape(g.shape)


def data(n=24, features=4):
    x = RNG.normal(size=(n, features)).astype(np.float32)
    y = (np.argmax(x[:, :3] + 0.3 * RNG.normal(size=(n, 3)), axis=1)).astype(np.int32)
    return x, y


def compile_wrapper(wrapper, optimizer):
    wrapper.compile(optimizer, keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    return wrapper


def test_svrf_matches_numpy_reference():
    x, y = data()
    b, every, epochs = 8, 2, 2  # 3 steps per epoch, snapshots before steps 0, 2, 4
    model = softmax_regression()
    params = [p.astype(np.float64) for p in model.get_weights()]
    wrapper = vr.VarianceReducedModel(model, (x, y), snapshot_every=every, snapshot_batch_size=10)
    gamma = schedules.RestartingPowerDecay(every, offset=2.0)  # 2/(k+2): no jump to a vertex
    compile_wrapper(wrapper, vr.svrf_optimizer(C.KSparsePolytope(k=K, k_frac=None, mode="radius", value=R),
                                               every, learning_rate=gamma))
    wrapper.fit(x, y, batch_size=b, epochs=epochs, shuffle=False, verbose=0)

    full = snapshot = None
    for step in range(epochs * len(x) // b):
        if step % every == 0:
            snapshot, full = [p.copy() for p in params], np_grads(params, x.astype(np.float64), y)
        xb, yb = x[(step % 3) * b:(step % 3 + 1) * b].astype(np.float64), y[(step % 3) * b:(step % 3 + 1) * b]
        estimate = [g - s + f for g, s, f in zip(np_grads(params, xb, yb), np_grads(snapshot, xb, yb), full)]
        eta = 2.0 / ((step % every) + 1 + 2.0)
        params = [p + eta * (np_lmo(e) - p) for p, e in zip(params, estimate)]
    for got, want in zip(model.get_weights(), params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    assert wrapper.snapshots == 3
    assert int(wrapper.gradient_evaluations.numpy()) == 3 * len(x) + 2 * b * 6
    # the last full gradient is the NumPy one at the last snapshot
    for got, want in zip(wrapper.full_gradients, full):
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-4, atol=1e-6)


def test_estimator_is_the_full_gradient_at_the_snapshot():
    g, s, f = RNG.normal(size=(3, 5, 2))
    np.testing.assert_allclose(fw.variance_reduced_gradient(g, g, f), f)
    np.testing.assert_allclose(fw.variance_reduced_gradient(g, s, f), g - s + f)


@pytest.mark.parametrize("snapshot_size", [None, 40])
def test_svfw_fit_stays_feasible_for_100_steps_and_trains(snapshot_size):
    x, y = data(n=800, features=6)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    cons = C.constraints_for_model(model, C.KSparsePolytope(k=None, k_frac=0.3, mode="initialization", value=5.0))
    wrapper = vr.VarianceReducedModel(model, (x, y), snapshot_size=snapshot_size, snapshot_batch_size=400)
    compile_wrapper(wrapper, vr.svfw_optimizer(cons, 0.05))
    loss0 = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x)))
    history = wrapper.fit(x, y, batch_size=16, epochs=2, shuffle=True, verbose=0)
    assert int(wrapper.optimizer.iterations.numpy()) == 100
    assert wrapper.snapshots == 2  # one per epoch
    per_snapshot = len(x) if snapshot_size is None else snapshot_size
    assert int(wrapper.gradient_evaluations.numpy()) == 2 * per_snapshot + 2 * 16 * 100
    assert history.history["loss"][-1] < 0.8 * loss0
    for var in model.trainable_variables:
        c = cons.for_variable(var)
        value, n = var.numpy().ravel().astype(np.float64), var.shape.num_elements()
        assert max(np.max(np.abs(value)), np.sum(np.abs(value)) / c.k_for(n)) <= c.radius(n) * (1 + 1e-5)
    assert wrapper.model is model and wrapper.trainable_variables == model.trainable_variables


def test_snapshot_every_n_steps_and_dataset_snapshot_data():
    x, y = data(n=64)
    model = softmax_regression()
    snap = tf.data.Dataset.from_tensor_slices((x, y)).batch(20)
    wrapper = vr.VarianceReducedModel(model, snap, snapshot_every=3)
    compile_wrapper(wrapper, vr.svfw_optimizer(C.KSparsePolytope(k=K, k_frac=None, mode="radius", value=R), 0.1))
    wrapper.fit(x, y, batch_size=8, epochs=1, verbose=0)  # 8 steps: snapshots before steps 0, 3, 6
    assert wrapper.snapshots == 3
    assert int(wrapper.gradient_evaluations.numpy()) == 3 * 64 + 2 * 8 * 8


def test_config_round_trip():
    model = softmax_regression()
    wrapper = vr.VarianceReducedModel(model, snapshot_every=7, snapshot_size=30, snapshot_batch_size=64, seed=3)
    config = json.loads(json.dumps(wrapper.get_config()))
    again = vr.VarianceReducedModel.from_config(config)
    assert again.get_config() == wrapper.get_config()
    assert again.snapshot_every == 7 and again.snapshot_size == 30 and again.seed == 3
    assert [v.shape for v in again.model.weights] == [v.shape for v in model.weights]
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(wrapper))
    assert isinstance(restored, vr.VarianceReducedModel)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"snapshot_every": 0}, "snapshot_every=0"),
        ({"snapshot_size": 0}, "snapshot_size=0"),
        ({"snapshot_batch_size": -2}, "snapshot_batch_size=-2"),
        ({"snapshot_size": 100, "snapshot_data": (np.zeros((10, 4)), np.zeros(10))}, "snapshot_size=100"),
        ({"snapshot_data": np.zeros((10, 4))}, "snapshot_data=ndarray"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        vr.VarianceReducedModel(softmax_regression(), **kwargs)


def test_usage_errors():
    with pytest.raises(ValueError, match="model=None"):
        vr.VarianceReducedModel(None)
    wrapper = vr.VarianceReducedModel(softmax_regression())
    with pytest.raises(ValueError, match="loss="):
        wrapper.compile("sgd", loss=["mse", "mse"])
    with pytest.raises(ValueError, match="steps_per_execution=4"):
        wrapper.compile("sgd", loss="mse", steps_per_execution=4)
    compile_wrapper(wrapper, vr.svfw_optimizer(C.KSparsePolytope(k=K, k_frac=None, mode="radius", value=R), 0.1))
    x, y = data(n=16)
    with pytest.raises(ValueError, match="snapshot_data=None"):
        wrapper.fit(x, y, batch_size=8, epochs=1, verbose=0)
