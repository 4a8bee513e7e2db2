"""Models a user brings (keras.applications-style layers), end to end: constraints from
the layers' own initializers, SFW training steps that stay feasible, exact magnitude
pruning, and export / reload with identical predictions.

Layers covered: DepthwiseConv2D and SeparableConv2D with BatchNormalization (MobileNet /
EfficientNet blocks), LSTM, and nested sub-models (a functional sub-model and a Sequential
inside a Sequential, two of them holding a layer named ``fc``).
"""

import math

import numpy as np
import pytest

import tf_sfw
from tf_sfw import constraints as C
from tf_sfw import pruning
from tf_sfw._keras import keras

SPARSITY = 0.7


def mobilenet_like():
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="stem")(inp)
    x = keras.layers.BatchNormalization(name="stem_bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="expanded_conv_depthwise")(x)
    x = keras.layers.BatchNormalization(name="depthwise_bn")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.SeparableConv2D(6, 3, padding="same", name="separable")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, name="predictions")(x), name="mobilenet_like")


def lstm_model():
    inp = keras.Input((6, 3))
    x = keras.layers.LSTM(5, name="lstm")(inp)
    return keras.Model(inp, keras.layers.Dense(3, name="predictions")(x), name="lstm_model")


def nested_model():
    def block(name):
        x = keras.Input((8,))
        return keras.Model(x, keras.layers.Dense(8, activation="relu", name="fc")(x), name=name)

    inner = keras.Sequential([keras.Input((8,)), keras.layers.Dense(8, activation="relu", name="fc")], name="inner")
    outer = keras.Sequential([inner, keras.layers.Dense(8, name="proj")], name="outer")
    inp = keras.Input((8,))
    x = block("block_b")(block("block_a")(inp))
    return keras.Model(inp, keras.layers.Dense(3, name="predictions")(outer(x)), name="nested")


CASES = {
    "mobilenet_like": (mobilenet_like, (8, 8, 1)),
    "lstm": (lstm_model, (6, 3)),
    "nested": (nested_model, (8,)),
}


def build(case, seed=0):
    make, shape = CASES[case]
    keras.utils.set_random_seed(seed)
    model = make()
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(16,) + shape).astype(np.float32)
    y = rng.integers(0, 3, 16)
    return model, x, y


def sfw_constraints(model):
    return C.constraints_for_model(
        model,
        C.KSparsePolytope(k=2, k_frac=0.2, mode="initialization", value=5.0),
        overrides={keras.layers.BatchNormalization: C.Unconstrained()},
    )


def in_k_sparse_polytope(constraint, value, tol=1e-5):
    n = value.size
    r, k = constraint.radius(n), constraint.k_for(n)
    return np.max(np.abs(value)) <= r * (1 + tol) and np.sum(np.abs(value)) <= r * k * (1 + tol)


@pytest.mark.parametrize("case", list(CASES))
def test_constraints_train_prune_export(case, tmp_path):
    model, x, y = build(case)
    cons = sfw_constraints(model)
    variables = model.trainable_variables
    per_variable = cons.for_variables(variables)
    assert len(cons.constraints) == len(variables)  # one entry per variable, none merged

    # A couple of SFW steps: every constrained variable stays in its polytope.
    model.compile(tf_sfw.SFW(learning_rate=1.0, constraints=cons), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    for variable, constraint in zip(variables, per_variable):
        value = variable.numpy()
        assert np.all(np.isfinite(value)), variable.name
        if constraint.is_constrained:
            assert in_k_sparse_polytope(constraint, value), variable.name

    # Global magnitude pruning hits the target exactly.
    masks = pruning.magnitude_masks(model, SPARSITY)
    weights = pruning.prunable_weights(model)
    assert list(masks) == list(weights)
    n = sum(int(m.size) for m in masks.values())
    assert sum(int((m == 0).sum()) for m in masks.values()) == math.floor(SPARSITY * n + 0.5)
    pruned = pruning.strip(pruning.apply_masks(model, masks))
    report = pruning.sparsity_report(pruned)
    assert report["counted"] == n
    assert report["global_sparsity"] == pytest.approx(math.floor(SPARSITY * n + 0.5) / n)
    for key, variable in pruning.prunable_weights(pruned).items():
        np.testing.assert_array_equal(variable.numpy(), weights[key].numpy() * masks[key])

    # Export and reload: identical predictions.
    directory = pruning.export_model(pruned, directory=str(tmp_path / case))
    expected = pruned(x, training=False).numpy()
    np.testing.assert_allclose(pruning.predict_exported(pruning.load_exported(directory), x), expected, rtol=1e-5, atol=1e-6)
    reloaded = pruning.load_keras_model(directory)
    np.testing.assert_allclose(reloaded(x, training=False).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "make",
    [
        lambda: keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, weights=None, classes=4),
        lambda: keras.Sequential([keras.Input((5, 3)), keras.layers.Bidirectional(keras.layers.LSTM(4)), keras.layers.Dense(2)]),
    ],
    ids=["MobileNetV2", "Bidirectional_LSTM"],
)
def test_keras_applications_models_get_one_constraint_per_variable(make):
    keras.utils.set_random_seed(0)
    model = make()
    cons = C.constraints_for_model(model, C.KSparsePolytope(), overrides={keras.layers.BatchNormalization: C.Unconstrained()})
    assert len(cons.constraints) == len(model.trainable_variables)
    per_variable = cons.for_variables(model.trainable_variables)
    depthwise = [c for c, v in zip(per_variable, model.trainable_variables) if "depthwise_kernel" in v.name]
    assert all(c.is_constrained and c.mode == "radius" and c.value > 0 for c in per_variable if c.is_constrained)
    assert len(depthwise) == (17 if model.name.startswith("mobilenetv2") else 0)
