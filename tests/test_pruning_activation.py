"""tf_sfw.pruning.activation: Wanda scores |W_ij|·‖X_j‖₂ against a NumPy im2col reference."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.activation import activation_masks, activation_scores, input_feature_norms


def _model(padding="valid", strides=1, dilation=1):
    keras.utils.set_random_seed(1)
    inputs = keras.Input((7, 7, 2))
    x = keras.layers.Conv2D(3, (3, 2), strides=strides, dilation_rate=dilation, padding=padding, name="conv")(inputs)
    x = keras.layers.ReLU()(x)
    x = keras.layers.Flatten()(x)
    outputs = keras.layers.Dense(4, name="dense")(x)
    return keras.Model(inputs, outputs)


def _im2col_norms(x, kh, kw, stride, dilation, padding):
    """‖column‖₂ of the im2col matrix, rows ordered (kh, kw, c_in) like a Keras kernel."""
    n, h, w, c = x.shape
    if padding == "same":
        out_h, out_w = -(-h // stride), -(-w // stride)
        eff_h, eff_w = (kh - 1) * dilation + 1, (kw - 1) * dilation + 1
        pad_h = max((out_h - 1) * stride + eff_h - h, 0)
        pad_w = max((out_w - 1) * stride + eff_w - w, 0)
        x = np.pad(x, ((0, 0), (pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    else:
        out_h = (h - (kh - 1) * dilation - 1) // stride + 1
        out_w = (w - (kw - 1) * dilation - 1) // stride + 1
    sq = np.zeros((kh, kw, c))
    for i in range(kh):
        for j in range(kw):
            for oy in range(out_h):
                for ox in range(out_w):
                    pixel = x[:, oy * stride + i * dilation, ox * stride + j * dilation, :]
                    sq[i, j] += (pixel.astype(np.float64) ** 2).sum(axis=0)
    return np.sqrt(sq)


@pytest.mark.parametrize("padding,strides,dilation", [("valid", 1, 1), ("same", 1, 1), ("valid", 2, 1), ("same", 1, 2)])
def test_feature_norms_match_numpy_im2col(padding, strides, dilation):
    model = _model(padding, strides, dilation)
    x = np.random.default_rng(0).normal(size=(5, 7, 7, 2)).astype("float32")
    norms = input_feature_norms(model, x)
    conv_ref = _im2col_norms(x, 3, 2, strides, dilation, padding)
    np.testing.assert_allclose(norms["conv/kernel"], np.broadcast_to(conv_ref[..., None], (3, 2, 2, 3)), rtol=1e-5)
    hidden = keras.Model(model.inputs, model.get_layer("dense").input)(x).numpy()
    dense_ref = np.sqrt((hidden.astype(np.float64) ** 2).sum(axis=0))
    np.testing.assert_allclose(norms["dense/kernel"][:, 0], dense_ref, rtol=1e-5)
    np.testing.assert_allclose(norms["dense/kernel"][:, 3], dense_ref, rtol=1e-5)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_masks_prune_the_smallest_scores(scope, sparsity):
    model = _model()
    x = np.random.default_rng(2).normal(size=(8, 7, 7, 2)).astype("float32")
    scores = activation_scores(model, x)
    norms = input_feature_norms(model, x)
    for key, score in scores.items():
        weight = model.get_layer(key.split("/")[0]).kernel.numpy()
        np.testing.assert_allclose(score, np.abs(weight) * norms[key], rtol=1e-6)
    masks = activation_masks(model, x, sparsity, scope=scope)
    groups = [list(scores)] if scope == "global" else [[k] for k in scores]
    for keys in groups:
        flat_scores = np.concatenate([scores[k].ravel() for k in keys])
        flat_masks = np.concatenate([masks[k].ravel() for k in keys])
        n_pruned = int(np.floor(sparsity * flat_scores.size + 0.5))
        assert int((flat_masks == 0).sum()) == n_pruned
        if 0 < n_pruned < flat_scores.size:
            assert flat_scores[flat_masks == 0].max() <= flat_scores[flat_masks == 1].min()


def test_activation_differs_from_magnitude_when_inputs_are_scaled():
    """A dead input feature makes its weights the first to go, whatever their magnitude."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    outputs = keras.layers.Dense(2, name="dense")(inputs)
    model = keras.Model(inputs, outputs)
    model.get_layer("dense").kernel.assign(np.array([[5.0, 6.0], [0.1, 0.2], [1.0, 1.0], [2.0, 2.0]], "float32"))
    x = np.ones((3, 4), "float32")
    x[:, 0] = 0.0
    mask = activation_masks(model, x, 0.25)["dense/kernel"]
    np.testing.assert_array_equal(mask[0], [0.0, 0.0])
    np.testing.assert_array_equal(mask[1:], 1.0)


def test_unsupported_layer_and_scope_raise():
    inputs = keras.Input((6, 6, 2))
    x = keras.layers.DepthwiseConv2D(3, name="dw")(inputs)
    x = keras.layers.Flatten()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, name="dense")(x))
    x = np.zeros((2, 6, 6, 2), "float32")
    with pytest.raises(ValueError, match="not supported|Dense and Conv2D"):
        activation_masks(model, x, 0.5)
    with pytest.raises(ValueError, match="scope"):
        activation_masks(_model(), np.zeros((2, 7, 7, 2), "float32"), 0.5, scope="row")
