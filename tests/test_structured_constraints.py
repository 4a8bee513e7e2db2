"""Tests of tf_sfw.structured_constraints: arguments, sizes, LMO/feasible start, serialization,
and SFW training inside group / N:M sets."""

import math

import numpy as np
import pytest
import tensorflow as tf

import tf_sfw
from tf_sfw import constraints as C
from tf_sfw._keras import keras
from tf_sfw.structured_constraints import GroupKSparsePolytope, GroupKSupportNormBall, NMSparsePolytope

RNG = np.random.default_rng(3)


def np_group_norms(x, axis=-1):
    x = np.asarray(x, np.float64)
    if x.ndim <= 1:
        return np.abs(x.reshape(-1))
    return np.sqrt((np.moveaxis(x, axis, -1) ** 2).reshape(-1, x.shape[axis]).sum(axis=0))


def np_k_support_norm(z, k):
    """Argyriou, Foygel and Srebro (2012), Prop. 2.1 (1-based, z_0 = inf)."""
    z = np.concatenate([[np.inf], np.sort(np.abs(np.asarray(z, np.float64)))[::-1]])
    for r in range(k):
        tail = z[k - r :].sum() / (r + 1)
        if z[k - r - 1] > tail >= z[k - r]:
            return float(np.sqrt((z[1 : k - r] ** 2).sum() + (r + 1) * tail**2))
    return 0.0


def np_nm_blocks(x, m):
    """Blocks of m consecutive entries along axis -2 (axis 0 for rank 1), as rows (zero padded)."""
    x = np.asarray(x, np.float64)
    rows = x.reshape(1, -1) if x.ndim == 1 else np.moveaxis(x, -2, -1).reshape(-1, x.shape[-2])
    pad = -rows.shape[1] % m
    return np.pad(rows, [(0, 0), (0, pad)]).reshape(rows.shape[0], -1, m)


def np_size(constraint, x):
    """The gauge of ``constraint`` (x in C iff gauge <= r), by NumPy."""
    if isinstance(constraint, NMSparsePolytope):
        b = np.abs(np_nm_blocks(x, constraint.m))
        return max(b.max(), (b.sum(axis=-1) / constraint.n).max())
    norms = np_group_norms(x, constraint.axis)
    k = constraint.k_for(norms.size)
    if isinstance(constraint, GroupKSparsePolytope):
        return max(norms.max(), norms.sum() / k)
    return np_k_support_norm(norms, k)


CLASSES = [GroupKSparsePolytope, GroupKSupportNormBall, NMSparsePolytope]


@pytest.mark.parametrize(
    "cls, kwargs, message",
    [
        (GroupKSparsePolytope, dict(k=0), "k=0"),
        (GroupKSparsePolytope, dict(k=None, k_frac=None), "k=None"),
        (GroupKSupportNormBall, dict(k_frac=1.5), "k_frac=1.5"),
        (GroupKSparsePolytope, dict(axis=1.5), "axis=1.5"),
        (GroupKSupportNormBall, dict(mode="volume"), "mode='volume'"),
        (NMSparsePolytope, dict(n=3, m=2), "n=3, m=2"),
        (NMSparsePolytope, dict(n=0), "n=0"),
        (NMSparsePolytope, dict(m="4"), "m='4'"),
        (NMSparsePolytope, dict(mode="radius", value=-1.0), "value=-1.0"),
        (NMSparsePolytope, dict(axis="last"), "axis='last'"),
    ],
)
def test_invalid_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize(
    "constraint, shape, radius, diameter",
    [
        (GroupKSparsePolytope(k=None, k_frac=0.5, mode="radius", value=2.0), (3, 3, 2, 8), 2.0, 2 * 2.0 * 2.0),
        (GroupKSparsePolytope(k=3, k_frac=None, mode="diameter", value=6.0), (5, 10), 6.0 / (2 * math.sqrt(3)), 6.0),
        (GroupKSupportNormBall(k=2, mode="radius", value=1.5), (4, 6), 1.5, 3.0),
        (GroupKSupportNormBall(k=2, mode="diameter", value=5.0), (4, 6), 2.5, 5.0),
        (NMSparsePolytope(2, 4, mode="radius", value=0.5), (8, 3), 0.5, 2 * 0.5 * math.sqrt(12)),
        # C_in = 6: blocks of 4 and 2 -> 2 + 2 non-zeros per output, 3 outputs.
        (NMSparsePolytope(2, 4, mode="diameter", value=3.0), (6, 3), 3.0 / (2 * math.sqrt(12)), 3.0),
        (NMSparsePolytope(3, 4, mode="radius", value=1.0), (2, 2, 5, 2), 1.0, 2 * math.sqrt(2 * 2 * 2 * (3 + 1))),
    ],
)
def test_sizes_from_shape(constraint, shape, radius, diameter):
    assert constraint.radius(tf.TensorShape(shape)) == pytest.approx(radius)
    assert constraint.l2_diameter(tf.TensorShape(shape)) == pytest.approx(diameter)
    # The LMO's vertex norm: sqrt(K) r for the polytopes, r for the K-support ball.
    g = tf.constant(RNG.normal(size=shape).astype(np.float32))
    v = constraint.lmo(g).numpy()
    expected = radius if isinstance(constraint, GroupKSupportNormBall) else diameter / 2
    assert np.linalg.norm(v) == pytest.approx(expected, rel=1e-5)


def test_shape_dependent_sizes_need_the_shape():
    with pytest.raises(ValueError, match="shape"):
        GroupKSparsePolytope(mode="radius", value=1.0).l2_diameter(100)
    with pytest.raises(ValueError, match="shape"):
        NMSparsePolytope(mode="diameter", value=1.0).radius(100)
    # Where the shape does not matter an int is enough.
    assert GroupKSparsePolytope(mode="diameter", value=3.0).l2_diameter(100) == 3.0
    assert NMSparsePolytope(mode="radius", value=0.5).radius(100) == 0.5
    assert GroupKSupportNormBall(mode="radius", value=0.5).l2_diameter(100) == 1.0


@pytest.mark.parametrize("cls", CLASSES)
def test_resolve_keeps_the_initialization_size(cls):
    constraint = cls(mode="initialization", value=15.0)
    shape = tf.TensorShape((3, 3, 8, 16))
    resolved = constraint.resolve(shape.num_elements(), 2.0)
    assert resolved.mode in ("radius", "diameter")
    assert resolved.l2_diameter(shape) == pytest.approx(2 * 15.0 * 2.0)
    assert constraint.resolve(10, 0.0).l2_diameter(shape) == pytest.approx(2 * 15.0)  # zero norm -> 1.0
    with pytest.raises(ValueError, match="constraints_for_model"):
        constraint.radius(shape)


@pytest.mark.parametrize(
    "constraint, shape",
    [
        (GroupKSparsePolytope(k=2, k_frac=None, mode="radius", value=0.7), (3, 3, 4, 6)),
        (GroupKSparsePolytope(k=1, k_frac=None, mode="radius", value=0.7, axis=0), (5, 4)),
        (GroupKSupportNormBall(k=2, k_frac=None, mode="radius", value=0.9), (6, 5)),
        (GroupKSupportNormBall(k=3, k_frac=None, mode="radius", value=0.9), (7,)),
        (NMSparsePolytope(2, 4, mode="radius", value=0.3), (2, 2, 6, 3)),
        (NMSparsePolytope(1, 4, mode="radius", value=0.3), (9,)),
    ],
)
def test_lmo_and_shift_inside_are_feasible(constraint, shape):
    r = constraint.radius(tf.TensorShape(shape))
    for scale in (0.01, 1.0, 10.0):
        x = (RNG.normal(size=shape) * scale).astype(np.float32)
        inside = constraint.shift_inside(tf.constant(x)).numpy()
        assert np_size(constraint, inside) <= r * (1 + 1e-5)
        if np_size(constraint, x) <= r:
            np.testing.assert_array_equal(inside, x)  # identity on feasible points
        else:
            assert np_size(constraint, inside) == pytest.approx(r, rel=1e-5)  # radial, onto the boundary
            ratio = inside[x != 0] / x[x != 0]
            np.testing.assert_allclose(ratio, ratio[0], rtol=1e-5)
        v = constraint.lmo(tf.constant(x)).numpy()
        assert np_size(constraint, v) <= r * (1 + 1e-5)
        # Optimal against random feasible points.
        for _ in range(30):
            y = constraint.shift_inside(tf.constant(RNG.normal(size=shape).astype(np.float32) * 10)).numpy()
            assert np.vdot(x, v) <= np.vdot(x, y) + 1e-4


@pytest.mark.parametrize(
    "constraint",
    [
        GroupKSparsePolytope(k=3, k_frac=0.1, mode="radius", value=2.0, axis=0),
        GroupKSupportNormBall(mode="initialization", value=10.0),
        NMSparsePolytope(1, 8, mode="diameter", value=4.0, axis=-1),
    ],
)
def test_config_round_trip(constraint):
    assert type(constraint).from_config(constraint.get_config()) == constraint
    config = C.serialize(constraint)
    assert config["registered_name"] == f"tf_sfw>{type(constraint).__name__}"
    restored = C.deserialize(config)
    assert restored == constraint and restored is not constraint
    assert restored != type(constraint)(**{**constraint.get_config(), "value": 99.0})


def small_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6, 6, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dense(12, activation="relu", name="fc")(x)
    outputs = keras.layers.Dense(3, name="out")(x)
    return keras.Model(inputs, outputs)


@pytest.mark.parametrize(
    "default",
    [
        GroupKSparsePolytope(k=1, k_frac=0.25),
        GroupKSupportNormBall(k=1, k_frac=0.25),
        NMSparsePolytope(2, 4),
    ],
    ids=["group_k_sparse", "group_k_support", "nm"],
)
def test_sfw_stays_feasible_for_100_steps_and_round_trips(default):
    model = small_model()
    constraints = tf_sfw.constraints_for_model(model, default)
    for key, constraint in constraints.constraints.items():
        assert type(constraint) is type(default) and constraint.mode != "initialization", key
    optimizer = tf_sfw.SFW(learning_rate=0.5, momentum=0.9, constraints=constraints)
    x = tf.constant(RNG.normal(size=(32, 6, 6, 3)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 3, size=32))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            loss = loss_fn(y, model(x, training=True))
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
        return loss

    first = float(step())
    for i in range(99):
        loss = float(step())
        if i % 33 == 0 or i == 98:
            for variable in model.trainable_variables:
                constraint = constraints.for_variable(variable)
                r = constraint.radius(variable.shape)
                assert np_size(constraint, variable.numpy()) <= r * (1 + 1e-4), variable.name
    assert loss < first
    # The optimizer (with its structured constraints) survives get_config / from_config.
    config = optimizer.get_config()
    restored = tf_sfw.SFW.from_config(config)
    assert restored.constraints.constraints == constraints.constraints


def test_full_sfw_step_lands_on_a_group_vertex():
    """With lr 1 and no rescale an SFW step is theta <- v: a vertex with exactly K = 2 of the 8
    conv filters non-zero, each of norm r."""
    model = small_model(1)
    constraints = tf_sfw.constraints_for_model(model, GroupKSparsePolytope(k=2, k_frac=None))
    optimizer = tf_sfw.SFW(learning_rate=1.0, momentum=0.0, rescale=None, constraints=constraints)
    x = tf.constant(RNG.normal(size=(16, 6, 6, 3)).astype(np.float32))
    y = tf.constant(RNG.integers(0, 3, size=16))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))
    kernel = model.get_layer("conv").kernel
    norms = np_group_norms(kernel.numpy())
    assert np.count_nonzero(norms > 1e-6) == 2
    r = constraints.for_variable(kernel).radius(kernel.shape)
    np.testing.assert_allclose(np.sort(norms)[-2:], [r, r], rtol=1e-5)
