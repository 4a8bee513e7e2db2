"""Tests of tf_sfw.init_norms: closed-form E[x^2] of Keras initializers against sampling."""

import math

import numpy as np
import pytest

from tf_sfw import init_norms
from tf_sfw._keras import keras

SHAPES = [(3, 3, 8, 16), (64, 32), (5, 40)]
INITIALIZERS = [
    "glorot_uniform",
    "glorot_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    keras.initializers.VarianceScaling(2.5, "fan_out", "truncated_normal"),
    keras.initializers.VarianceScaling(0.7, "fan_avg", "untruncated_normal"),
    keras.initializers.RandomNormal(0.1, 0.3),
    keras.initializers.TruncatedNormal(-0.2, 0.5),
    keras.initializers.RandomUniform(-0.1, 0.4),
    keras.initializers.Orthogonal(gain=1.7),
    keras.initializers.Constant(0.3),
    "zeros",
    "ones",
]


def _sampled_mean_square(initializer, shape, draws=20):
    init = keras.initializers.get(initializer)
    config = init.get_config()
    values = []
    for seed in range(draws):
        drawn = type(init).from_config({**config, "seed": seed}) if "seed" in config else init
        values.append(np.mean(np.square(np.asarray(drawn(shape), dtype=np.float64))))
    return float(np.mean(values)), float(np.std(values) / math.sqrt(draws))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("initializer", INITIALIZERS, ids=lambda i: i if isinstance(i, str) else type(i).__name__)
def test_mean_square_matches_sampling(initializer, shape):
    closed = init_norms.mean_square(initializer, shape, keras)
    sampled, stderr = _sampled_mean_square(initializer, shape)
    # 5 standard errors of the sampled mean, plus float32 rounding.
    assert closed == pytest.approx(sampled, abs=5 * stderr + 1e-6 * max(1.0, sampled))


@pytest.mark.parametrize(
    "shape,expected",
    [((3, 3, 8, 16), (72, 144)), ((64, 32), (64, 32)), ((7,), (7, 7)), ((), (1, 1))],
)
def test_fans_as_keras_computes_them(shape, expected):
    assert init_norms.fans(shape) == expected


def test_expected_norm_is_sqrt_n_times_mean_square():
    shape = (3, 3, 8, 16)
    n = int(np.prod(shape))
    got = init_norms.expected_norm("he_normal", shape, keras, draw_norm=None)
    assert got == pytest.approx(math.sqrt(n * 2.0 / 72))


def test_expected_norm_without_closed_form_samples_with_a_warning():
    class Sign(keras.initializers.Initializer):
        def __call__(self, shape, dtype=None):
            return np.full(shape, 0.5, np.float32)

    with pytest.warns(UserWarning, match="No closed form for the expected norm under Sign"):
        got = init_norms.expected_norm(Sign(), (4, 4), keras, draw_norm=lambda d: float(np.linalg.norm(d)), num_samples=3)
    assert got == pytest.approx(2.0)  # ||0.5 * ones(16)|| = 2


def test_truncated_normal_variance_matches_numerical_integration():
    x = np.linspace(-2.0, 2.0, 200001)
    pdf = np.exp(-x * x / 2)

    def trapezoid(f):
        return float(np.sum(f[1:] + f[:-1]) / 2 * (x[1] - x[0]))

    variance = trapezoid(x * x * pdf) / trapezoid(pdf)
    assert init_norms.TRUNCATED_NORMAL_VARIANCE == pytest.approx(variance, rel=1e-8)


@pytest.mark.parametrize(
    "layer,attribute,expected",
    [
        (keras.layers.DepthwiseConv2D(3), "depthwise_kernel", "depthwise_initializer"),
        (keras.layers.SeparableConv2D(4, 3), "pointwise_kernel", "pointwise_initializer"),
        (keras.layers.LSTMCell(4), "recurrent_kernel", "recurrent_initializer"),
        (keras.layers.Dense(4), "kernel", "kernel_initializer"),
        (keras.layers.Embedding(10, 4), "embeddings", "embeddings_initializer"),
    ],
)
def test_initializer_attribute(layer, attribute, expected):
    assert init_norms.initializer_attribute(layer, attribute, keras) == expected
    assert hasattr(layer, expected)
