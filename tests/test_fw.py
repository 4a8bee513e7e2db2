"""Tests of tf_sfw.fw: the Frank-Wolfe step against NumPy references, in-place forms, guards."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import fw

RNG = np.random.default_rng(0)


def np_step_size(lr, rescale, theta, v, m, diameter):
    """Reference: eta = clip(lr * f, 0, 1)."""
    if rescale == "gradient":
        distance = np.linalg.norm(v - theta)
        factor = 0.0 if distance == 0 else np.linalg.norm(m) / distance
    elif rescale == "diameter":
        factor = 1.0 / diameter
    else:
        factor = 1.0
    return min(max(lr * factor, 0.0), 1.0)


@pytest.mark.parametrize("rescale", fw.RESCALES)
@pytest.mark.parametrize("lr", [0.01, 0.3, 5.0])
@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_step_size_matches_numpy(rescale, lr, jit):
    theta, v, m = (RNG.normal(size=(40, 50)) for _ in range(3))
    eta = tf.function(
        lambda: fw.step_size(lr, rescale, tf.constant(v - theta), gradient=tf.constant(m), diameter=7.5),
        jit_compile=jit,
    )()
    assert eta.dtype == tf.float64
    assert float(eta) == pytest.approx(np_step_size(lr, rescale, theta, v, m, 7.5), rel=1e-9)


def test_step_size_guards():
    zero = tf.zeros([3])
    assert float(fw.step_size(1.0, "gradient", zero, gradient=tf.ones([3]))) == 0.0  # v = theta
    assert float(fw.step_size(1.0, "gradient", tf.ones([3]), gradient_norm=tf.constant(100.0))) == 1.0
    assert float(fw.step_size(-1.0, None, tf.ones([3]))) == 0.0
    with pytest.raises(ValueError, match="`rescale` must be one of"):
        fw.step_size(1.0, "norm", tf.ones([3]))


@pytest.mark.parametrize("rescale", fw.RESCALES)
def test_step_is_the_convex_combination(rescale):
    theta, v, m = (RNG.normal(size=(6, 5)) for _ in range(3))
    theta1, eta = fw.step(tf.constant(theta), tf.constant(v), 0.2, rescale, gradient=tf.constant(m), diameter=3.0)
    expected_eta = np_step_size(0.2, rescale, theta, v, m, 3.0)
    assert float(eta) == pytest.approx(expected_eta, rel=1e-12)
    np.testing.assert_allclose(theta1.numpy(), (1 - expected_eta) * theta + expected_eta * v, rtol=1e-12)


def test_step_is_differentiable_in_theta_and_gradient_norm():
    theta = tf.constant([3.0, 4.0], tf.float64)
    v = tf.zeros([2], tf.float64)
    norm = tf.constant(1.0, tf.float64)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([theta, norm])
        theta1, _ = fw.step(theta, v, 1.0, "gradient", gradient_norm=norm)
        total = tf.reduce_sum(theta1)
    # theta1 = theta (1 - |g| / |theta|): d sum / d|g| = -sum(theta) / |theta| = -7/5
    assert float(tape.gradient(total, norm)) == pytest.approx(-7.0 / 5.0)
    # d sum / d theta_j = 1 - |g|/|theta| + |g| sum(theta) theta_j / |theta|^3
    expected = 1 - 1 / 5 + 7 * np.array([3.0, 4.0]) / 125
    np.testing.assert_allclose(tape.gradient(total, theta).numpy(), expected, rtol=1e-12)


def test_pure_forms_work_on_numpy_and_tensors():
    a, b = RNG.normal(size=5), RNG.normal(size=5)
    np.testing.assert_allclose(fw.convex_step(a, b, 0.25), 0.75 * a + 0.25 * b, rtol=1e-12)
    np.testing.assert_allclose(fw.momentum_average(a, b, 0.9), 0.9 * a + 0.1 * b, rtol=1e-12)
    np.testing.assert_allclose(fw.convex_step(tf.constant(a), tf.constant(b), 0.25).numpy(), 0.75 * a + 0.25 * b)
    np.testing.assert_array_equal(fw.momentum_average(a, b, 0.0), b)  # mu = 0: m_0 = g_0


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
@pytest.mark.parametrize("step, sgd_steps", [(0, 3), (2, 3), (3, 3), (9, 3), (0, 0)])
def test_sgd_start_step_is_sgd_before_s_and_frank_wolfe_after(step, sgd_steps, jit):
    theta, m, fw_theta = (RNG.normal(size=(6, 4)).astype(np.float32) for _ in range(3))
    counter = tf.Variable(step, dtype=tf.int64)
    got = tf.function(lambda: fw.sgd_start_step(counter, sgd_steps, tf.constant(theta), tf.constant(m),
                                                tf.constant(0.5), tf.constant(fw_theta)), jit_compile=jit)()
    expected = theta - 0.5 * m if step < sgd_steps else fw_theta
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6)
    np.testing.assert_allclose(fw.unconstrained_step(theta, m, 0.5), theta - 0.5 * m, rtol=1e-7)


@pytest.mark.parametrize("jit", [False, True], ids=["graph", "xla"])
def test_in_place_forms_equal_the_pure_ones(jit):
    theta0, v, m0, g = (RNG.normal(size=(8, 3)).astype(np.float32) for _ in range(4))
    theta, m = tf.Variable(theta0), tf.Variable(m0)

    @tf.function(jit_compile=jit)
    def update():
        fw.assign_momentum(m, tf.constant(g), tf.constant(0.9))
        fw.assign_convex_step(theta, tf.constant(v) - theta, tf.constant(0.3))

    update()
    np.testing.assert_allclose(m.numpy(), fw.momentum_average(m0, g, np.float32(0.9)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(theta.numpy(), fw.convex_step(theta0, v, np.float32(0.3)), rtol=1e-6, atol=1e-7)


def test_harmonic_step_size():
    assert [fw.harmonic_step_size(t) for t in range(3)] == pytest.approx([2 / 3, 2 / 4, 2 / 5])
    assert fw.harmonic_step_size(0, offset=2) == 1.0
    with pytest.raises(ValueError, match="`t` must be"):
        fw.harmonic_step_size(-1)
    with pytest.raises(ValueError, match="`offset` must be"):
        fw.harmonic_step_size(0, offset=1.5)
