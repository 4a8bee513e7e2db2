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
    ra, rb = cons.constraints["a/kernel"].value, cons.constraints["b/kernel"].value
    k = 10
    assert ra == pytest.approx(tau * math.sqrt(64 * 2.0 / 8) / math.sqrt(k))
    assert rb == pytest.approx(tau * math.sqrt(64 * 1.0) / math.sqrt(k))
    # Zero-initialised bias and BN beta: expected norm 0 -> 1.0; BN gamma (ones): sqrt(8).
    assert cons.constraints["a/bias"].value == pytest.approx(tau / math.sqrt(8))
    assert cons.constraints["bn/gamma"].value == pytest.approx(tau * math.sqrt(8) / math.sqrt(8))
    assert list(cons.constraints) == [v.name.split(":")[0] for v in model.trainable_variables]


def test_overrides_by_pattern_first_match_wins():
    model = two_layer_model()
    cons = C.constraints_for_model(
        model,
        C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0),
        overrides={r"^bn/": C.Unconstrained(), r"/bias": C.LpBall(p=2, mode="radius", value=0.5), r"^a/": C.Unconstrained()},
    )
    assert isinstance(cons.constraints["bn/gamma"], C.Unconstrained)
    assert isinstance(cons.constraints["bn/beta"], C.Unconstrained)
    assert isinstance(cons.constraints["a/bias"], C.LpBall)
    assert isinstance(cons.constraints["a/kernel"], C.Unconstrained)
    assert isinstance(cons.constraints["b/kernel"], C.KSparsePolytope)


def test_overrides_by_layer_class():
    model = two_layer_model()
    cons = C.constraints_for_model(
        model,
        C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0),
        overrides={keras.layers.BatchNormalization: C.Unconstrained(), "^out/": C.LpBall(2, "radius", 1.0)},
    )
    kinds = {name: type(c).__name__ for name, c in cons.items()}
    assert kinds == {
        "a/kernel": "KSparsePolytope", "a/bias": "KSparsePolytope",
        "b/kernel": "KSparsePolytope", "b/bias": "KSparsePolytope",
        "bn/gamma": "Unconstrained", "bn/beta": "Unconstrained",
        "out/kernel": "LpBall", "out/bias": "LpBall",
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
    kernel = [name for name in pruned.constraints if name.endswith("a/kernel")]
    assert kernel == ["prune_low_magnitude_a/a/kernel"]  # path: wrapper, then the inner layer
    assert pruned.constraints[kernel[0]] == plain.constraints["a/kernel"]
    assert isinstance(pruned.constraints["bn/gamma"], C.Unconstrained)


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


# --------------------------------------------------------------------------------------
# Models a user brings: layer types, nested models, equal variable names, reloaded wrappers.

TAU = 3.0


def l2_ball_radii(model, **kwargs):
    """{path: radius} for LpBall(p=2, mode="initialization", value=TAU): radius = TAU * E||θ||."""
    cons = C.constraints_for_model(model, C.LpBall(p=2, mode="initialization", value=TAU), **kwargs)
    return {path: c.radius(1) for path, c in cons.items()}


def _normal(stddev):
    return keras.initializers.RandomNormal(stddev=stddev, seed=1)


def _rms_norm_normal(shape, stddev):
    return stddev * math.sqrt(np.prod(shape))


def _norm_orthogonal(rows, cols, gain):
    return gain * math.sqrt(min(rows, cols))


LAYER_CASES = [
    (
        "depthwise",
        (6, 6, 3),
        lambda: keras.layers.DepthwiseConv2D(3, depth_multiplier=2, depthwise_initializer=_normal(0.3), name="dw"),
        {"dw/depthwise_kernel": _rms_norm_normal((3, 3, 3, 2), 0.3), "dw/bias": 1.0},
    ),
    (
        "separable",
        (6, 6, 3),
        lambda: keras.layers.SeparableConv2D(
            4, 3, depthwise_initializer=_normal(0.2), pointwise_initializer=_normal(0.7), name="sep"
        ),
        {"sep/depthwise_kernel": _rms_norm_normal((3, 3, 3, 1), 0.2), "sep/pointwise_kernel": _rms_norm_normal((1, 1, 3, 4), 0.7), "sep/bias": 1.0},
    ),
    (
        "lstm",
        (5, 3),
        lambda: keras.layers.LSTM(
            4, kernel_initializer=_normal(0.5), recurrent_initializer=keras.initializers.Orthogonal(gain=2.0), name="lstm"
        ),
        # Orthogonal (4, 16) scaled by gain 2: Frobenius norm 2 sqrt(4); the bias holds
        # unit_forget_bias ones: sqrt(4).
        {"lstm/lstm_cell/kernel": _rms_norm_normal((3, 16), 0.5), "lstm/lstm_cell/recurrent_kernel": _norm_orthogonal(4, 16, 2.0), "lstm/lstm_cell/bias": 2.0},
    ),
    (
        "gru",
        (5, 3),
        lambda: keras.layers.GRU(4, recurrent_initializer=keras.initializers.Orthogonal(gain=0.5), kernel_initializer=_normal(1.0), name="gru"),
        {"gru/gru_cell/kernel": _rms_norm_normal((3, 12), 1.0), "gru/gru_cell/recurrent_kernel": _norm_orthogonal(4, 12, 0.5), "gru/gru_cell/bias": 1.0},
    ),
    (
        "simple_rnn",
        (5, 3),
        lambda: keras.layers.SimpleRNN(6, kernel_initializer=_normal(0.1), name="rnn"),
        {"rnn/simple_rnn_cell/kernel": _rms_norm_normal((3, 6), 0.1), "rnn/simple_rnn_cell/recurrent_kernel": _norm_orthogonal(6, 6, 1.0), "rnn/simple_rnn_cell/bias": 1.0},
    ),
    (
        "conv_transpose",
        (4, 4, 3),
        lambda: keras.layers.Conv2DTranspose(5, 3, kernel_initializer=_normal(0.4), bias_initializer=keras.initializers.Constant(0.5), name="tconv"),
        {"tconv/kernel": _rms_norm_normal((3, 3, 5, 3), 0.4), "tconv/bias": 0.5 * math.sqrt(5)},
    ),
    (
        "embedding",
        (7,),
        lambda: keras.layers.Embedding(20, 4, embeddings_initializer=keras.initializers.RandomUniform(-0.3, 0.6), name="emb"),
        # uniform(a, b): E[x^2] = (a^2 + ab + b^2) / 3
        {"emb/embeddings": math.sqrt(80 * (0.09 - 0.18 + 0.36) / 3)},
    ),
    (
        "layer_norm",
        (5,),
        lambda: keras.layers.LayerNormalization(gamma_initializer=keras.initializers.Constant(2.0), name="ln"),
        {"ln/gamma": 2.0 * math.sqrt(5), "ln/beta": 1.0},
    ),
    (
        "batch_norm",
        (5,),
        lambda: keras.layers.BatchNormalization(beta_initializer=keras.initializers.Constant(-0.5), name="bn"),
        {"bn/gamma": math.sqrt(5), "bn/beta": 0.5 * math.sqrt(5)},
    ),
]


@pytest.mark.parametrize("case", LAYER_CASES, ids=[c[0] for c in LAYER_CASES])
def test_initialization_mode_finds_every_layer_types_initializer(case):
    _, input_shape, make_layer, expected_norms = case
    model = keras.Sequential([keras.Input(input_shape), make_layer()])
    radii = l2_ball_radii(model)
    assert set(radii) == set(expected_norms)
    for path, norm in expected_norms.items():
        assert radii[path] == pytest.approx(TAU * norm, rel=1e-6), path


@pytest.mark.parametrize("gain, shape", [(2.0, (4, 16)), (0.5, (9, 3)), (1.0, (3, 3, 2, 5))])
def test_orthogonal_expected_norm_is_exact(gain, shape):
    drawn = keras.initializers.Orthogonal(gain=gain, seed=3)(shape).numpy()
    rows, cols = int(np.prod(shape[:-1])), shape[-1]
    assert np.linalg.norm(drawn) == pytest.approx(gain * math.sqrt(min(rows, cols)), rel=1e-5)
    assert C.expected_init_norm(keras.initializers.Orthogonal(gain=gain), shape) == pytest.approx(np.linalg.norm(drawn), rel=1e-5)


def test_unknown_initializer_error_names_layer_and_variable():
    class Scale(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(name="w", shape=(input_shape[-1],))

        def call(self, x):
            return x * self.w

    model = keras.Sequential([keras.Input((3,)), Scale(name="scale")])
    with pytest.raises(ValueError, match=r"'scale/w'.*layer 'scale' \(Scale\).*w_initializer.*init_norms"):
        C.constraints_for_model(model, C.LpBall(p=2, mode="initialization", value=TAU))
    assert l2_ball_radii(model, init_norms={"scale/w": 2.0}) == {"scale/w": pytest.approx(2.0 * TAU)}


def _dense_block(name, stddev, units=4, inputs=4):
    x = keras.Input((inputs,))
    return keras.Model(x, keras.layers.Dense(units, kernel_initializer=_normal(stddev), name="fc")(x), name=name)


def test_nested_models_attribute_variables_to_innermost_layers():
    inner = keras.Sequential([keras.layers.Dense(3, kernel_initializer=_normal(0.2), name="fc")], name="inner")
    middle = keras.Sequential([inner, keras.layers.Dense(2, kernel_initializer=_normal(0.9), name="head")], name="middle")
    x = keras.Input((5,))
    model = keras.Model(x, keras.layers.Dense(2, kernel_initializer=_normal(1.5), name="out")(middle(x)))
    radii = l2_ball_radii(model)
    assert list(radii) == [
        "middle/inner/fc/kernel", "middle/inner/fc/bias", "middle/head/kernel", "middle/head/bias", "out/kernel", "out/bias",
    ]
    assert radii["middle/inner/fc/kernel"] == pytest.approx(TAU * _rms_norm_normal((5, 3), 0.2))
    assert radii["middle/head/kernel"] == pytest.approx(TAU * _rms_norm_normal((3, 2), 0.9))
    assert radii["out/kernel"] == pytest.approx(TAU * _rms_norm_normal((2, 2), 1.5))


def two_blocks_model():
    a, b = _dense_block("a", 0.1), _dense_block("b", 2.0)
    x = keras.Input((4,))
    return keras.Model(x, b(a(x)))


def test_equal_variable_names_get_their_own_constraints():
    model = two_blocks_model()
    assert [v.name for v in model.trainable_variables] == ["fc/kernel:0", "fc/bias:0"] * 2  # the names collide
    cons = C.constraints_for_model(model, C.LpBall(p=2, mode="initialization", value=TAU))
    assert list(cons.constraints) == ["a/fc/kernel", "a/fc/bias", "b/fc/kernel", "b/fc/bias"]
    ra, rb = cons.constraints["a/fc/kernel"].radius(16), cons.constraints["b/fc/kernel"].radius(16)
    assert ra == pytest.approx(TAU * 0.1 * 4) and rb == pytest.approx(TAU * 2.0 * 4)
    # By identity for the model's own variables, also one by one.
    assert cons.for_variables(model.trainable_variables) == [cons.constraints[k] for k in cons.constraints]
    assert cons.for_variable(model.trainable_variables[2]) is cons.constraints["b/fc/kernel"]
    # Overrides by regex may use the path.
    unconstrained_a = C.constraints_for_model(model, C.LpBall(2, "radius", 1.0), overrides={"^a/": C.Unconstrained()})
    assert [c.is_constrained for c in unconstrained_a.constraints.values()] == [False, False, True, True]


def test_equal_names_after_deserialization_match_in_order_or_refuse():
    model = two_blocks_model()
    cons = C.constraints_for_model(model, C.LpBall(p=2, mode="initialization", value=TAU))
    clone = C.VariableConstraints.from_config(cons.get_config())
    assert clone == cons
    # No identity any more: the whole list matches in order (short names and shapes).
    assert clone.for_variables(model.trainable_variables) == list(cons.constraints.values())
    # A single ambiguous name, or a list in another order, is refused, never merged.
    with pytest.raises(ValueError, match=r"'fc/kernel:0' matches 2 constraints"):
        clone.for_variable(model.trainable_variables[0])
    with pytest.raises(ValueError, match="matches 2 constraints"):
        clone.for_variables(model.trainable_variables[::-1])


def test_sfw_gives_each_equally_named_variable_its_own_set():
    import tf_sfw

    model = two_blocks_model()
    cons = C.constraints_for_model(model, C.KSparsePolytope(k=2, k_frac=None, mode="initialization", value=TAU))
    opt = tf_sfw.SFW(learning_rate=1.0, constraints=cons)
    opt.build(model.trainable_variables)
    radii = [c.radius(v.shape.num_elements()) for c, v in zip(opt._variable_constraints, model.trainable_variables)]
    assert radii == [c.radius(1) for c in cons.constraints.values()]
    assert radii[0] != radii[2]


def test_constraints_for_model_rejects_non_models():
    with pytest.raises(ValueError, match=r"`model` must be a tf_keras Model.*model='foo'"):
        C.constraints_for_model("foo", C.Unconstrained())
    with pytest.raises(ValueError, match="`model` must be a tf_keras Model.*Dense"):
        C.constraints_for_model(keras.layers.Dense(2), C.Unconstrained())


def _tfmot_model(seed=0):
    import tensorflow_model_optimization as tfmot

    keras.utils.set_random_seed(seed)
    plain = keras.Sequential(
        [
            keras.Input((6,)),
            keras.layers.Dense(8, kernel_initializer=_normal(0.3), name="d1"),
            keras.layers.Dense(3, kernel_initializer=_normal(1.2), name="d2"),
        ]
    )
    schedule = tfmot.sparsity.keras.ConstantSparsity(0.5, begin_step=0, frequency=1)
    return plain, tfmot.sparsity.keras.prune_low_magnitude(plain, pruning_schedule=schedule)


def test_tfmot_wrapped_model_reloaded_from_keras_continues_sfw_training(tmp_path):
    import tensorflow_model_optimization as tfmot

    import tf_sfw

    plain, wrapped = _tfmot_model()
    default = C.KSparsePolytope(k=3, k_frac=None, mode="initialization", value=TAU)
    expected = [c.radius(1) for c in C.constraints_for_model(plain, default).constraints.values()]
    x = RNG.normal(size=(32, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(np.int32)
    wrapped.compile(tf_sfw.SFW(learning_rate=1.0, constraints=C.constraints_for_model(wrapped, default)), "sparse_categorical_crossentropy")
    callbacks = [tfmot.sparsity.keras.UpdatePruningStep()]
    wrapped.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    path = str(tmp_path / "wrapped.keras")
    wrapped.save(path)
    with tfmot.sparsity.keras.prune_scope():
        reloaded = keras.models.load_model(path)
    assert [v.name for v in reloaded.trainable_variables] == ["kernel:0", "bias:0"] * 2  # names lost their scopes

    # 1. Constraints built on the reloaded model: one per variable, each with its own radius.
    cons = C.constraints_for_model(reloaded, default)
    assert len(cons.constraints) == 4
    assert [c.radius(1) for c in cons.constraints.values()] == pytest.approx(expected)
    # 2. The reloaded SFW optimizer (constraints from its config) continues training.
    assert isinstance(reloaded.optimizer, tf_sfw.SFW)
    reloaded.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    for variable, constraint in zip(reloaded.trainable_variables, cons.for_variables(reloaded.trainable_variables)):
        value = variable.numpy()
        assert np.all(np.isfinite(value))
        assert np.max(np.abs(value)) <= constraint.radius(value.size) * (1 + 1e-5)
    # 3. A fresh SFW with the rebuilt constraints also trains it.
    reloaded.compile(tf_sfw.SFW(learning_rate=1.0, constraints=cons), "sparse_categorical_crossentropy")
    history = reloaded.fit(x, y, batch_size=16, epochs=1, verbose=0, callbacks=callbacks)
    assert np.isfinite(history.history["loss"][-1])
