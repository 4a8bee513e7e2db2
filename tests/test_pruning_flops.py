"""Tests for tf_sfw.pruning.flops (multiply-add counts)."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.models import mnist_cnn
from tf_sfw.pruning.flops import layer_flops, model_flops
from tf_sfw.pruning.shrink import shrink_model


def test_model_flops_of_mnist_cnn():
    # conv 26·26·(3·3·1·32) + conv 11·11·(3·3·32·64) + dense 1600·10 multiply-adds
    assert model_flops(mnist_cnn()) == 26 * 26 * 9 * 32 + 11 * 11 * 9 * 32 * 64 + 1600 * 10
    new = shrink_model(mnist_cnn(), {"conv2d": np.arange(16), "conv2d_1": np.arange(32)})
    assert model_flops(new) == 26 * 26 * 9 * 16 + 11 * 11 * 9 * 16 * 32 + 800 * 10


def _applied(layer, input_shape):
    inputs = keras.Input(input_shape)
    layer(inputs)
    return layer


@pytest.mark.parametrize(
    "layer, input_shape, expected",
    [
        (keras.layers.Dense(4), (7,), 7 * 4),
        (keras.layers.Dense(4), (5, 7), 5 * 7 * 4),  # a Dense at every position of a sequence
        (keras.layers.Conv1D(3, 2), (9, 4), 8 * 2 * 4 * 3),
        (keras.layers.Conv2D(3, (2, 3), strides=2, padding="same"), (8, 9, 2), 4 * 5 * 2 * 3 * 2 * 3),
        (keras.layers.Conv3D(2, 2), (4, 4, 4, 1), 27 * 8 * 2),
        (keras.layers.DepthwiseConv2D(3, depth_multiplier=2), (6, 6, 4), 16 * 9 * 4 * 2),
        (keras.layers.Conv2DTranspose(3, 2), (4, 4, 2), 0),
        (keras.layers.BatchNormalization(), (4, 4, 2), 0),
        (keras.layers.MaxPooling2D(), (4, 4, 2), 0),
    ],
)
def test_layer_flops_is_output_positions_times_kernel_size(layer, input_shape, expected):
    assert layer_flops(_applied(layer, input_shape)) == expected


def test_nested_models_are_counted():
    inner = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5), keras.layers.Dense(2)])
    inputs = keras.Input((3,))
    outer = keras.Model(inputs, inner(keras.layers.Dense(6)(inputs)))
    assert model_flops(outer) == 3 * 6 + 6 * 5 + 5 * 2
