"""One-shot Frank-Wolfe: the schedules of tf_sfw.fw_schedules (tf_keras and Keras 3 flavours)
and tf_sfw.SFW with a momentum schedule, against NumPy references."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import tf_sfw
from tf_sfw import constraints as C
from tf_sfw import optimizers, schedules
from tf_sfw._keras import keras

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RNG = np.random.default_rng(5)


def np_power_decay(step, scale, offset, power):
    return min(1.0, scale / (step + 1 + offset) ** power)


def np_k_sparse_lmo(g, k, r):
    flat = g.ravel()
    v = np.zeros_like(flat)
    top = np.argsort(-np.abs(flat), kind="stable")[:k]
    v[top] = -r * np.sign(flat[top])
    return v.reshape(g.shape)


def np_one_shot(theta0, grads, k, r, rho=(2.0, 3.0, 2 / 3), eta=(2.0, 3.0, 1.0)):
    """Chen et al.'s one-shot FW: d_0 = 0, d_t = (1-rho_t) d_{t-1} + rho_t g_t, x += eta_t (v_t - x)."""
    theta, d = theta0.astype(np.float64), np.zeros_like(theta0, np.float64)
    for step, g in enumerate(grads):
        rho_t, eta_t = np_power_decay(step, *rho), np_power_decay(step, *eta)
        d = (1 - rho_t) * d + rho_t * g
        theta = theta + eta_t * (np_k_sparse_lmo(d, k, r) - theta)
    return theta


@pytest.mark.parametrize("scale, offset, power", [(2.0, 3.0, 1.0), (2.0, 3.0, 2 / 3), (0.5, 0.0, 0.5), (4.0, 8.0, 2 / 3)])
def test_power_decay_and_averaging_match_numpy(scale, offset, power):
    steps = [0, 1, 2, 7, 100, 10_000]
    eta = schedules.PowerDecay(scale, offset, power)
    mu = schedules.AveragingMomentum(scale, offset, power)
    expected = [np_power_decay(s, scale, offset, power) for s in steps]
    np.testing.assert_allclose([float(eta(s)) for s in steps], expected, rtol=1e-6)
    np.testing.assert_allclose([float(mu.rho(s)) for s in steps], expected, rtol=1e-6)
    np.testing.assert_allclose([float(mu(s)) for s in steps], 1.0 - np.array(expected), atol=1e-6)


def test_defaults_are_chen_et_al():
    # rho_1 = 2 / 4^(2/3), eta_1 = 2 / 4 at the first (1-based) round.
    assert float(schedules.AveragingMomentum().rho(0)) == pytest.approx(2 / 4 ** (2 / 3), rel=1e-6)
    assert float(schedules.PowerDecay()(0)) == pytest.approx(0.5)
    assert float(schedules.PowerDecay()(96)) == pytest.approx(0.02)


def test_restarting_power_decay_restarts_every_period():
    gamma = schedules.RestartingPowerDecay(3)
    got = [float(gamma(tf.constant(s, tf.int64))) for s in range(7)]
    np.testing.assert_allclose(got, [1.0, 2 / 3, 0.5, 1.0, 2 / 3, 0.5, 1.0], rtol=1e-6)  # 2/(k+1), k = 1, 2, 3


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: schedules.PowerDecay(scale=0), "scale=0"),
        (lambda: schedules.PowerDecay(offset=-1), "offset=-1"),
        (lambda: schedules.AveragingMomentum(power=0), "power=0"),
        (lambda: schedules.RestartingPowerDecay(period=0), "period=0"),
        (lambda: optimizers.one_shot_fw(C.LpBall(p=2, mode="radius", value=1.0), rho=0.5), "rho=0.5"),
        (lambda: tf_sfw.SFW(constraints=C.LpBall(p=2, mode="radius", value=1.0), momentum=1.5), "momentum=1.5"),
    ],
)
def test_bad_arguments_name_the_argument_and_value(make, message):
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        make()


@pytest.mark.parametrize("jit", [False, True])
def test_one_shot_sfw_matches_numpy_reference(jit):
    k, r = 4, 0.3
    theta0 = (0.01 * RNG.normal(size=(6, 5))).astype(np.float32)  # feasible: no shift
    grads = RNG.normal(size=(6, 6, 5)).astype(np.float32)
    var = tf.Variable(theta0, name="w")
    opt = optimizers.one_shot_fw(C.KSparsePolytope(k=k, k_frac=None, mode="radius", value=r))
    apply = tf.function(lambda g: opt.apply_gradients([(g, var)]), jit_compile=True) if jit else (
        lambda g: opt.apply_gradients([(g, var)]))
    for g in grads:
        apply(tf.constant(g))
    expected = np_one_shot(theta0, grads, k, r)
    np.testing.assert_allclose(var.numpy(), expected, rtol=1e-5, atol=1e-6)
    # The float-momentum SFW (m_0 = g_0, mu = 0.9, gradient rescale) takes other steps.
    assert not np.allclose(expected, np_one_shot(theta0, grads, k, r, rho=(1.0, 0.0, 1.0)))


def test_one_shot_config_round_trip_and_model_fit_stays_feasible():
    keras.utils.set_random_seed(3)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(2)])
    ball = C.KSparsePolytope(k=None, k_frac=0.2, mode="initialization", value=5.0)
    cons = C.constraints_for_model(model, ball)
    opt = optimizers.one_shot_fw(cons, rho=schedules.AveragingMomentum(4.0, 8.0), eta=schedules.PowerDecay(2.0, 8.0))
    config = json.loads(json.dumps(opt.get_config()))
    again = tf_sfw.SFW.from_config(config)
    assert again.get_config() == opt.get_config()
    assert isinstance(again.momentum, schedules.AveragingMomentum) and again.momentum.scale == 4.0
    x = RNG.normal(size=(800, 6)).astype(np.float32)
    y = (x[:, 0] - x[:, 1] > 0).astype(np.int32)
    model.compile(again, keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    assert int(again.iterations.numpy()) == 100
    assert model.evaluate(x, y, verbose=0) < 0.8 * before  # it trains
    for var in model.trainable_variables:
        c = cons.for_variable(var)
        value, n = var.numpy().ravel().astype(np.float64), var.shape.num_elements()
        gauge = max(np.max(np.abs(value)), np.sum(np.abs(value)) / c.k_for(n))
        assert gauge <= c.radius(n) * (1 + 1e-5), var.name


KERAS3 = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from keras import ops
    import tf_sfw.keras3 as k3
    theta0, grads = np.load(sys.argv[1])["theta0"], np.load(sys.argv[1])["grads"]
    w = keras.Variable(theta0, name="w")
    opt = k3.SFW(learning_rate=k3.PowerDecay(), momentum=k3.AveragingMomentum(), rescale=None,
                 constraints=k3.KSparsePolytope(k=4, k_frac=None, mode="radius", value=0.3))
    opt.build([w])
    import jax
    step = jax.jit(opt.stateless_apply)
    tv, ov = [w.value], [v.value for v in opt.variables]
    for g in grads:
        tv, ov = step(ov, [g], tv)
    config = opt.get_config()
    again = k3.SFW.from_config(json.loads(json.dumps(config))).get_config()
    print(json.dumps({"w": np.asarray(tv[0]).tolist(), "same_config": again == config,
                      "momentum": config["momentum"]["class_name"]}))
    """
)


def test_keras3_sfw_accepts_the_one_shot_schedules(tmp_path):
    pytest.importorskip("jax")
    theta0 = (0.01 * RNG.normal(size=(6, 5))).astype(np.float32)
    grads = RNG.normal(size=(4, 6, 5)).astype(np.float32)
    np.savez(tmp_path / "in.npz", theta0=theta0, grads=grads)
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=ROOT, JAX_PLATFORMS="cpu", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, "-c", KERAS3, str(tmp_path / "in.npz")], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    np.testing.assert_allclose(report["w"], np_one_shot(theta0, grads, 4, 0.3), rtol=1e-5, atol=1e-6)
    assert report["same_config"] and report["momentum"] == "AveragingMomentum"
