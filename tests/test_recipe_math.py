"""tf_sfw.recipe_math: the recipe's defaults and lr formula, against a numpy reference."""

import inspect
import math
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw import recipe_math
from tf_sfw.recipe import sfw_recipe
from tf_sfw.recipe_math import DEFAULTS, learning_rate_at


def _reference(steps, lr, total, schedule, milestones, factor, warmup):
    """Numpy reference: the formula written out entry by entry."""
    steps = np.asarray(steps, dtype=np.float64)
    if schedule == "cosine":
        base = lr * 0.5 * (1 + np.cos(np.pi * np.minimum(steps, total) / total))
    elif schedule == "step":
        bounds = np.array(sorted({max(1, math.floor(m * total)) for m in milestones}))
        count = (steps[:, None] >= bounds[None, :]).sum(axis=1) if len(bounds) else np.zeros_like(steps)
        base = lr * factor**count
    else:
        base = np.full_like(steps, lr)
    w = math.floor(warmup * total)
    return base * (np.minimum(1.0, (steps + 1) / w) if w >= 1 else 1.0)


CASES = [
    (1.0, 100, "step", (0.6, 0.85), 0.1, 0.0),
    (1.0, 100, "step", (0.6, 0.85), 0.1, 0.02),
    (0.5, 37, "step", (0.1, 0.2, 0.9), 0.3, 0.1),
    (0.05, 7, "step", (0.01, 0.05), 0.1, 0.0),  # both milestones collapse onto step 1
    (2.0, 50, "step", (), 0.1, 0.2),
    (2.0, 50, "cosine", (0.6,), 0.1, 0.0),
    (0.3, 80, "cosine", (0.6,), 0.1, 0.05),
    (0.7, 20, "constant", (0.6,), 0.1, 0.25),
    (0.7, 20, "constant", (0.6,), 0.1, 0.0),
]


@pytest.mark.parametrize("lr,total,schedule,milestones,factor,warmup", CASES)
def test_learning_rate_at_matches_numpy_reference(lr, total, schedule, milestones, factor, warmup):
    steps = list(range(total + 3))  # past the end too: cosine stays at 0, step at its last value
    expected = _reference(steps, lr, total, schedule, milestones, factor, warmup)
    got = [float(learning_rate_at(tf.constant(s, tf.int64), lr, total, schedule, milestones, factor, warmup))
           for s in steps]
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("schedule", ["step", "cosine"])
def test_learning_rate_at_compiles_under_xla(schedule):
    fn = tf.function(lambda t: learning_rate_at(t, 1.0, 40, schedule, (0.5, 0.75), 0.1, 0.1), jit_compile=True)
    steps = np.arange(45)
    got = [float(fn(tf.constant(s, tf.int64))) for s in steps]
    np.testing.assert_allclose(got, _reference(steps, 1.0, 40, schedule, (0.5, 0.75), 0.1, 0.1), rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("w", [1, 3, 10])
def test_warmup_factor_is_linear_then_one(w):
    got = [float(recipe_math.warmup_factor(tf.constant(t), w)) for t in range(2 * w)]
    np.testing.assert_allclose(got, np.minimum(1.0, (np.arange(2 * w) + 1) / w), rtol=1e-6)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(learning_rate=0.0), "learning_rate"),
        (dict(total_steps=0), "total_steps"),
        (dict(total_steps=2.5), "total_steps"),
        (dict(schedule="linear"), "schedule"),
        (dict(milestones=(0.8, 0.6)), "milestones"),
        (dict(milestones=(0.5, 1.0)), "milestones"),
        (dict(milestones=0.5), "milestones"),
        (dict(factor=0.0), "factor"),
        (dict(factor=1.5), "factor"),
        (dict(warmup=1.0), "warmup"),
        (dict(warmup=-0.1), "warmup"),
    ],
)
def test_learning_rate_at_validates_arguments(kwargs, match):
    args = dict(learning_rate=1.0, total_steps=10, schedule="step", milestones=(0.5,), factor=0.1, warmup=0.0)
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        learning_rate_at(0, **args)


def test_defaults_are_the_recipe_defaults():
    signature = inspect.signature(sfw_recipe).parameters
    recipe_defaults = {name: p.default for name, p in signature.items() if p.default is not inspect.Parameter.empty}
    assert recipe_defaults == DEFAULTS
    recipe_math.check_schedule_arguments(
        DEFAULTS["learning_rate"], 100, DEFAULTS["schedule"], DEFAULTS["milestones"], DEFAULTS["factor"],
        DEFAULTS["warmup"],
    )
    assert DEFAULTS["ball"] in recipe_math.BALLS
    assert DEFAULTS["bias_norm"] in recipe_math.BIAS_NORMS
    assert DEFAULTS["constrain"] in recipe_math.CONSTRAIN


def test_module_imports_neither_tensorflow_nor_keras():
    code = (
        "import sys, tf_sfw.recipe_math as m; m.DEFAULTS; "
        "bad = [n for n in ('tensorflow', 'keras', 'tf_keras') if n in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
