"""Tests of `tf_sfw.keras3.SFW` on the TensorFlow and JAX backends (Keras 3 runs in the
subprocess workers of `tests/keras3_runner.py`; the NumPy references are here)."""

import math

import numpy as np
import pytest

from keras3_runner import K, LR, MU, RADIUS, RESCALES, ULR, keras3_runs, keras3_worker  # noqa: F401  (fixtures)


def _reference(theta0, bias0, grads, rescale, ks=None, sgd_steps=0):
    """NumPy SFW: m_0 = g_0, top-K vertex of the K-sparse polytope (ties at the K-th largest
    magnitude share), rescaled step; SGD for the bias.
    ``ks``: the K of each step (default K throughout); steps before ``sgd_steps`` move the
    kernel by SGD too."""
    theta, bias = theta0.astype(np.float32), bias0.astype(np.float32)
    m = np.zeros_like(theta)
    mb = np.zeros_like(bias)
    for t, (gw, gb) in enumerate(grads):
        k = K if ks is None else ks[t]
        mu = np.float32(0.0 if t == 0 else MU)
        m = mu * m + (np.float32(1) - mu) * gw
        mb = mu * mb + (np.float32(1) - mu) * gb
        bias = bias - np.float32(ULR) * mb
        if t < sgd_steps:
            theta = theta - np.float32(ULR) * m
            continue
        flat = m.ravel()
        a = np.abs(flat)
        t = np.sort(a)[-k]  # entries tied at the K-th largest magnitude share the rest of K
        above, tied = a > t, a == t
        weights = above + tied * np.float32((k - above.sum()) / tied.sum())
        v = (-RADIUS * np.sign(flat) * weights).astype(np.float32)
        d = v.reshape(m.shape).astype(np.float64) - theta
        if rescale is None:
            factor = 1.0
        elif rescale == "diameter":
            factor = 1.0 / (2.0 * RADIUS * math.sqrt(k))
        else:
            factor = np.linalg.norm(m.astype(np.float64)) / np.linalg.norm(d)
        eta = min(max(LR * factor, 0.0), 1.0)
        theta = (theta + eta * d).astype(np.float32)
    return theta, bias


@pytest.mark.parametrize("mode", ["eager", "jit"])
@pytest.mark.parametrize("rescale", RESCALES)
def test_keras3_sfw_matches_numpy_reference(keras3_worker, mode, rescale):
    arrays, report = keras3_worker
    if f"{mode}_{rescale}_w" not in arrays:
        pytest.skip(f"eager {report['backend']} runs rescale='gradient' only")
    grads = [(arrays[f"gw{i}"], arrays[f"gb{i}"]) for i in range(3)]
    theta, bias = _reference(arrays["theta0"], arrays["bias0"], grads, rescale)
    np.testing.assert_allclose(arrays[f"{mode}_{rescale}_w"], theta, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(arrays[f"{mode}_{rescale}_b"], bias, rtol=1e-5, atol=1e-6)
    assert not np.allclose(theta, arrays["theta0"])  # the steps moved the weights


@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_keras3_k_annealing_matches_numpy_reference(keras3_worker, mode):
    arrays, report = keras3_worker
    if f"anneal_{mode}_w" not in arrays:
        pytest.skip(f"no {mode} K-annealing run on {report['backend']}")
    grads = [(arrays[f"gw{i}"], arrays[f"gb{i}"]) for i in range(3)]
    n = arrays["theta0"].size
    theta, _ = _reference(arrays["theta0"], arrays["bias0"], grads, "gradient", ks=[n, max(K, n // 2), max(K, n // 2)])
    np.testing.assert_allclose(arrays[f"anneal_{mode}_w"], theta, rtol=1e-5, atol=1e-7)
    plain, _ = _reference(arrays["theta0"], arrays["bias0"], grads, "gradient")
    assert not np.allclose(theta, plain, rtol=1e-3)  # the annealed K changed the iterate


@pytest.mark.parametrize("sgd_steps", [2, 3])
@pytest.mark.parametrize("mode", ["eager", "jit"])
def test_keras3_sgd_start_matches_numpy_reference(keras3_worker, mode, sgd_steps):
    arrays, report = keras3_worker
    if f"sgd_start{sgd_steps}_{mode}_w" not in arrays:
        pytest.skip(f"no {mode} SGD-start run on {report['backend']}")
    grads = [(arrays[f"gw{i}"], arrays[f"gb{i}"]) for i in range(3)]
    theta, _ = _reference(arrays["theta0"], arrays["bias0"], grads, "gradient", sgd_steps=sgd_steps)
    np.testing.assert_allclose(arrays[f"sgd_start{sgd_steps}_{mode}_w"], theta, rtol=1e-5, atol=1e-7)
    other, _ = _reference(arrays["theta0"], arrays["bias0"], grads, "gradient", sgd_steps=5 - sgd_steps)
    assert not np.allclose(theta, other, rtol=1e-3)  # S = 2 ends on a Frank-Wolfe step, S = 3 on an SGD one


def test_keras3_config_round_trip(keras3_worker):
    _, report = keras3_worker
    config, again = report["config"], report["config_again"]
    assert config == again
    assert config["rescale"] == "gradient" and config["momentum"] == pytest.approx(MU)
    assert config["learning_rate"] == pytest.approx(LR)
    assert config["unconstrained_learning_rate"] == pytest.approx(ULR)
    assert config["k_annealing"] == {"boundaries": [1, 3], "k_fracs": [1.0, 0.5]}
    assert config["sgd_steps"] == 5
    assert report["deserialized"] == "SFW"


def test_keras3_fit_stays_feasible_for_100_steps(keras3_worker):
    _, report = keras3_worker
    assert report["iterations"] == 100
    kinds = set()
    for path, (kind, config, values) in report["feasibility"].items():
        values = np.asarray(values)
        kinds.add(kind)
        if kind == "KSparsePolytope":
            k = max(1, min(max(config["k"], math.floor(config["k_frac"] * values.size)), values.size))
            gauge = max(np.max(np.abs(values)), np.sum(np.abs(values)) / k)
            assert gauge <= config["value"] * (1 + 1e-5), path
            assert gauge >= 0.5 * config["value"], path  # SFW drives the iterate to the boundary
        elif kind == "LpBall":
            assert np.linalg.norm(values) <= config["value"] * (1 + 1e-5), path
    assert kinds == {"KSparsePolytope", "LpBall", "Unconstrained"}


def test_keras3_save_reload_continue_identical(keras3_worker):
    _, report = keras3_worker
    assert report["reloaded_optimizer"] == "SFW"
    assert report["reloaded_iterations"] == 100
    assert report["reload_weight_diff"] == 0.0
    # Bit for bit on TensorFlow and JAX; PyTorch's multi-threaded CPU kernels may round differently.
    assert report["continue_weight_diff"] <= (1e-6 if report["backend"] == "torch" else 0.0)


def test_keras3_import_under_jax_leaves_tensorflow_out(keras3_runs):
    if "import" not in keras3_runs[1]:
        pytest.skip("jax is not installed")
    assert keras3_runs[1]["import"].strip().endswith("TF_ABSENT")
