"""Tests of `tf_sfw.k_annealing` (the tf_keras path; Keras 3 in test_keras3_optimizers.py)."""

import json

import numpy as np
import pytest
import tensorflow as tf

import tf_sfw
from tf_sfw import constraints as C
from tf_sfw import structured_constraints as S
from tf_sfw._keras import keras
from tf_sfw.k_annealing import KAnnealing, check_k_annealing, k_annealing_for_run


def np_top_k_vertex(g, k, radius, ball):
    """NumPy LMO of the K-sparse polytope / K-support ball (no ties in these tests)."""
    flat = g.ravel()
    top = np.argsort(-np.abs(flat), kind="stable")[:k]
    v = np.zeros_like(flat)
    if ball == "k_sparse":
        v[top] = -radius * np.sign(flat[top])
    else:
        v[top] = -radius * flat[top] / np.linalg.norm(flat[top])
    return v.reshape(g.shape)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(boundaries=(), k_fracs=()), "non-empty and of equal length"),
        (dict(boundaries=(5, 10), k_fracs=(0.5,)), "equal length"),
        (dict(boundaries=(10, 5), k_fracs=(0.5, 0.2)), "strictly increasing"),
        (dict(boundaries=(5, 5), k_fracs=(0.5, 0.2)), "strictly increasing"),
        (dict(boundaries=(0,), k_fracs=(0.5,)), "boundaries\\[0\\]"),
        (dict(boundaries=(2.5,), k_fracs=(0.5,)), "boundaries\\[0\\]"),
        (dict(boundaries=(5,), k_fracs=(0.0,)), "k_fracs\\[0\\]"),
        (dict(boundaries=(5,), k_fracs=(1.5,)), "k_fracs\\[0\\]"),
        (dict(boundaries=(5,), k_fracs=(float("nan"),)), "k_fracs\\[0\\]"),
        (dict(boundaries=5, k_fracs=(0.5,)), "`boundaries` must be a sequence"),
        (dict(boundaries=(5,), k_fracs="0.5"), "`k_fracs` must be a sequence"),
    ],
)
def test_invalid_arguments_are_refused_with_their_name(kwargs, message):
    with pytest.raises(ValueError, match=message):
        KAnnealing(**kwargs)


@pytest.mark.parametrize(
    "k_fracs, total, until, expected",
    [((1.0, 0.3, 0.1), 600, 0.5, [100, 200, 300]), ((0.5,), 10, 1.0, [10]), ((1.0, 0.2), 7, 0.5, [2, 4])],
)
def test_over_run_splits_the_first_part_of_the_run_equally(k_fracs, total, until, expected):
    annealing = KAnnealing.over_run(k_fracs, total, until)
    assert annealing.boundaries == expected
    assert annealing.k_fracs == list(k_fracs)


@pytest.mark.parametrize(
    "args, message",
    [(((1.0, 0.5, 0.2), 4, 0.5), "would be empty"), (((), 100, 0.5), "non-empty"),
     (((0.5,), 0, 0.5), "total_steps"), (((0.5,), 100, 0.0), "until")],
)
def test_over_run_refuses_empty_phases_and_bad_arguments(args, message):
    with pytest.raises(ValueError, match=message):
        KAnnealing.over_run(*args)


def test_config_round_trip_and_check():
    annealing = KAnnealing((3, 8), (1.0, 0.25))
    config = json.loads(json.dumps(annealing.get_config()))
    assert KAnnealing.from_config(config) == annealing
    assert check_k_annealing(config) == annealing
    assert check_k_annealing(None) is None and check_k_annealing(annealing) is annealing
    with pytest.raises(ValueError, match="k_annealing=0.5"):
        check_k_annealing(0.5)


def test_phase_sets_only_for_top_k_sets():
    annealing = KAnnealing((3, 8), (1.0, 0.25))
    assert annealing.phase_sets(C.LpBall(p=2, mode="radius", value=1.0)) is None
    assert annealing.phase_sets(C.Unconstrained()) is None
    base = C.KSupportNormBall(k=4, k_frac=None, mode="radius", value=2.0)
    phases = annealing.phase_sets(base)
    assert [type(p) for p in phases] == [C.KSupportNormBall] * 2
    assert [p.k_for(100) for p in phases] == [100, 25] and base.k_for(100) == 4
    assert all(p.radius(100) == base.radius(100) for p in phases)
    group = S.GroupKSparsePolytope(k=1, k_frac=0.25, mode="radius", value=1.0)
    assert [p.k_frac for p in annealing.phase_sets(group)] == [1.0, 0.25]


@pytest.mark.parametrize("ball", ["k_sparse", "k_support"])
@pytest.mark.parametrize("jit", [False, True])
def test_lmo_uses_the_k_of_the_step_s_phase(ball, jit):
    n, own_k, radius = 200, 5, 0.7
    cls = C.KSparsePolytope if ball == "k_sparse" else C.KSupportNormBall
    constraint = cls(k=own_k, k_frac=None, mode="radius", value=radius)
    annealing = KAnnealing((4, 9), (1.0, 0.1))
    g = np.random.default_rng(0).standard_normal((10, 20)).astype("float32")
    lmo = tf.function(lambda step: annealing.lmo(constraint, tf.constant(g), step), jit_compile=jit)
    for step, k in [(0, n), (3, n), (4, 20), (8, 20), (9, own_k), (1000, own_k)]:
        expected = np_top_k_vertex(g, k, radius, ball)
        np.testing.assert_allclose(lmo(tf.constant(step, tf.int64)).numpy(), expected, rtol=1e-6, atol=1e-7)


def test_sfw_with_k_annealing_matches_numpy_reference_and_reloads():
    """Four SFW steps (K-sparse polytope, gradient rescale): K = n at step 0, n / 4 at steps
    1 and 2, the set's own K from step 3."""
    rng = np.random.default_rng(1)
    theta0 = (0.01 * rng.uniform(-1, 1, (8, 8))).astype("float32")
    grads = [rng.standard_normal((8, 8)).astype("float32") for _ in range(4)]
    radius, own_k, lr, mu = 0.2, 3, 0.3, 0.9
    variable = tf.Variable(theta0, name="w")
    constraint = C.KSparsePolytope(k=own_k, k_frac=None, mode="radius", value=radius)
    annealing = KAnnealing((1, 3), (1.0, 0.25))
    opt = tf_sfw.SFW(learning_rate=lr, momentum=mu, constraints=constraint, k_annealing=annealing)
    step = tf.function(lambda g: opt.apply_gradients([(g, variable)]), jit_compile=True)
    for g in grads:
        step(tf.constant(g))

    theta, m = theta0.astype(np.float64), np.zeros((8, 8))
    for t, (g, k) in enumerate(zip(grads, [64, 16, 16, own_k])):
        m = (0.0 if t == 0 else mu) * m + (1.0 - (0.0 if t == 0 else mu)) * g
        d = np_top_k_vertex(m, k, radius, "k_sparse") - theta
        dist = np.linalg.norm(d)
        theta = theta + (min(lr * np.linalg.norm(m) / dist, 1.0) if dist > 0 else 0.0) * d
    np.testing.assert_allclose(variable.numpy(), theta, rtol=1e-5, atol=1e-6)

    config = json.loads(json.dumps(opt.get_config()))
    assert config["k_annealing"] == {"boundaries": [1, 3], "k_fracs": [1.0, 0.25]}
    assert tf_sfw.SFW.from_config(config).k_annealing == annealing
    assert tf_sfw.SFW(constraints=constraint).get_config()["k_annealing"] is None


def test_recipe_k_annealing_phases_over_the_first_half():
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(4, name="fc")])
    optimizer, _, _ = tf_sfw.recipe.sfw_recipe(model, epochs=2, steps_per_epoch=30, k_annealing=(1.0, 0.3, 0.1))
    assert optimizer.k_annealing == KAnnealing((10, 20, 30), (1.0, 0.3, 0.1))
    default, _, _ = tf_sfw.recipe.sfw_recipe(model, epochs=2, steps_per_epoch=30)
    assert default.k_annealing == KAnnealing((10, 20, 30), (1.0, 0.3, 0.1))  # the recipe's default
    off, _, _ = tf_sfw.recipe.sfw_recipe(model, epochs=2, steps_per_epoch=30, k_annealing=None)
    assert off.k_annealing is None
    quarter, _, _ = tf_sfw.recipe.sfw_recipe(model, epochs=2, steps_per_epoch=30, k_annealing_until=0.25)
    assert quarter.k_annealing == KAnnealing((5, 10, 15), (1.0, 0.3, 0.1))
    # a run too short for the phases keeps those that hold a step (boundaries 0, 1, 1 here)
    short, _, _ = tf_sfw.recipe.sfw_recipe(model, epochs=1, steps_per_epoch=2)
    assert short.k_annealing == KAnnealing((1,), (0.3,))


@pytest.mark.parametrize(
    "k_fracs,total,until,expected",
    [
        (None, 100, 0.5, None),
        ((1.0, 0.3), 100, 0.5, KAnnealing((25, 50), (1.0, 0.3))),
        ((1.0, 0.3, 0.1), 4, 0.5, KAnnealing((1, 2), (1.0, 0.1))),  # boundaries 1, 1, 2
        ((1.0, 0.3, 0.1), 3, 1.0, KAnnealing((1, 2, 3), (1.0, 0.3, 0.1))),
        ((1.0, 0.3, 0.1), 1, 0.5, None),  # boundaries 0, 0, 0: no phase holds a step
    ],
)
def test_k_annealing_for_run_drops_empty_phases(k_fracs, total, until, expected):
    assert k_annealing_for_run(k_fracs, total, until) == expected
