"""tf_sfw.pruning.layer_inputs: a layer's pre-activation output as X @ W_flat (+ b), X vs NumPy im2col."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.layer_inputs import check_supported, input_rows, kernel_layer


def _im2col(x, kh, kw, stride, dilation, padding):
    """Rows (n, oy, ox), columns (i, j, c) — the kernel's (kh, kw, c_in) order."""
    n, h, w, c = x.shape
    if padding == "same":
        out_h, out_w = -(-h // stride), -(-w // stride)
        pad_h = max((out_h - 1) * stride + (kh - 1) * dilation + 1 - h, 0)
        pad_w = max((out_w - 1) * stride + (kw - 1) * dilation + 1 - w, 0)
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h = (h - (kh - 1) * dilation - 1) // stride + 1
        out_w = (w - (kw - 1) * dilation - 1) // stride + 1
    rows = np.zeros((n, out_h, out_w, kh, kw, c))
    for oy in range(out_h):
        for ox in range(out_w):
            for i in range(kh):
                for j in range(kw):
                    rows[:, oy, ox, i, j] = x[:, oy * stride + i * dilation, ox * stride + j * dilation]
    return rows.reshape(n * out_h * out_w, kh * kw * c)


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1), ("same", 1, 2)])
def test_conv_rows_are_numpy_im2col_and_reproduce_the_layer(padding, strides, dilation):
    layer = keras.layers.Conv2D(3, (3, 2), strides=strides, dilation_rate=dilation, padding=padding)
    x = np.random.default_rng(0).normal(size=(2, 7, 6, 2)).astype("float32")
    y = layer(x).numpy()
    rows = input_rows(layer, x)
    np.testing.assert_allclose(rows, _im2col(x, 3, 2, strides, dilation, padding), rtol=1e-6)
    flat = rows @ layer.kernel.numpy().reshape(-1, 3) + layer.bias.numpy()
    np.testing.assert_allclose(flat, y.reshape(-1, 3), rtol=1e-4, atol=1e-5)


def test_dense_rows_flatten_leading_axes():
    layer = keras.layers.Dense(4)
    x = np.random.default_rng(1).normal(size=(3, 5, 6)).astype("float32")
    y = layer(x).numpy()
    rows = input_rows(layer, x)
    assert rows.shape == (15, 6)
    np.testing.assert_allclose(rows @ layer.kernel.numpy() + layer.bias.numpy(), y.reshape(-1, 4), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "layer,match",
    [
        (keras.layers.DepthwiseConv2D(3), "DepthwiseConv2D"),
        (keras.layers.Conv2D(4, 3, groups=2), "groups=1"),
        (keras.layers.Conv2D(4, 3, strides=2, dilation_rate=1), None),
        (keras.layers.Conv1D(4, 3), "Conv1D"),
    ],
)
def test_supported_layers(layer, match):
    if match is None:
        check_supported(layer)
        return
    with pytest.raises(ValueError, match=match):
        check_supported(layer)


def test_kernel_layer_finds_the_owner():
    inputs = keras.Input((3,))
    model = keras.Model(inputs, keras.layers.Dense(2, name="head")(inputs))
    assert kernel_layer(model, "head/kernel") is model.get_layer("head")
