"""`tf_sfw.keras3.training` and `tf_sfw.keras3.recipe` (run in the workers of `tests/keras3_runner.py`)."""

import math

import numpy as np
import pytest

from keras3_runner import keras3_app, keras3_apps  # noqa: F401  (fixtures)
from tf_sfw.recipe_math import DEFAULTS


def test_seeded_batches_follow_numpy_permutations(keras3_app):
    _, report = keras3_app
    for epoch, batches in enumerate(report["batches"]):
        order = np.random.default_rng([7, epoch]).permutation(10)
        assert batches == [order[:4].tolist(), order[4:8].tolist(), order[8:].tolist()]
    assert report["batches"][0] != report["batches"][1]  # a new order every epoch
    order = np.random.default_rng([7, 2]).permutation(10)
    np.testing.assert_allclose(report["batch_x"], order[:4] / 255.0, rtol=1e-6)  # scaled to [0, 1]


def _recipe_reference(lr, total, fractions, factor, warmup):
    out = []
    boundaries = sorted({max(1, math.floor(f * total)) for f in fractions})
    w = math.floor(warmup * total)
    for t in range(total):
        rate = lr * factor ** sum(t >= b for b in boundaries)
        out.append(rate * (min(1.0, (t + 1) / w) if w >= 1 else 1.0))
    return np.array(out)


def test_schedule_is_the_recipe_formula(keras3_app):
    arrays, report = keras3_app
    np.testing.assert_allclose(arrays["schedule"], _recipe_reference(0.5, 200, (0.5, 0.75), 0.1, 0.1), rtol=1e-6)
    # --milestones 3 of 4 epochs: the decay starts at step (3 - 1) * 50.
    np.testing.assert_allclose(arrays["schedule_epochs"], _recipe_reference(1.0, 200, (0.5,), 0.1, 0.0), rtol=1e-6)
    assert report["schedule_config"]["class_name"] == "RecipeSchedule"
    assert report["constant"] == 0.3


def test_recipe_sizes_biases_and_constrains_kernels_only(keras3_app):
    _, report = keras3_app
    # PyTorch's bias initialisation U(±1/sqrt(fan_in)): E||b|| = sqrt(n / (3 fan_in)).
    assert report["bias_norms"] == pytest.approx({"m/d1/bias": math.sqrt(5 / 18), "m/d2/bias": math.sqrt(3 / 15)})
    ball = {"k_sparse": "KSparsePolytope", "k_support": "KSupportNormBall"}[DEFAULTS["ball"]]
    assert report["recipe_constraints"] == {"m/d1/kernel": ball, "m/d1/bias": "Unconstrained",
                                            "m/d2/kernel": ball, "m/d2/bias": "Unconstrained"}
    assert report["recipe_lr_type"] == "RecipeSchedule"
    # the default constrain="sparse_kernels": a kernel of at most k = 150 entries is left to SGD
    expected = {"n/s1/kernel": ball, "n/s1/bias": "Unconstrained", "n/s2/kernel": "Unconstrained",
                "n/s2/bias": "Unconstrained"}
    assert DEFAULTS["constrain"] == "sparse_kernels" and DEFAULTS["k"] == 150
    assert report["recipe_sparse_kernels"] == expected and report["config_sparse_kernels"] == expected


def test_k_annealing_reaches_the_keras3_optimizer(keras3_app):
    """TrainConfig(k_annealing=(1.0, 0.3), k_annealing_until=0.4) over 20 steps: phases end at 4 and 8."""
    _, report = keras3_app
    assert report["k_annealing"] == {"boundaries": [4, 8], "k_fracs": [1.0, 0.3]}


def test_unsupported_settings_name_their_flags(keras3_app):
    _, report = keras3_app
    flags = [flag for flag, _ in report["unsupported"]]
    assert flags == ["--resume", "--model", "--schedule", "--weight-decay", "--augment"]
