"""Tests of tf_sfw.constraints: K rules, sizes, expected init norms, model maps, feasibility."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import constraints as C
from tf_sfw._keras import keras

RNG = np.random.default_rng(1)


@pytest.mark.parametrize(
    "k, k_frac, n, expected",
    [
        (10, 0.05, 1000, 50),  # both: max(10, 50)
        (10, 0.05, 100, 10),  # both: max(10, 5)
        (10, 0.05, 4, 4),  # both, clipped to n
        (10, None, 1000, 10),
        (10, None, 3, 3),
        (None, 0.05, 1000, 50),
        (None, 0.05, 10, 1),  # floor(0.5) = 0, clamped to 1
        (None, 1.0, 7, 7),
    ],
)
def test_k_for(k, k_frac, n, expected):
    assert C.KSparsePolytope(k=k, k_frac=k_frac, mode="radius", value=1.0).k_for(n) == expected
    assert C.KSupportNormBall(k=k, k_frac=k_frac, mode="radius", value=1.0).k_for(n) == expected


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(k=0), "k=0"),
        (dict(k=-3), "k=-3"),
        (dict(k=2.5), "k=2.5"),
        (dict(k_frac=0), "k_frac=0"),
        (dict(k_frac=1.5), "k_frac=1.5"),
        (dict(k_frac=-0.1), "k_frac=-0.1"),
        (dict(k=None, k_frac=None), "k=None, k_frac=None"),
        (dict(mode="radius", value=0), "value=0"),
        (dict(mode="diameter", value=-1.0), "value=-1.0"),
        (dict(mode="initialization", value=0.0), "tau"),
        (dict(mode="initialization", value=float("nan")), "value=nan"),
        (dict(mode="volume"), "mode='volume'"),
    ],
)
@pytest.mark.parametrize("cls", [C.KSparsePolytope, C.KSupportNormBall])
def test_invalid_top_k_set_arguments(cls, kwargs, message):
    with pytest.raises(ValueError, match=message):
        cls(**kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [(dict(p=0.5), "p=0.5"), (dict(p="two"), "p='two'"), (dict(value=0), "value=0"), (dict(mode="x"), "mode='x'")],
)
def test_invalid_lp_ball_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        C.LpBall(**kwargs)


def test_k_sparse_sizes():
    n = 400  # K = 20
    c = C.KSparsePolytope(k=None, k_frac=0.05, mode="radius", value=3.0)
    assert c.radius(n) == 3.0
    assert c.l2_diameter(n) == pytest.approx(2 * 3.0 * math.sqrt(20))
    d = C.KSparsePolytope(k=None, k_frac=0.05, mode="diameter", value=10.0)
    assert d.radius(n) == pytest.approx(10.0 / (2 * math.sqrt(20)))
    assert d.l2_diameter(n) == pytest.approx(10.0)
    with pytest.raises(ValueError, match="constraints_for_model"):
        C.KSparsePolytope(mode="initialization").radius(n)


def test_lp_ball_sizes_follow_the_reference_conversion():
    n = 100
    assert C.LpBall(p=math.inf, mode="radius", value=1.0).l2_diameter(n) == pytest.approx(20.0)
    assert C.LpBall(p=2, mode="diameter", value=6.0).radius(n) == pytest.approx(3.0)
    assert C.LpBall(p=1, mode="diameter", value=6.0).radius(n) == pytest.approx(3.0)
    assert C.LpBall(p="inf", mode="diameter", value=20.0).radius(n) == pytest.approx(1.0)


@pytest.mark.parametrize(
    "initializer, shape",
    [
        ("glorot_uniform", (30, 20)),
        ("glorot_normal", (3, 3, 8, 16)),
        ("he_normal", (3, 3, 4, 8)),
        ("he_uniform", (50, 10)),
        ("lecun_normal", (40, 40)),
        ("lecun_uniform", (25, 7)),
        (keras.initializers.RandomNormal(0.1, 0.3), (20, 30)),
        (keras.initializers.RandomUniform(-0.2, 0.5), (20, 30)),
        (keras.initializers.TruncatedNormal(0.0, 0.2), (20, 30)),
        (keras.initializers.VarianceScaling(2.0, "fan_out", "truncated_normal"), (3, 3, 4, 6)),
        (keras.initializers.Orthogonal(gain=1.5), (12, 30)),
        ("ones", (17,)),
        (keras.initializers.Constant(0.3), (10, 4)),
    ],
)
def test_expected_init_norm_matches_sampling(initializer, shape):
    init = keras.initializers.get(initializer)
    config = init.get_config()
    seeded = [type(init).from_config({**config, "seed": i}) for i in range(200)] if "seed" in config else [init] * 200
    samples = [np.linalg.norm(s(shape).numpy()) for s in seeded]
    expected = C.expected_init_norm(initializer, shape)
    assert expected == pytest.approx(np.mean(samples), rel=0.02)


def test_expected_init_norm_of_zeros_is_zero_and_resolves_to_one():
    assert C.expected_init_norm("zeros", (32,)) == 0.0
    c = C.KSparsePolytope(k=4, k_frac=None, mode="initialization", value=15.0).resolve(32, 0.0)
    assert c.mode == "radius" and c.value == pytest.approx(15.0 * 1.0 / 2.0)


def test_unknown_initializer_is_sampled_with_a_warning():
    def custom(shape, dtype=None):
        return tf.ones(shape) * 2.0

    with pytest.warns(UserWarning, match="samples"):
        assert C.expected_init_norm(custom, (4, 4), num_samples=3) == pytest.approx(8.0)


def two_layer_model():
    inputs = keras.Input((8,))
    h = keras.layers.Dense(8, kernel_initializer="he_normal", name="a")(inputs)
    h = keras.layers.Dense(8, kernel_initializer=keras.initializers.RandomNormal(stddev=1.0), name="b")(h)
    h = keras.layers.BatchNormalization(name="bn")(h)
    outputs = keras.layers.Dense(3, name="out")(h)
    return keras.Model(inputs, outputs)


def test_constraints_for_model_uses_each_layers_own_initializer():
    model = two_layer_model()
    tau = 15.0
    cons = C.constraints_for_model(model, C.KSparsePolytope(k=10, k_frac=0.05, value=tau))
    # Equal shapes (8, 8), different initializers: different radii (the reference keyed by shape).
    ra, rb = cons.constraints["a/kernel:0"].value, cons.constraints["b/kernel:0"].value
    k = 10
    assert ra == pytest.approx(tau * math.sqrt(64 * 2.0 / 8) / math.sqrt(k))
    assert rb == pytest.approx(tau * math.sqrt(64 * 1.0) / math.sqrt(k))
    # Zero-initialised bias and BN beta: expected norm 0 -> 1.0; BN gamma (ones): sqrt(8).
    assert cons.constraints["a/bias:0"].value == pytest.approx(tau / math.sqrt(8))
    assert cons.constraints["bn/gamma:0"].value == pytest.approx(tau * math.sqrt(8) / math.sqrt(8))
    assert set(cons.constraints) == {v.name for v in model.trainable_variables}


def test_overrides_by_pattern_first_match_wins():
    model = two_layer_model()
    cons = C.constraints_for_model(
        model,
        C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0),
        overrides={r"^bn/": C.Unconstrained(), r"/bias": C.LpBall(p=2, mode="radius", value=0.5), r"^a/": C.Unconstrained()},
    )
    assert isinstance(cons.constraints["bn/gamma:0"], C.Unconstrained)
    assert isinstance(cons.constraints["bn/beta:0"], C.Unconstrained)
    assert isinstance(cons.constraints["a/bias:0"], C.LpBall)
    assert isinstance(cons.constraints["a/kernel:0"], C.Unconstrained)
    assert isinstance(cons.constraints["b/kernel:0"], C.KSparsePolytope)


def test_overrides_by_layer_class():
    model = two_layer_model()
    cons = C.constraints_for_model(
        model,
        C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0),
        overrides={keras.layers.BatchNormalization: C.Unconstrained(), "^out/": C.LpBall(2, "radius", 1.0)},
    )
    kinds = {name: type(c).__name__ for name, c in cons.items()}
    assert kinds == {
        "a/kernel:0": "KSparsePolytope", "a/bias:0": "KSparsePolytope",
        "b/kernel:0": "KSparsePolytope", "b/bias:0": "KSparsePolytope",
        "bn/gamma:0": "Unconstrained", "bn/beta:0": "Unconstrained",
        "out/kernel:0": "LpBall", "out/bias:0": "LpBall",
    }
    with pytest.raises(ValueError, match="regex strings or layer classes"):
        C.constraints_for_model(model, C.Unconstrained(), overrides={3: C.Unconstrained()})


def test_constraints_for_pruning_wrapped_model_use_inner_initializers():
    import tensorflow_model_optimization as tfmot

    def wrap_dense(layer):
        copy = layer.__class__.from_config(layer.get_config())
        if isinstance(layer, keras.layers.Dense):
            return tfmot.sparsity.keras.prune_low_magnitude(copy)
        return copy

    model = two_layer_model()
    wrapped = keras.models.clone_model(model, clone_function=wrap_dense)
    default = C.KSparsePolytope(k=10, k_frac=0.05, value=15.0)
    plain = C.constraints_for_model(model, default)
    pruned = C.constraints_for_model(wrapped, default, overrides={keras.layers.BatchNormalization: C.Unconstrained()})
    kernel = [name for name in pruned.constraints if name.endswith("a/kernel:0")]
    assert len(kernel) == 1 and kernel[0] != "a/kernel:0"  # the wrapper renames the variable
    assert pruned.constraints[kernel[0]] == plain.constraints["a/kernel:0"]
    assert isinstance(pruned.constraints["bn/gamma:0"], C.Unconstrained)


def test_constraints_for_model_errors():
    model = two_layer_model()
    with pytest.raises(ValueError, match="`default` must be a Constraint"):
        C.constraints_for_model(model, "ksparse")
    with pytest.raises(ValueError, match="not a valid regular expression"):
        C.constraints_for_model(model, C.Unconstrained(), overrides={"(": C.Unconstrained()})
    unbuilt = keras.Sequential([keras.layers.Dense(2)])
    with pytest.raises(ValueError, match="must be built"):
        C.constraints_for_model(unbuilt, C.Unconstrained())
    cons = C.constraints_for_model(model, C.Unconstrained())
    with pytest.raises(ValueError, match="No constraint for variable"):
        cons.for_variable(tf.Variable(1.0, name="stranger"))


def feasible(constraint, x, tol=1e-5):
    n = x.size
    r = constraint.radius(n)
    if isinstance(constraint, C.KSparsePolytope):
        k = constraint.k_for(n)
        return np.max(np.abs(x)) <= r * (1 + tol) and np.sum(np.abs(x)) <= r * k * (1 + tol)
    if isinstance(constraint, C.LpBall):
        return np.linalg.norm(x.ravel(), ord=constraint.p) <= r * (1 + tol)
    raise AssertionError(constraint)


@pytest.mark.parametrize(
    "constraint",
    [
        C.KSparsePolytope(k=3, k_frac=None, mode="radius", value=0.2),
        C.LpBall(p=1, mode="radius", value=0.5),
        C.LpBall(p=2, mode="radius", value=0.5),
        C.LpBall(p=math.inf, mode="radius", value=0.1),
        C.LpBall(p=3, mode="radius", value=0.5),
    ],
)
def test_shift_inside_keeps_feasible_points_and_fixes_infeasible_ones(constraint):
    big = RNG.normal(size=(6, 5)) * 10
    shifted = constraint.shift_inside(tf.constant(big)).numpy()
    assert feasible(constraint, shifted)
    small = shifted * 0.5
    np.testing.assert_array_equal(constraint.shift_inside(tf.constant(small)).numpy(), small)


def test_k_support_shift_inside_is_feasible():
    c = C.KSupportNormBall(k=3, k_frac=None, mode="radius", value=1.0)
    x = RNG.normal(size=(20,)) * 5
    shifted = c.shift_inside(tf.constant(x)).numpy()
    # Sufficient condition for the K-support ball: ||x||_2 <= r/2 and ||x||_1 <= r sqrt(K)/2
    # or ||x||_1 <= r; the rescale guarantees one of them.
    ok_l1 = np.sum(np.abs(shifted)) <= 1.0 + 1e-9
    ok_pair = np.linalg.norm(shifted) <= 0.5 + 1e-9 and np.sum(np.abs(shifted)) <= 0.5 * math.sqrt(3) + 1e-9
    assert ok_l1 or ok_pair


def test_make_feasible_in_place():
    model = two_layer_model()
    for v in model.trainable_variables:
        v.assign(tf.ones_like(v) * 100.0)
    cons = C.constraints_for_model(model, C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=0.1))
    C.make_feasible(model, cons)
    for v in model.trainable_variables:
        assert feasible(cons.for_variable(v), v.numpy())


@pytest.mark.parametrize(
    "obj",
    [
        C.KSparsePolytope(),
        C.KSparsePolytope(k=None, k_frac=0.1, mode="diameter", value=3.0),
        C.KSupportNormBall(k=5, k_frac=None, mode="radius", value=2.0),
        C.LpBall(p=math.inf, mode="radius", value=2.0),
        C.LpBall(p=1.5, mode="initialization", value=10.0),
        C.Unconstrained(),
    ],
)
def test_config_round_trip(obj):
    config = obj.get_config()
    clone = type(obj).from_config(config)
    assert clone == obj and clone.get_config() == config
    assert C.deserialize(C.serialize(obj)) == obj


def test_variable_constraints_round_trip_and_validation():
    cons = C.constraints_for_model(two_layer_model(), C.KSparsePolytope(), overrides={"bn": C.Unconstrained()})
    clone = C.VariableConstraints.from_config(cons.get_config())
    assert clone == cons
    assert C.deserialize(C.serialize(cons)) == cons
    with pytest.raises(ValueError, match="non-empty dict"):
        C.VariableConstraints({})
    with pytest.raises(ValueError, match="must be resolved"):
        C.VariableConstraints({"a:0": C.KSparsePolytope()})
