"""Model builders for Keras 3 (``import keras``): the graphs of `tf_sfw.models`, on any backend.

The layer graphs are written once in `tf_sfw.models.graphs` and built here with Keras 3, so
the models have the same layers, names and parameter counts as the tf_keras builders of
`tf_sfw.models`. Needs only ``keras`` >= 3 (no TensorFlow under the JAX or PyTorch backend).
"""

import keras

from tf_sfw.models import graphs

__all__ = ["MODELS", "get_model", "build_model", "mnist_cnn", "simple_cnn", "resnet18"]


def mnist_cnn(input_shape=(28, 28, 1), num_classes=10, dropout=0.5, classifier_activation="softmax", name="mnist_cnn"):
    """The MNIST CNN of `tf_sfw.models.mnist_cnn`, as a Keras 3 functional model (34 826 parameters)."""
    return graphs.mnist_cnn(keras, input_shape, num_classes, dropout, classifier_activation, name)


def simple_cnn(input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax", name="simple_cnn"):
    """The LeNet-style network of `tf_sfw.models.simple_cnn`, as a Keras 3 functional model."""
    return graphs.simple_cnn(keras, input_shape, num_classes, classifier_activation, name)


def resnet18(input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax", kernel_initializer="he_normal",
             width=1.0, name="resnet18"):
    """ResNet-18 (CIFAR variant) of `tf_sfw.models.resnet18`, as a Keras 3 functional model."""
    return graphs.resnet18(keras, input_shape, num_classes, classifier_activation, kernel_initializer, width, name)


MODELS = {"mnist_cnn": mnist_cnn, "simple_cnn": simple_cnn, "resnet18": resnet18}


def get_model(name):
    """The Keras 3 builder registered under ``name`` (ValueError listing the known names)."""
    if name not in MODELS:
        raise ValueError(f"`model` must be one of {sorted(MODELS)}. Received: model={name!r}")
    return MODELS[name]


def build_model(name, input_shape, num_classes, **kwargs):
    """Build Keras 3 model ``name`` for ``input_shape`` and ``num_classes`` (kwargs go to the builder)."""
    return get_model(name)(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
