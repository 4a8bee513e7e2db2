"""Tests of tf_sfw.SFW: numpy parity, feasibility, config, save/reload/continue, jit, distribution."""

import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tf_sfw
from tf_sfw import constraints as C
from tf_sfw._keras import keras

RNG = np.random.default_rng(2)


# ----------------------------------------------------------------------------------------
# numpy reference of SPEC §2


def np_k_sparse_lmo(g, k, r):
    flat = g.ravel()
    t = np.sort(np.abs(flat))[::-1][k - 1]
    above, tied = np.abs(flat) > t, np.abs(flat) == t
    w = np.where(above, 1.0, np.where(tied, (k - above.sum()) / tied.sum(), 0.0))
    return (-r * np.sign(flat) * w).reshape(g.shape)


def np_lmo(constraint, g):
    n = g.size
    if isinstance(constraint, C.KSparsePolytope):
        return np_k_sparse_lmo(g, constraint.k_for(n), constraint.radius(n))
    if isinstance(constraint, C.LpBall) and constraint.p == 2:
        return -constraint.radius(n) * g / np.linalg.norm(g)
    raise NotImplementedError(constraint)


def np_shift_inside(constraint, x):
    n = x.size
    r = constraint.radius(n)
    if isinstance(constraint, C.KSparsePolytope):
        size = max(np.max(np.abs(x)), np.sum(np.abs(x)) / constraint.k_for(n))
    else:
        size = np.linalg.norm(x)
    return x * min(1.0, r / size)


def np_sfw(thetas, grads_per_step, constraints, lr, momentum, rescale, unconstrained_lr, sgd_steps=0):
    thetas = [t.astype(np.float64).copy() for t in thetas]
    ms = [np.zeros_like(t) for t in thetas]
    for step, grads in enumerate(grads_per_step):
        mu = 0.0 if step == 0 else momentum
        for i, (g, c) in enumerate(zip(grads, constraints)):
            ms[i] = mu * ms[i] + (1 - mu) * g
            if c.is_constrained and step == 0:
                thetas[i] = np_shift_inside(c, thetas[i])  # when the optimizer is built
            if not c.is_constrained or step < sgd_steps:  # SGD start: every variable as unconstrained
                thetas[i] = thetas[i] - unconstrained_lr * ms[i]
                continue
            v = np_lmo(c, ms[i])
            if rescale == "gradient":
                gap = np.linalg.norm(thetas[i] - v)
                factor = np.linalg.norm(ms[i]) / gap if gap > 0 else 0.0  # SPEC: guard ||θ − v|| = 0
            elif rescale == "diameter":
                factor = 1.0 / c.l2_diameter(thetas[i].size)
            else:
                factor = 1.0
            eta = min(max(lr * factor, 0.0), 1.0)
            thetas[i] = (1 - eta) * thetas[i] + eta * v
    return thetas


@pytest.mark.parametrize("sgd_steps", [0, 2])
@pytest.mark.parametrize("rescale", [None, "diameter", "gradient"])
@pytest.mark.parametrize("lr, unconstrained_lr", [(0.05, 0.01), (1.0, 0.3)])
def test_three_steps_match_numpy_reference(rescale, lr, unconstrained_lr, sgd_steps):
    shapes = [(5, 4), (7,), (3, 2, 2)]
    cons_list = [
        C.KSparsePolytope(k=3, k_frac=None, mode="radius", value=0.4),
        C.LpBall(p=2, mode="radius", value=1.5),
        C.Unconstrained(),
    ]
    init = [RNG.normal(size=s) for s in shapes]
    init[0] *= 5.0  # infeasible start: the first step must shift it inside
    variables = [tf.Variable(x, dtype=tf.float64, name=f"v{i}") for i, x in enumerate(init)]
    cons = C.VariableConstraints({v.name: c for v, c in zip(variables, cons_list)})
    opt = tf_sfw.SFW(
        learning_rate=lr, momentum=0.9, rescale=rescale, constraints=cons, unconstrained_learning_rate=unconstrained_lr,
        sgd_steps=sgd_steps,
    )
    grads = [[RNG.normal(size=s) for s in shapes] for _ in range(3)]
    for step_grads in grads:
        opt.apply_gradients(zip([tf.constant(g) for g in step_grads], variables))
    expected = np_sfw(init, grads, cons_list, lr, 0.9, rescale, unconstrained_lr, sgd_steps)
    for v, e in zip(variables, expected):
        # Keras keeps the learning rate in a float32 variable: parity to float32 precision.
        np.testing.assert_allclose(v.numpy(), e, rtol=1e-6, atol=1e-9)


def test_first_step_uses_the_gradient_as_momentum():
    var = tf.Variable([0.0, 0.0, 0.0], name="w")
    opt = tf_sfw.SFW(
        learning_rate=7.0, momentum=0.9, rescale=None, constraints=C.Unconstrained(), unconstrained_learning_rate=0.5
    )
    opt.apply_gradients([(tf.constant([1.0, 2.0, 3.0]), var)])
    np.testing.assert_allclose(var.numpy(), [-0.5, -1.0, -1.5])  # m_0 = g_0
    opt.apply_gradients([(tf.constant([1.0, 0.0, 0.0]), var)])
    m1 = 0.9 * np.array([1.0, 2.0, 3.0]) + 0.1 * np.array([1.0, 0.0, 0.0])
    np.testing.assert_allclose(var.numpy(), [-0.5, -1.0, -1.5] - 0.5 * m1, rtol=1e-6)


def test_sparse_gradients_equal_their_dense_form():
    constraint = C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0)
    dense = np.zeros((5, 3), np.float32)
    dense[[1, 3]] = [[0.5, -2.0, 1.0], [3.0, 0.25, -1.5]]
    sparse = tf.IndexedSlices(tf.constant(dense[[1, 3]]), tf.constant([1, 3]), tf.constant([5, 3]))
    results = []
    for grad in (sparse, tf.constant(dense)):
        var = tf.Variable(np.full((5, 3), 0.1, np.float32))
        opt = tf_sfw.SFW(learning_rate=0.5, momentum=0.9, rescale=None, constraints=constraint)
        opt.apply_gradients([(grad, var)])
        results.append(var.numpy())
    np.testing.assert_array_equal(results[0], results[1])


def _ksparse_var(value, name):
    return tf.Variable(np.asarray(value, np.float32), name=name)


def test_build_shifts_infeasible_variables_once_and_only_at_iteration_zero():
    constraint = C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0)
    var = _ksparse_var([4.0, -2.0, 0.5, 0.0], "w_far")
    opt = tf_sfw.SFW(learning_rate=0.1, momentum=0.9, rescale=None, constraints=constraint)
    opt.build([var])
    shifted = var.numpy()
    np.testing.assert_allclose(shifted, [1.0, -0.5, 0.125, 0.0], rtol=1e-6)  # x * r / ||x||_inf
    assert infeasibility(constraint, shifted.astype(np.float64)) <= 1e-6
    # A restored optimizer (iterations > 0) leaves the weights alone when it is built.
    restored = tf_sfw.SFW(learning_rate=0.1, momentum=0.9, rescale=None, constraints=constraint)
    restored.iterations.assign(7)
    var2 = _ksparse_var([4.0, -2.0, 0.5, 0.0], "w_restored")
    restored.build([var2])
    np.testing.assert_array_equal(var2.numpy(), [4.0, -2.0, 0.5, 0.0])


def test_build_leaves_rounding_level_infeasibility_alone():
    constraint = C.KSparsePolytope(k=2, k_frac=None, mode="radius", value=1.0)
    nearly = np.float32(1.0) + np.finfo(np.float32).eps  # one ulp above the radius
    var = _ksparse_var([nearly, -0.25, 0.0], "w_ulp")
    tf_sfw.SFW(constraints=constraint).build([var])
    np.testing.assert_array_equal(var.numpy(), np.array([nearly, -0.25, 0.0], np.float32))


def infeasibility(constraint, x):
    """How far x is outside its set, relative to the radius (<= 0 means feasible)."""
    n = x.size
    r = constraint.radius(n)
    if isinstance(constraint, C.KSparsePolytope):
        k = constraint.k_for(n)
        return max(np.max(np.abs(x)) / r, np.sum(np.abs(x)) / (r * k)) - 1.0
    if isinstance(constraint, C.LpBall):
        return np.linalg.norm(x.ravel(), ord=constraint.p) / r - 1.0
    if isinstance(constraint, C.KSupportNormBall):
        return k_support_norm(x.ravel(), constraint.k_for(n)) / r - 1.0
    raise NotImplementedError(constraint)


def k_support_norm(w, k):
    """Exact K-support norm (Argyriou et al. 2012, Prop. 2.1)."""
    s = np.sort(np.abs(w))[::-1]
    for r in range(k):
        head = s[: k - r - 1]
        tail = s[k - r - 1 :].sum()
        upper = s[k - r - 2] if k - r - 2 >= 0 else np.inf
        if upper > tail / (r + 1) >= s[k - r - 1] - 1e-12:
            return math.sqrt(np.sum(head**2) + tail**2 / (r + 1))
    raise AssertionError("no valid r")


@pytest.mark.parametrize(
    "constraint",
    [
        C.KSparsePolytope(k=None, k_frac=0.05, mode="radius", value=0.3),
        C.KSparsePolytope(k=10, k_frac=None, mode="diameter", value=2.0),
        C.KSupportNormBall(k=4, k_frac=None, mode="radius", value=1.0),
        C.LpBall(p=1, mode="radius", value=2.0),
        C.LpBall(p=2, mode="radius", value=1.0),
        C.LpBall(p=math.inf, mode="radius", value=0.05),
        C.LpBall(p=3.5, mode="radius", value=1.0),
    ],
)
@pytest.mark.parametrize("rescale", [None, "gradient"])
def test_iterates_stay_feasible_for_120_steps(constraint, rescale):
    var = tf.Variable(RNG.normal(size=(20, 12)).astype(np.float32) * 3.0, name="w")
    opt = tf_sfw.SFW(learning_rate=0.7, momentum=0.5, rescale=rescale, constraints=constraint)
    grads = tf.constant(RNG.normal(size=(120, 20, 12)).astype(np.float32))

    @tf.function
    def step(g):
        opt.apply_gradients([(g, var)])

    worst = -np.inf
    for i in range(120):
        step(grads[i])
        worst = max(worst, infeasibility(constraint, var.numpy().astype(np.float64)))
    assert worst <= 1e-5


def test_k_support_norm_reference_is_right_on_known_cases():
    assert k_support_norm(np.array([3.0, 4.0, 0.0]), 2) == pytest.approx(5.0)  # 2-sparse: L2
    assert k_support_norm(np.array([1.0, 1.0, 1.0, 1.0]), 1) == pytest.approx(4.0)  # k=1: L1
    assert k_support_norm(np.array([1.0, -2.0, 0.5]), 3) == pytest.approx(np.linalg.norm([1, 2, 0.5]))


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(momentum=1.0), "momentum=1.0"),
        (dict(momentum=-0.1), "momentum=-0.1"),
        (dict(rescale="norm"), "rescale='norm'"),
        (dict(selection="sort"), "selection='sort'"),
        (dict(learning_rate=-1.0), "learning_rate=-1.0"),
        (dict(unconstrained_learning_rate=-0.1), "unconstrained_learning_rate=-0.1"),
        (dict(unconstrained_learning_rate=float("nan")), "unconstrained_learning_rate=nan"),
        (dict(unconstrained_learning_rate="fast"), "unconstrained_learning_rate='fast'"),
        (dict(constraints=None), "constraints=None"),
        (dict(constraints=C.KSparsePolytope()), "mode='initialization'"),
        (dict(constraints="ksparse"), "constraints='ksparse'"),
        (dict(sgd_steps=-1), "sgd_steps=-1"),
        (dict(sgd_steps=1.5), "sgd_steps=1.5"),
    ],
)
def test_invalid_arguments(kwargs, message):
    args = dict(constraints=C.Unconstrained())
    args.update(kwargs)
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        tf_sfw.SFW(**args)


def small_model(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,))
    h = keras.layers.Dense(16, activation="relu", name="hidden")(inputs)
    h = keras.layers.BatchNormalization(name="bn")(h)
    outputs = keras.layers.Dense(3, activation="softmax", name="out")(h)
    return keras.Model(inputs, outputs)


def small_data(n=96):
    x = RNG.normal(size=(n, 6)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + (x[:, 2] > 1).astype(np.int32)
    return x, y


def sfw_for(model, lr=1.0, unconstrained_lr=0.01, sgd_steps=0):
    cons = tf_sfw.constraints_for_model(
        model, tf_sfw.KSparsePolytope(k=10, k_frac=0.05, value=15.0), overrides={"bn/": tf_sfw.Unconstrained()}
    )
    return tf_sfw.SFW(
        learning_rate=lr, momentum=0.9, rescale="gradient", constraints=cons, unconstrained_learning_rate=unconstrained_lr,
        sgd_steps=sgd_steps,
    )


def test_config_round_trip_exact():
    model = small_model()
    schedule = keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [1.0, 0.1, 0.01])
    for lr, unconstrained_lr in ((0.5, 0.03), (schedule, schedule)):
        opt = sfw_for(model, lr, unconstrained_lr)
        opt.sgd_steps = 7
        config = opt.get_config()
        assert config["sgd_steps"] == 7
        clone = tf_sfw.SFW.from_config(json.loads(json.dumps(config)))
        assert clone.get_config() == config
        assert clone.constraints == opt.constraints
        assert type(clone.unconstrained_learning_rate) is type(unconstrained_lr)
    restored = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(restored, tf_sfw.SFW) and restored.get_config() == opt.get_config()


def test_fit_learns_and_jit_compile_matches():
    x, y = small_data(256)
    weights = {}
    for jit in (False, True):
        model = small_model(seed=3)
        model.compile(sfw_for(model, 0.5), "sparse_categorical_crossentropy", ["accuracy"], jit_compile=jit)
        history = model.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0)
        assert history.history["loss"][-1] < history.history["loss"][0]
        weights[jit] = model.get_weights()
    for a, b in zip(weights[False], weights[True]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("sgd_steps", [0, 5])
def test_update_step_compiles_with_xla(sgd_steps):
    var = tf.Variable(RNG.normal(size=(64, 32)).astype(np.float32), name="xla_w")
    opt = tf_sfw.SFW(1.0, 0.9, "gradient", constraints=C.KSparsePolytope(k=None, k_frac=0.05, mode="radius", value=1.0),
                     sgd_steps=sgd_steps)
    opt.build([var])
    g = tf.constant(RNG.normal(size=(64, 32)).astype(np.float32))
    before = var.numpy()
    tf.function(lambda: opt.update_step(g, var), jit_compile=True)()
    assert not np.allclose(var.numpy(), before)


@pytest.mark.parametrize("fmt, sgd_steps", [("keras", 0), ("tf", 0), ("keras", 10)])
def test_save_reload_continue_equals_uninterrupted(tmp_path, fmt, sgd_steps):
    """Saved after step 8 of 16 and continued (with sgd_steps=10 the SGD start ends after the reload)."""
    x, y = small_data(128)

    def fresh():
        model = small_model(seed=5)
        model.compile(sfw_for(model, sgd_steps=sgd_steps), "sparse_categorical_crossentropy", ["accuracy"])
        return model

    straight = fresh()
    straight.fit(x, y, batch_size=32, epochs=4, shuffle=False, verbose=0)

    first = fresh()
    first.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    path = str(tmp_path / ("model.keras" if fmt == "keras" else "saved"))
    first.save(path, save_format=fmt)
    reloaded = tf_sfw.saving.load_model(path)
    assert isinstance(reloaded.optimizer, tf_sfw.SFW)
    assert int(reloaded.optimizer.iterations) == 8
    for a, b in zip(first.optimizer.variables(), reloaded.optimizer.variables()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    reloaded.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    assert len(reloaded.get_weights()) == len(straight.get_weights())
    for a, b in zip(straight.get_weights(), reloaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


MIRRORED_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import tf_sfw
    from tf_sfw._keras import keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 6)).astype(np.float32)
    # 3 classes: with 2, the output kernel's gradient columns are exact negatives, so top-K
    # magnitudes tie exactly and 1-ulp differences of the cross-replica sum pick other
    # (equally optimal) vertices: the LMO is discontinuous at ties.
    y = (x[:, 0] > 0).astype(np.int32) + (x[:, 1] > 0.5).astype(np.int32)
    keras.utils.set_random_seed(0)
    init = None

    def run(strategy):
        global init
        with strategy.scope():
            inputs = keras.Input((6,))
            h = keras.layers.Dense(8, activation="relu", name="h")(inputs)
            outputs = keras.layers.Dense(3, activation="softmax", name="o")(h)
            model = keras.Model(inputs, outputs)
            if init is None:
                init = model.get_weights()
            model.set_weights(init)
            cons = tf_sfw.constraints_for_model(model, tf_sfw.KSparsePolytope(k=3, k_frac=0.05, value=15.0))
            opt = tf_sfw.SFW(1.0, 0.9, "gradient", constraints=cons)
            model.compile(opt, "sparse_categorical_crossentropy")
        model.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
        return model.get_weights(), strategy.num_replicas_in_sync

    one, n1 = run(tf.distribute.OneDeviceStrategy("/cpu:0"))
    two, n2 = run(tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"]))
    diff = max(float(np.max(np.abs(a - b))) for a, b in zip(one, two))
    moved = max(float(np.max(np.abs(a - b))) for a, b in zip(one, init))
    print(json.dumps({"replicas": [n1, n2], "max_diff": diff, "moved": moved}))
    """
)


def test_mirrored_strategy_two_cpus_equals_one_device(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(MIRRORED_SCRIPT)
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=240, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["replicas"] == [1, 2]
    assert result["moved"] > 1e-3  # training did something
    assert result["max_diff"] < 1e-5


def mobilenet_block(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((8, 8, 1))
    x = keras.layers.Conv2D(4, 3, padding="same", use_bias=False, name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn1")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.DepthwiseConv2D(3, padding="same", use_bias=False, name="dw")(x)
    x = keras.layers.BatchNormalization(name="bn2")(x)
    x = keras.layers.ReLU()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    return keras.Model(inp, keras.layers.Dense(3, name="out")(x))


def test_unconstrained_variables_take_their_own_learning_rate_not_sfws():
    """BatchNorm and depthwise kernels unconstrained, SFW at the paper's lr 1.0: the
    unconstrained variables move by SGD at ``unconstrained_learning_rate`` (default: the recipe's)."""
    from tf_sfw.recipe_math import DEFAULTS

    ulr = DEFAULTS["unconstrained_learning_rate"]
    model = mobilenet_block()
    cons = tf_sfw.constraints_for_model(
        model,
        tf_sfw.KSparsePolytope(),
        overrides={keras.layers.BatchNormalization: tf_sfw.Unconstrained(), keras.layers.DepthwiseConv2D: tf_sfw.Unconstrained()},
    )
    opt = tf_sfw.SFW(learning_rate=1.0, constraints=cons)
    assert opt.get_config()["unconstrained_learning_rate"] == ulr == 0.5
    x = RNG.random((16, 8, 8, 1)).astype(np.float32)
    y = RNG.integers(0, 3, 16)
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.GradientTape() as tape:
        loss = loss_fn(y, model(x, training=True))
    variables = model.trainable_variables
    grads = tape.gradient(loss, variables)
    before = [v.numpy().copy() for v in variables]
    opt.apply_gradients(zip(grads, variables))
    unconstrained = [not c.is_constrained for c in cons.for_variables(variables)]
    assert sum(unconstrained) == 5  # dw kernel, bn1 and bn2 gamma/beta
    for v, g, b, free in zip(variables, grads, before, unconstrained):
        if free:  # first step: m = g, so the step is exactly -ulr g
            np.testing.assert_allclose(v.numpy() - b, -ulr * g.numpy(), rtol=1e-3, atol=2e-7)  # float32 rounding


def test_bn_and_depthwise_unconstrained_train_without_nan():
    x = RNG.random((96, 8, 8, 1)).astype(np.float32)
    y = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(np.int32)
    model = mobilenet_block(seed=1)
    cons = tf_sfw.constraints_for_model(
        model,
        tf_sfw.KSparsePolytope(),
        overrides={keras.layers.BatchNormalization: tf_sfw.Unconstrained(), keras.layers.DepthwiseConv2D: tf_sfw.Unconstrained()},
    )
    schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=5, decay_rate=0.5)
    model.compile(
        tf_sfw.SFW(learning_rate=1.0, constraints=cons, unconstrained_learning_rate=schedule),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        jit_compile=True,
    )
    history = model.fit(x, y, batch_size=32, epochs=3, verbose=0)
    assert np.all(np.isfinite(history.history["loss"]))
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
