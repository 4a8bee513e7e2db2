"""Tests for tf_sfw.sfw_init: pure pieces, exact gradient of the scales, clamps, feasibility."""

import math

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.constraints import KSparsePolytope, LpBall, Unconstrained, constraints_for_model
from tf_sfw.sfw_init import (
    SFWInitCallback,
    _ScaleObjective,
    adam_update,
    clip_gradient,
    initial_directions,
    is_bias,
    max_feasible_scale,
    sfw_init,
    sfw_step,
)


def _tiny_model(seed=0, bias_initializer="zeros"):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((6,), name="input")
    x = keras.layers.Dense(8, activation="tanh", name="d1", bias_initializer=bias_initializer)(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    outputs = keras.layers.Dense(3, name="d2")(x)
    return keras.Model(inputs, outputs)


def _tiny_cnn(seed=0):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((8, 8, 1), name="input")
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.MaxPooling2D(2, name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="fc")(x)
    return keras.Model(inputs, outputs)


def _arrays(n, shape, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape).astype(np.float32), rng.integers(0, classes, n)


def _feasible(constraint, x, rtol=1e-5):
    """K-sparse polytope membership: ||x||_inf <= r and ||x||_1 <= rK."""
    x = np.abs(np.asarray(x, np.float64)).ravel()
    k, r = constraint.k_for(x.size), constraint.radius(x.size)
    return x.max() <= r * (1 + rtol) and x.sum() <= r * k * (1 + rtol)


# ---------------------------------------------------------------- pure pieces


@pytest.mark.parametrize("steps", [1, 5])
@pytest.mark.parametrize("lr", [1e-3, 0.1])
def test_adam_update_matches_keras_adam(steps, lr):
    rng = np.random.default_rng(steps)
    start = rng.normal(size=4)
    grads = rng.normal(size=(steps, 4))
    eps = 1e-12  # keras puts epsilon outside the bias correction; negligible when tiny
    var = tf.Variable(start.astype(np.float64))
    opt = keras.optimizers.Adam(learning_rate=lr, beta_1=0.9, beta_2=0.999, epsilon=eps)
    params, m, v = start.copy(), np.zeros(4), np.zeros(4)
    for t in range(steps):
        opt.apply_gradients([(tf.constant(grads[t]), var)])
        params, m, v = adam_update(params, grads[t], m, v, t + 1, lr, 0.9, 0.999, eps)
    np.testing.assert_allclose(params, var.numpy(), rtol=0, atol=1e-4 * lr)  # keras: float32 coefficients


def test_adam_update_rejects_bad_step():
    with pytest.raises(ValueError, match="step"):
        adam_update(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), 0)


def test_clip_gradient():
    np.testing.assert_array_equal(clip_gradient([-3.0, 0.5, 2.0]), [-1.0, 0.5, 1.0])
    with pytest.raises(ValueError, match="non-finite"):
        clip_gradient([np.nan, 0.0])


@pytest.mark.parametrize(
    "grad_norm, lr, expected_eta",
    [(1.0, 1.0, 0.2), (1.0, 0.5, 0.1), (100.0, 1.0, 1.0), (0.0, 1.0, 0.0)],
)
def test_sfw_step(grad_norm, lr, expected_eta):
    theta = tf.constant([3.0, 4.0])
    v = tf.constant([0.0, 0.0])  # ||theta - v|| = 5
    theta1, eta = sfw_step(theta, v, tf.constant(grad_norm), lr)
    assert float(eta) == pytest.approx(expected_eta)
    np.testing.assert_allclose(theta1.numpy(), (1 - expected_eta) * theta.numpy(), rtol=1e-6)


def test_sfw_step_guards_theta_equal_v():
    theta1, eta = sfw_step(tf.constant([1.0, -1.0]), tf.constant([1.0, -1.0]), tf.constant(2.0), 1.0)
    assert float(eta) == 0.0
    np.testing.assert_array_equal(theta1.numpy(), [1.0, -1.0])


@pytest.mark.parametrize(
    "constraint",
    [KSparsePolytope(k=3, k_frac=None, mode="radius", value=0.7), LpBall(p=2, mode="radius", value=2.0), LpBall(p=1, mode="radius", value=1.5)],
)
def test_max_feasible_scale_is_the_boundary(constraint):
    u = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    s = max_feasible_scale(constraint, u)
    assert 0 < s < math.inf
    inside = constraint.shift_inside(tf.constant(0.999 * s * u))
    outside = constraint.shift_inside(tf.constant(1.01 * s * u))
    np.testing.assert_allclose(inside.numpy(), 0.999 * s * u, rtol=1e-5)  # feasible: unchanged
    assert not np.allclose(outside.numpy(), 1.01 * s * u, rtol=1e-4)  # infeasible: moved


@pytest.mark.parametrize("constraint", [Unconstrained(), KSparsePolytope(mode="radius", value=1.0)])
def test_max_feasible_scale_infinite(constraint):
    direction = np.ones(4) if not constraint.is_constrained else np.zeros(4)
    assert max_feasible_scale(constraint, direction) == math.inf


def test_initial_directions_have_the_expected_norm():
    model = _tiny_model()
    directions = initial_directions(model, init_norms={"d2/kernel:0": 3.0})
    by_name = dict(zip([v.name for v in model.trainable_variables], directions))
    # glorot_uniform: E||W||^2 = n * 2 / (fan_in + fan_out)
    assert np.linalg.norm(by_name["d1/kernel:0"]) == pytest.approx(math.sqrt(48 * 2 / 14), rel=1e-5)
    assert np.linalg.norm(by_name["d2/kernel:0"]) == pytest.approx(3.0, rel=1e-5)
    assert not np.any(by_name["d1/bias:0"])  # zero-initialised: no direction
    kernel = model.get_layer("d1").kernel.numpy()
    cosine = np.sum(kernel * by_name["d1/kernel:0"]) / np.linalg.norm(kernel) / np.linalg.norm(by_name["d1/kernel:0"])
    assert cosine == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("name, expected", [("d1/bias:0", True), ("bn/beta:0", True), ("d1/kernel:0", False), ("bn/gamma:0", False)])
def test_is_bias(name, expected):
    model = _tiny_model()
    variable = {v.name: v for v in model.trainable_variables}[name]
    assert is_bias(variable) is expected


# ---------------------------------------------------------------- the gradient of J(beta)


@pytest.mark.parametrize("second_order", [True, False])
def test_scale_gradient_matches_finite_differences(second_order):
    model = _tiny_model(seed=1, bias_initializer="random_normal")
    cons = constraints_for_model(
        model, KSparsePolytope(k=None, k_frac=1.0, value=2.0), overrides={"bn": Unconstrained()}
    )
    per_variable = [cons.for_variable(v) for v in model.trainable_variables]
    directions = initial_directions(model)
    scaled = [c.is_constrained for c in per_variable]
    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    objective = _ScaleObjective(model, per_variable, directions, scaled, 0.5, loss, second_order)
    x_s, y_s = _arrays(16, (6,), seed=0)
    x_t, y_t = _arrays(16, (6,), seed=1)
    beta = np.array([1.1, 0.9, 1.0, 1.0, 0.8, 1.2])
    _, _, gradient = objective(beta, x_s, y_s, x_t, y_t)
    eps = 1e-3
    numeric = []
    for i in range(len(beta)):
        step = np.zeros_like(beta)
        step[i] = eps
        plus = float(objective(beta + step, x_s, y_s, x_t, y_t)[0])
        minus = float(objective(beta - step, x_s, y_s, x_t, y_t)[0])
        numeric.append((plus - minus) / (2 * eps))
    numeric = np.array(numeric)
    assert np.all(gradient.numpy()[[2, 3]] == 0)  # BN: unconstrained, beta fixed
    if second_order:
        np.testing.assert_allclose(gradient.numpy(), numeric, rtol=2e-2, atol=2e-3)
    else:  # the first-order approximation misses the d||g||/dbeta term
        assert not np.allclose(gradient.numpy(), numeric, rtol=2e-2, atol=2e-3)


# ---------------------------------------------------------------- sfw_init end to end


def test_sfw_init_changes_beta_within_clamps_and_leaves_model_feasible():
    model = _tiny_cnn()
    cons = constraints_for_model(model, KSparsePolytope(), overrides={"bn": Unconstrained()})
    bn = model.get_layer("bn")
    moving_mean = bn.moving_mean.numpy().copy()
    gamma = bn.gamma.numpy().copy()
    bias = model.get_layer("conv").bias.numpy().copy()
    data = _arrays(60, (8, 8, 1))
    history = sfw_init(model, cons, data, iterations=5, batch_size=16, seed=3)
    betas, lower, upper, scaled = history["beta"], history["lower"], history["upper"], history["scaled"]
    names = history["names"]
    assert betas.shape == (6, len(names)) and len(history["objective"]) == 5
    assert scaled.tolist() == [n in ("conv/kernel:0", "fc/kernel:0") for n in names]
    assert np.all(betas[0] == 1.0)
    assert np.all(np.abs(betas[-1][scaled] - 1.0) > 1e-4)  # every learned scale moved
    assert np.all(betas[:, ~scaled] == 1.0)
    assert np.all(betas >= lower - 1e-12) and np.all(betas <= upper + 1e-12)
    # The model holds beta * u and is feasible.
    directions = dict(zip(names, initial_directions(_tiny_cnn())))
    for var in model.trainable_variables:
        i = names.index(var.name)
        if scaled[i]:
            np.testing.assert_allclose(var.numpy(), betas[-1, i] * directions[var.name], rtol=1e-5, atol=1e-7)
        constraint = cons.for_variable(var)
        if constraint.is_constrained:
            assert _feasible(constraint, var.numpy())
    np.testing.assert_array_equal(bn.moving_mean.numpy(), moving_mean)  # BN statistics restored
    np.testing.assert_array_equal(bn.gamma.numpy(), gamma)  # unconstrained: untouched
    np.testing.assert_array_equal(model.get_layer("conv").bias.numpy(), bias)  # zero init: untouched


@pytest.mark.parametrize("project", [True, False])
def test_sfw_init_huge_step_lands_on_clamps_and_feasible(project):
    """With a huge Adam step every learned scale jumps to a clamp; tiny tau makes beta=1 infeasible."""
    model = _tiny_model(bias_initializer="random_normal")
    cons = constraints_for_model(model, KSparsePolytope(k=2, k_frac=None, value=0.2), overrides={"bn": Unconstrained()})
    history = sfw_init(
        model, cons, _arrays(30, (6,)), iterations=1, batch_size=8, beta_learning_rate=50.0, project=project,
        weight_floor=0.05, bias_floor=0.02,
    )
    beta, lower, upper, scaled = history["beta"][-1], history["lower"], history["upper"], history["scaled"]
    names = history["names"]
    assert lower[names.index("d1/kernel:0")] == 0.05 and lower[names.index("d1/bias:0")] == 0.02
    if project:
        assert np.all(upper[scaled] < 1.0)  # beta = 1 is infeasible for this tiny tau
        assert np.all((beta[scaled] == lower[scaled]) | (beta[scaled] == upper[scaled]))
    else:
        assert np.all(np.isinf(upper[scaled]))
        assert np.all((beta[scaled] == lower[scaled]) | (beta[scaled] > 40))  # unclamped above
    for var in model.trainable_variables:
        constraint = cons.for_variable(var)
        if constraint.is_constrained:
            assert _feasible(constraint, var.numpy())


def test_sfw_init_accepts_a_dataset_and_a_single_constraint():
    model = _tiny_model()
    x, y = _arrays(48, (6,))
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(10)
    history = sfw_init(model, KSparsePolytope(mode="radius", value=1.0), dataset, iterations=2, batch_size=8, second_order=False)
    assert history["beta"].shape == (3, 6)
    assert np.all(np.isfinite(history["objective"]))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"iterations": -1}, "iterations"),
        ({"iterations": 1.5}, "iterations"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"beta_learning_rate": -1.0}, "beta_learning_rate"),
        ({"weight_floor": -0.1}, "weight_floor"),
        ({"beta_1": 1.0}, "beta_1"),
        ({"batch_size": 1}, "batch_size"),
        ({"batch_size": 64}, "at least"),
        ({"loss": "mse"}, "loss"),
        ({"data": [1, 2, 3]}, "data"),
        ({"constraints": "ksparse"}, "constraints"),
        ({"constraints": KSparsePolytope()}, "initialization"),
    ],
)
def test_sfw_init_validates_arguments(kwargs, match):
    model = _tiny_model()
    args = {"constraints": KSparsePolytope(mode="radius", value=1.0), "data": _arrays(30, (6,)), "iterations": 1, "batch_size": 8}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        sfw_init(model, **args)


def test_callback_runs_sfw_init_once_at_the_start_of_fit():
    import tf_sfw

    model = _tiny_model()
    cons = constraints_for_model(model, KSparsePolytope(), overrides={"bn": Unconstrained()})
    model.compile(optimizer=tf_sfw.SFW(learning_rate=0.5, constraints=cons), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _arrays(40, (6,))
    callback = SFWInitCallback((x, y), iterations=2, batch_size=8)
    model.fit(x, y, batch_size=8, epochs=1, steps_per_epoch=1, callbacks=[callback], verbose=0)
    assert callback.history is not None and callback.history["beta"].shape == (3, 6)
    assert np.any(callback.history["beta"][-1] != 1.0)
    second = SFWInitCallback((x, y), iterations=2, batch_size=8)
    model.fit(x, y, batch_size=8, epochs=1, steps_per_epoch=1, callbacks=[second], verbose=0)
    assert second.history is None  # optimizer already stepped: not re-initialised


def test_callback_needs_an_sfw_optimizer():
    model = _tiny_model()
    model.compile(optimizer="sgd", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x, y = _arrays(40, (6,))
    with pytest.raises(ValueError, match="tf_sfw.SFW"):
        model.fit(x, y, batch_size=8, epochs=1, callbacks=[SFWInitCallback((x, y), iterations=1, batch_size=8)], verbose=0)


def test_cli_train_with_sfw_init(tmp_path, capsys):
    import json

    from tf_sfw.cli.main import main

    rng = np.random.default_rng(0)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    np.savez(
        data_dir / "mnist.npz",
        x_train=rng.integers(0, 256, (64, 28, 28)).astype(np.uint8), y_train=rng.integers(0, 10, 64),
        x_test=rng.integers(0, 256, (16, 28, 28)).astype(np.uint8), y_test=rng.integers(0, 10, 16),
    )
    out = tmp_path / "run"
    argv = ["train", "--model", "mnist_cnn", "--dataset", "mnist", "--data-dir", str(data_dir), "--no-download",
            "--out", str(out), "--epochs", "1", "--batch-size", "16", "--sfw-init", "--sfw-init-iterations", "2",
            "--verbose", "0"]
    assert main(argv) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert np.isfinite(metrics["test_loss"])
    sgd = [a if a != str(out) else str(tmp_path / "sgd") for a in argv] + ["--optimizer", "sgd"]
    assert main(sgd) == 2
    err = capsys.readouterr().err
    assert "--sfw-init" in err and "needs --optimizer sfw" in err
