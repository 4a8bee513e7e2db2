"""Tests of tf_sfw.sets: the flavour-free set classes (sizes, resolution, feasible starts)."""

import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import sets

N = 200
TOP_K_SETS = [sets.KSparsePolytope, sets.KSupportNormBall]


def test_importing_sets_imports_neither_tensorflow_nor_keras():
    code = "import sys, tf_sfw.sets; print(any(m.split('.')[0] in ('tensorflow', 'keras', 'tf_keras') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("cls", TOP_K_SETS)
@pytest.mark.parametrize("tau,init_norm", [(15.0, 2.0), (5.0, 0.3), (15.0, 0.0)])
def test_resolve_gives_the_initialization_diameter(cls, tau, init_norm):
    resolved = cls(k=10, k_frac=0.05, value=tau).resolve(N, init_norm)
    assert resolved.mode == "radius"
    expected = 2 * tau * (init_norm if init_norm > 0 else 1.0)
    assert resolved.l2_diameter(N) == pytest.approx(expected)


@pytest.mark.parametrize("p", [1.0, 2.0, 3.5, math.inf])
def test_lp_ball_resolve_keeps_the_l2_diameter(p):
    resolved = sets.LpBall(p=p, value=4.0).resolve(N, 1.5)
    assert resolved.l2_diameter(N) == pytest.approx(2 * 4.0 * 1.5)


@pytest.mark.parametrize("cls", TOP_K_SETS + [sets.LpBall])
def test_unresolved_initialization_set_has_no_radius(cls):
    with pytest.raises(ValueError, match=r"constraints_for_model\(model, constraint\)"):
        cls().radius(N)


@pytest.mark.parametrize(
    "constraint",
    [
        sets.KSparsePolytope(k=3, k_frac=None, mode="radius", value=0.5),
        sets.KSupportNormBall(k=None, k_frac=0.1, mode="diameter", value=2.0),
        sets.LpBall(p="inf", mode="radius", value=0.2),
        sets.Unconstrained(),
    ],
    ids=repr,
)
def test_config_round_trip_and_equality(constraint):
    again = type(constraint).from_config(constraint.get_config())
    assert again == constraint
    assert repr(again) == repr(constraint)


@pytest.mark.parametrize(
    "constraint,norm",
    [
        (sets.KSparsePolytope(k=5, k_frac=None, mode="radius", value=0.1),
         lambda x: max(np.abs(x).max() / 0.1, np.abs(x).sum() / (5 * 0.1))),
        (sets.LpBall(p=2.0, mode="radius", value=0.7), lambda x: np.linalg.norm(x) / 0.7),
        (sets.LpBall(p=1.0, mode="radius", value=0.7), lambda x: np.abs(x).sum() / 0.7),
    ],
    ids=["k_sparse", "l2", "l1"],
)
@pytest.mark.parametrize("scale", [0.01, 100.0])
def test_shift_inside_is_feasible_and_the_identity_on_feasible_points(constraint, norm, scale):
    x = np.random.default_rng(0).normal(size=(10, 20)).astype(np.float32) * scale
    inside = constraint.shift_inside(tf.constant(x)).numpy()
    assert norm(inside) <= 1 + 1e-5
    if norm(x) <= 1:
        np.testing.assert_array_equal(inside, x)
    else:  # a radial rescale onto the boundary
        assert norm(inside) == pytest.approx(1.0, rel=1e-5)
        np.testing.assert_allclose(inside / np.linalg.norm(inside), x / np.linalg.norm(x), rtol=1e-5, atol=1e-7)


def test_unconstrained_has_no_lmo():
    assert not sets.Unconstrained().is_constrained
    assert sets.Unconstrained().radius(N) == math.inf
    with pytest.raises(ValueError, match="no linear minimization oracle"):
        sets.Unconstrained().lmo(tf.zeros([3]))
