"""SAGA-FW (tf_sfw.saga_fw): NumPy parity on softmax regression, the table's memory cost and
limit, feasibility, config round trip, model.fit, argument errors."""

import json

import numpy as np
import pytest

from tf_sfw import constraints as C
from tf_sfw import fw
from tf_sfw import saga_fw
from tf_sfw import variance_reduction as vr
from tf_sfw._keras import keras

from test_variance_reduction import K, R, compile_wrapper, data, np_grads, np_lmo, softmax_regression

RNG = np.random.default_rng(13)


def test_saga_fw_matches_numpy_reference():
    x, y = data(n=26)  # 3 slots of 8, two examples unused
    b, lr, epochs = 8, 0.2, 2
    model = softmax_regression()
    params = [p.astype(np.float64) for p in model.get_weights()]
    wrapper = saga_fw.SagaFWModel(model, len(x), batch_size=b, seed=4)
    compile_wrapper(wrapper, vr.svfw_optimizer(C.KSparsePolytope(k=K, k_frac=None, mode="radius", value=R), lr))
    wrapper.fit(wrapper.dataset(x, y, shuffle=False), epochs=epochs, verbose=0)

    x64 = x.astype(np.float64)
    slots = wrapper.slots
    assert slots.shape == (3, 8) and len(np.unique(slots)) == 24
    table = [np_grads(params, x64[s], y[s]) for s in slots]  # filled before the first step
    for step in range(epochs * 3):
        j = step % 3
        g = np_grads(params, x64[slots[j]], y[slots[j]])
        mean = [np.mean([row[i] for row in table], axis=0) for i in range(2)]
        estimate = [gi - ti + mi for gi, ti, mi in zip(g, table[j], mean)]
        table[j] = g
        params = [p + lr * (np_lmo(e) - p) for p, e in zip(params, estimate)]
    for got, want in zip(model.get_weights(), params):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)
    for i, var in enumerate(wrapper.table):
        np.testing.assert_allclose(var.numpy(), np.stack([row[i] for row in table]), rtol=1e-4, atol=1e-6)
        np.testing.assert_allclose(wrapper.table_mean[i].numpy(), np.mean([row[i] for row in table], 0),
                                   rtol=1e-4, atol=1e-6)
    assert int(wrapper.gradient_evaluations.numpy()) == 24 + 6 * b


def test_mean_update_keeps_the_table_mean():
    table = RNG.normal(size=(5, 3))
    g = RNG.normal(size=3)
    updated = fw.saga_mean_update(table.mean(0), g, table[2], 5)
    table[2] = g
    np.testing.assert_allclose(updated, table.mean(0))


def test_table_bytes_is_slots_times_params_times_dtype_size():
    model = softmax_regression()  # 4*3 + 3 = 15 float32 parameters
    wrapper = saga_fw.SagaFWModel(model, num_examples=100, batch_size=7)
    assert wrapper.num_slots == 14
    assert wrapper.table_bytes == 14 * 15 * 4 == saga_fw.table_bytes(14, model.trainable_variables)
    assert sum(v.numpy().nbytes for v in wrapper.table) == wrapper.table_bytes
    saga_fw.SagaFWModel(model, num_examples=100, batch_size=7, max_table_bytes=wrapper.table_bytes)  # at the limit
    with pytest.raises(ValueError, match=r"needs 840 bytes.*`max_table_bytes`.*max_table_bytes=839"):
        saga_fw.SagaFWModel(model, num_examples=100, batch_size=7, max_table_bytes=839)
    # A per-example table of a 35k-parameter CNN on MNIST is over the 1 GiB default.
    assert 60000 * 35_000 * 4 > saga_fw.DEFAULT_MAX_TABLE_BYTES


def test_fit_stays_feasible_for_100_steps_and_trains():
    x, y = data(n=800, features=6)
    keras.utils.set_random_seed(2)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
    cons = C.constraints_for_model(model, C.KSparsePolytope(k=None, k_frac=0.3, mode="initialization", value=5.0))
    wrapper = saga_fw.SagaFWModel(model, len(x), batch_size=16)
    compile_wrapper(wrapper, vr.svfw_optimizer(cons, 0.05))
    loss0 = float(keras.losses.SparseCategoricalCrossentropy(from_logits=True)(y, model(x)))
    history = wrapper.fit(wrapper.dataset(x, y), epochs=2, verbose=0)
    assert int(wrapper.optimizer.iterations.numpy()) == 100
    assert int(wrapper.gradient_evaluations.numpy()) == 800 + 100 * 16
    assert history.history["loss"][-1] < 0.8 * loss0
    for var in model.trainable_variables:
        c = cons.for_variable(var)
        value, n = var.numpy().ravel().astype(np.float64), var.shape.num_elements()
        assert max(np.max(np.abs(value)), np.sum(np.abs(value)) / c.k_for(n)) <= c.radius(n) * (1 + 1e-5)
    assert wrapper.model is model


def test_config_round_trip():
    wrapper = saga_fw.SagaFWModel(softmax_regression(), num_examples=50, batch_size=5, max_table_bytes=10**6, seed=2)
    config = json.loads(json.dumps(wrapper.get_config()))
    again = saga_fw.SagaFWModel.from_config(config)
    assert again.get_config() == wrapper.get_config()
    assert again.num_slots == 10 and again.max_table_bytes == 10**6
    np.testing.assert_array_equal(again.slots, wrapper.slots)  # the seed fixes the slots


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_examples": 0}, "num_examples=0"),
        ({"num_examples": 10, "batch_size": 11}, "batch_size=11"),
        ({"num_examples": 10, "batch_size": 5, "max_table_bytes": 0}, "max_table_bytes=0"),
        ({"num_examples": 10, "batch_size": 5, "seed": -1}, "seed=-1"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(kwargs, message):
    with pytest.raises(ValueError, match=message):
        saga_fw.SagaFWModel(softmax_regression(), **kwargs)


def test_training_needs_the_slot_dataset():
    x, y = data(n=16)
    wrapper = saga_fw.SagaFWModel(softmax_regression(), num_examples=16, batch_size=8)
    with pytest.raises(ValueError, match="len\\(x\\)=10"):
        wrapper.dataset(x[:10], y[:10])
    compile_wrapper(wrapper, vr.svfw_optimizer(C.KSparsePolytope(k=K, k_frac=None, mode="radius", value=R), 0.1))
    wrapper.dataset(x, y)
    with pytest.raises(ValueError, match="dataset"):
        wrapper.fit(x, y, batch_size=8, epochs=1, verbose=0)
