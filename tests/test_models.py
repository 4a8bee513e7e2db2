"""Tests for tf_sfw.models: architecture, exact parameter counts, names, one optimizer step."""

import numpy as np
import pytest
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.models import MODELS, build_model, get_model, mnist_cnn, resnet18, resnet18_tiny_imagenet, simple_cnn, vgg16

def _trainable(model):
    return int(sum(np.prod(v.shape) for v in model.trainable_weights))


def _conv(k, cin, cout, bias):
    return k * k * cin * cout + (cout if bias else 0)


def _expected_resnet18(in_ch, classes, widths=(64, 64, 128, 256, 512)):
    """Count by hand: conv weights (no bias) + BN gamma/beta + fc (``widths``: stem, stages)."""
    n = _conv(3, in_ch, widths[0], False) + 2 * widths[0]
    cin = widths[0]
    for cout, stride in zip(widths[1:], (1, 2, 2, 2)):
        for block in range(2):
            n += _conv(3, cin, cout, False) + 2 * cout + _conv(3, cout, cout, False) + 2 * cout
            if block == 0 and (stride != 1 or cin != cout):
                n += _conv(1, cin, cout, False) + 2 * cout
            cin = cout
    return n + cin * classes + classes


def _expected_vgg16(in_ch, classes):
    n, cin = 0, in_ch
    for item in (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"):
        if item != "M":
            n += _conv(3, cin, item, True) + 2 * item
            cin = item
    return n + 512 * classes + classes


COUNT_CASES = [
    # (builder, kwargs, expected trainable by formula, documented number in the docstrings)
    (mnist_cnn, {}, _conv(3, 1, 32, True) + _conv(3, 32, 64, True) + 5 * 5 * 64 * 10 + 10, 34_826),
    (simple_cnn, {}, _conv(5, 3, 6, True) + _conv(5, 6, 16, True) + 400 * 120 + 120 + 120 * 84 + 84 + 84 * 10 + 10, 62_006),
    (resnet18, {}, _expected_resnet18(3, 10), 11_173_962),
    (resnet18_tiny_imagenet, {}, _expected_resnet18(3, 200), 11_271_432),
    (resnet18, {"width": 0.25, "input_shape": (32, 32, 1)}, _expected_resnet18(1, 10, (16, 16, 32, 64, 128)), 701_178),
    (vgg16, {}, _expected_vgg16(3, 10), 14_728_266),
    (vgg16, {"input_shape": (64, 64, 3), "num_classes": 200}, _expected_vgg16(3, 200), 14_825_736),
]


@pytest.mark.parametrize("builder,kwargs,formula,documented", COUNT_CASES, ids=lambda v: getattr(v, "__name__", None))
def test_parameter_counts_exact(builder, kwargs, formula, documented):
    model = builder(**kwargs)
    assert _trainable(model) == formula
    assert formula == documented  # the numbers written in the docstrings/README


def test_mnist_cnn_architecture_matches_seed_003():
    model = mnist_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds == ["InputLayer", "Conv2D", "MaxPooling2D", "Conv2D", "MaxPooling2D", "Flatten", "Dropout", "Dense"]
    assert model.get_layer("dropout").rate == 0.5
    assert model.get_layer("conv2d").kernel.shape == (3, 3, 1, 32)
    assert model.get_layer("dense").activation is keras.activations.softmax


@pytest.mark.parametrize("width,filters", [(1.0, (64, 128, 256, 512)), (0.25, (16, 32, 64, 128)), (0.1, (6, 13, 26, 51)), (0.001, (1, 1, 1, 1))])
def test_resnet18_width_scales_every_stage(width, filters):
    model = resnet18(input_shape=(8, 8, 1), width=width)
    assert model.get_layer("conv1").kernel.shape[-1] == filters[0]
    for stage, f in enumerate(filters, start=1):
        assert model.get_layer(f"stage{stage}_block2_conv2").kernel.shape[-1] == f
        assert model.get_layer(f"stage{stage}_block1_conv1").kernel.shape[-1] == f
    assert model.get_layer("fc").kernel.shape == (filters[-1], 10)
    assert model.get_layer("conv1").kernel.shape[2] == 1


def test_resnet18_is_cifar_variant():
    model = resnet18()
    assert model.get_layer("conv1").kernel.shape == (3, 3, 3, 64)
    assert model.get_layer("conv1").strides == (1, 1)
    assert not any(isinstance(layer, keras.layers.MaxPooling2D) for layer in model.layers)
    assert model.get_layer("stage4_block2_relu2").output.shape[1:] == (4, 4, 512)
    assert resnet18_tiny_imagenet().get_layer("stage4_block2_relu2").output.shape[1:] == (8, 8, 512)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_layer_names_unique_and_stable(name):
    builder = get_model(name)
    a, b = builder(), builder()
    names = [layer.name for layer in a.layers]
    assert len(names) == len(set(names))
    assert names == [layer.name for layer in b.layers]
    assert all("/" not in n for n in names)


@pytest.mark.parametrize("activation", ["softmax", None])
def test_output_activation(activation):
    model = simple_cnn(classifier_activation=activation)
    out = model(np.random.default_rng(0).random((3, 32, 32, 3), dtype=np.float32)).numpy()
    assert out.shape == (3, 10)
    sums = out.sum(axis=1)
    if activation == "softmax":
        np.testing.assert_allclose(sums, 1.0, rtol=1e-5)
        assert (out >= 0).all()
    else:
        assert not np.allclose(sums, 1.0, rtol=1e-3)


@pytest.mark.parametrize(
    "builder,kwargs,match",
    [
        (mnist_cnn, {"num_classes": 1}, "num_classes"),
        (mnist_cnn, {"num_classes": 2.5}, "num_classes"),
        (mnist_cnn, {"input_shape": (28, 28)}, "input_shape"),
        (mnist_cnn, {"input_shape": (28, -1, 1)}, "input_shape"),
        (mnist_cnn, {"dropout": 1.0}, "dropout=1.0"),
        (mnist_cnn, {"dropout": "high"}, "dropout='high'"),
        (mnist_cnn, {"num_classes": True}, "num_classes=True"),
        (simple_cnn, {"input_shape": (12, 12, 3)}, "input_shape"),
        (vgg16, {"input_shape": (16, 16, 3)}, "input_shape"),
        (resnet18, {"classifier_activation": "relu"}, "classifier_activation"),
        (resnet18, {"width": 0}, "width=0"),
        (resnet18, {"width": -0.5}, "width=-0.5"),
        (resnet18, {"width": "half"}, "width='half'"),
    ],
)
def test_invalid_arguments(builder, kwargs, match):
    with pytest.raises(ValueError, match=match):
        builder(**kwargs)


def test_get_model_unknown_name():
    with pytest.raises(ValueError, match="resnet50"):
        get_model("resnet50")


def _sfw_optimizer(model):
    from tf_sfw import SFW
    from tf_sfw.constraints import KSparsePolytope, constraints_for_model

    cons = constraints_for_model(model, KSparsePolytope(k=10, k_frac=0.05, mode="initialization", value=15.0))
    return SFW(learning_rate=1.0, momentum=0.9, rescale="gradient", constraints=cons)


STEP_CASES = [
    # name, input shape, classes, batch, steps (the big CPU-costly nets: batch 2, one step;
    # resnet18_tiny_imagenet differs from resnet18 only in input size and head: build-only above)
    ("mnist_cnn", (28, 28, 1), 10, 8, 2),
    ("simple_cnn", (32, 32, 3), 10, 8, 2),
    pytest.param("resnet18", (32, 32, 3), 10, 2, 1, marks=pytest.mark.slow),
    pytest.param("vgg16", (32, 32, 3), 10, 2, 1, marks=pytest.mark.slow),
]


@pytest.mark.parametrize("name,shape,classes,batch,steps", STEP_CASES)
def test_sfw_train_step(name, shape, classes, batch, steps):
    keras.utils.set_random_seed(0)
    model = build_model(name, shape, classes)
    model.compile(optimizer=_sfw_optimizer(model), loss="sparse_categorical_crossentropy")
    x = np.random.default_rng(1).random((batch,) + shape, dtype=np.float32)
    y = np.arange(batch) % classes
    before = [w.numpy().copy() for w in model.trainable_weights]
    for _ in range(steps):
        loss = model.train_on_batch(x, y)
        assert np.isfinite(loss)
    after = [w.numpy() for w in model.trainable_weights]
    assert int(model.optimizer.iterations.numpy()) == steps
    assert all(np.isfinite(w).all() for w in after)
    assert any(not np.array_equal(b, a) for b, a in zip(before, after))


# ----------------------------------------------------------------------------------------
# One layer graph for both Keras flavours (tf_sfw.models.graphs): the Keras 3 builders of
# tf_sfw.keras3.models, run in the worker of tests/keras3_runner.py, match the tf_keras ones.

from keras3_runner import MODEL_CASES, keras3_app, keras3_apps  # noqa: E402,F401  (fixtures)


@pytest.mark.parametrize("name,shape,kwargs", MODEL_CASES, ids=[case[0] for case in MODEL_CASES])
def test_keras3_builders_have_the_tf_keras_layers(keras3_app, name, shape, kwargs):
    _, report = keras3_app
    model = build_model(name, shape, 10, **kwargs)
    expected = [[layer.name, type(layer).__name__, [list(w.shape) for w in layer.weights]] for layer in model.layers]
    built = report["models"][name]
    assert built["layers"] == expected
    assert built["name"] == model.name and built["params"] == model.count_params()
