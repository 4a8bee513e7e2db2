"""Tests of `tf_sfw.keras3.constraints` and of the shared selection / LMOs over ``keras.ops``
(`tf_sfw.keras3._ops`), on the TensorFlow and JAX backends (Keras 3 runs in the workers of
`tests/keras3_runner.py`; the NumPy references are here)."""

import math

import numpy as np
import pytest

from keras3_runner import keras3_runs, keras3_worker  # noqa: F401  (fixtures)


@pytest.mark.parametrize("k", [1, 50, 90, 1000, 40000])
def test_keras3_radix_selection_matches_topk_and_numpy(keras3_worker, k):
    arrays, _ = keras3_worker
    x = arrays["sel_x"]  # 100 entries tied at |x| = 2.5, the largest magnitudes
    order = np.argsort(-np.abs(x), kind="stable")  # ties: lower flat index first
    t = np.abs(x)[order[k - 1]]
    mask = np.zeros_like(x)
    mask[order[:k]] = 1.0
    above, tied = np.abs(x) > t, np.abs(x) == t
    weights = np.where(above, 1.0, np.where(tied, (k - above.sum()) / tied.sum(), 0.0))
    for sel in ("radix", "topk"):
        assert float(arrays[f"sel_t_{sel}_{k}"]) == t
        np.testing.assert_array_equal(arrays[f"sel_mask_{sel}_{k}"], mask)
        np.testing.assert_allclose(arrays[f"sel_w_{sel}_{k}"], weights, rtol=1e-6)


def test_keras3_expected_init_norms_closed_form(keras3_worker):
    _, report = keras3_worker
    norms = report["norms"]
    assert len(norms) == 13
    for key, (closed, sampled) in norms.items():
        assert closed == pytest.approx(sampled, rel=0.05, abs=1e-9), key


def _top(g, k):
    order = np.argsort(-np.abs(g.ravel()), kind="stable")[:k]
    w = np.zeros(g.size)
    w[order] = 1.0
    return w.reshape(g.shape)


def _lp_lmo(g, p, r):
    if p == 1:
        v = np.zeros(g.size)
        i = int(np.argmax(np.abs(g.ravel())))
        v[i] = -r * np.sign(g.ravel()[i])
        return v.reshape(g.shape)
    if math.isinf(p):
        return -r * np.sign(g)
    q = p / (p - 1.0)
    return -r * np.sign(g) * np.abs(g) ** (q - 1) / np.sum(np.abs(g) ** q) ** ((q - 1) / q)


def _reference_lmo(key, g):
    if key == "ksparse":
        return -0.3 * np.sign(g) * _top(g, 37)
    if key == "ksupport":
        sel = _top(g, 37) * g
        return -2.0 * sel / np.linalg.norm(sel)
    p = {"l1": 1.0, "l2": 2.0, "l3": 3.0, "linf": math.inf}[key]
    return _lp_lmo(g, p, 0.2 if key == "linf" else 2.0)


def _gauge(key, x):
    """A value <= 1 iff ``x`` is in the set (the K-support norm bound for K-support)."""
    a = np.abs(x).ravel()
    if key == "ksparse":
        return max(a.max(), a.sum() / 37) / 0.3
    if key == "ksupport":
        return np.linalg.norm(np.sort(a)[::-1][:37]) / 2.0  # a lower bound of the K-support norm
    p = {"l1": 1.0, "l2": 2.0, "l3": 3.0, "linf": math.inf}[key]
    return np.linalg.norm(a, ord=p) / (0.2 if key == "linf" else 2.0)


@pytest.mark.parametrize("key", ["ksparse", "ksupport", "l1", "l2", "l3", "linf"])
def test_keras3_lmo_and_shift_inside_match_numpy(keras3_worker, key):
    arrays, _ = keras3_worker
    g, big = arrays["lmo_g"].astype(np.float64), arrays["lmo_big"]
    np.testing.assert_allclose(arrays[f"lmo_{key}"], _reference_lmo(key, g), rtol=2e-5, atol=1e-6)
    shifted = arrays[f"shift_{key}"]
    assert _gauge(key, shifted) <= 1.0 + 1e-5
    np.testing.assert_allclose(shifted / np.linalg.norm(shifted), big / np.linalg.norm(big), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(arrays[f"shift_small_{key}"], (1e-4 * big).astype(np.float32))  # feasible: kept


def test_keras3_validation_messages_name_the_argument(keras3_worker):
    _, report = keras3_worker
    assert "`k_frac`" in report["k_frac_error"] and "k_frac=0" in report["k_frac_error"]
    assert "`momentum`" in report["momentum_error"] and "momentum=1.0" in report["momentum_error"]


def test_keras3_constraints_for_model_resolves_glorot_in_closed_form(keras3_worker):
    _, report = keras3_worker
    configs = report["init_radius"]
    [kernel] = [c for path, c in configs.items() if path.endswith("/dense/kernel")]
    fan_in, fan_out = report["kernel_shape"]
    n = fan_in * fan_out
    k = max(10, math.floor(0.05 * n))
    norm = math.sqrt(n * 2.0 / (fan_in + fan_out))  # GlorotUniform: variance 2 / (fan_in + fan_out)
    assert kernel["mode"] == "radius"
    assert kernel["value"] == pytest.approx(2 * 15.0 * norm / (2 * math.sqrt(k)), rel=1e-12)
    overridden = [c for path, c in configs.items() if path.endswith("dense_1/bias")]
    assert overridden and "p" in overridden[0]  # the regex override picked the L2 ball
    assert sum(1 for c in configs.values() if c == {}) == 2  # BatchNormalization: Unconstrained
