"""The layer graphs of the model builders, written once for any Keras (tf_keras or Keras 3).

Every function takes the Keras module to build with as its first argument (``keras``):
`tf_sfw.models` passes tf_keras (`tf_sfw._keras`), `tf_sfw.keras3.models` passes Keras 3
(``import keras``). Layer names, kinds and arguments are the same under both, so that pruning
masks keyed by ``"<layer>/<weight>"`` carry over. This module imports neither Keras nor
TensorFlow.
"""

from tf_sfw import validation
from tf_sfw.models._common import check_classifier_activation, check_input_shape, check_num_classes

__all__ = ["mnist_cnn", "simple_cnn", "resnet18", "scaled_width", "BN_MOMENTUM", "BN_EPSILON"]

# PyTorch BatchNorm2d defaults: momentum 0.1 (Keras: 1 - 0.1) and eps 1e-5.
BN_MOMENTUM = 0.9
BN_EPSILON = 1e-5


def mnist_cnn(keras, input_shape=(28, 28, 1), num_classes=10, dropout=0.5, classifier_activation="softmax",
              name="mnist_cnn"):
    """The MNIST CNN: ``Conv(32, 3x3, ReLU) -> MaxPool 2 -> Conv(64, 3x3, ReLU) -> MaxPool 2
    -> Flatten -> Dropout -> Dense(num_classes)``, built with ``keras`` (see `tf_sfw.models.mnist_cnn`)."""
    input_shape = check_input_shape(input_shape)
    check_num_classes(num_classes)
    classifier_activation = check_classifier_activation(classifier_activation)
    dropout = validation.check_fraction(dropout, "dropout")
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Conv2D(32, 3, activation="relu", name="conv2d")(inputs)
    x = keras.layers.MaxPooling2D(2, name="max_pooling2d")(x)
    x = keras.layers.Conv2D(64, 3, activation="relu", name="conv2d_1")(x)
    x = keras.layers.MaxPooling2D(2, name="max_pooling2d_1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="dense")(x)
    return keras.Model(inputs, outputs, name=name)


def simple_cnn(keras, input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax", name="simple_cnn"):
    """LeNet-style network: ``Conv(6, 5x5) -> MaxPool -> Conv(16, 5x5) -> MaxPool -> Flatten
    -> Dense(120) -> Dense(84) -> Dense(num_classes)``, built with ``keras`` (see `tf_sfw.models.simple_cnn`)."""
    input_shape = check_input_shape(input_shape, min_spatial=16)
    check_num_classes(num_classes)
    classifier_activation = check_classifier_activation(classifier_activation)
    inputs = keras.Input(shape=input_shape, name="input")
    x = keras.layers.Conv2D(6, 5, activation="relu", name="conv1")(inputs)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool2")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(120, activation="relu", name="fc1")(x)
    x = keras.layers.Dense(84, activation="relu", name="fc2")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="fc3")(x)
    return keras.Model(inputs, outputs, name=name)


def scaled_width(filters, width):
    """``max(1, round(width · filters))``: the filter count of a stage under a width multiplier."""
    return max(1, int(round(width * filters)))


def _bn(keras, name):
    return keras.layers.BatchNormalization(momentum=BN_MOMENTUM, epsilon=BN_EPSILON, name=name)


def _conv(keras, filters, kernel_size, strides, name, kernel_initializer):
    return keras.layers.Conv2D(filters, kernel_size, strides=strides, padding="same", use_bias=False,
                               kernel_initializer=kernel_initializer, name=name)


def _basic_block(keras, x, filters, strides, prefix, kernel_initializer):
    shortcut = x
    y = _conv(keras, filters, 3, strides, f"{prefix}_conv1", kernel_initializer)(x)
    y = _bn(keras, f"{prefix}_bn1")(y)
    y = keras.layers.ReLU(name=f"{prefix}_relu1")(y)
    y = _conv(keras, filters, 3, 1, f"{prefix}_conv2", kernel_initializer)(y)
    y = _bn(keras, f"{prefix}_bn2")(y)
    if strides != 1 or x.shape[-1] != filters:
        shortcut = _conv(keras, filters, 1, strides, f"{prefix}_shortcut_conv", kernel_initializer)(x)
        shortcut = _bn(keras, f"{prefix}_shortcut_bn")(shortcut)
    y = keras.layers.Add(name=f"{prefix}_add")([y, shortcut])
    return keras.layers.ReLU(name=f"{prefix}_relu2")(y)


def resnet18(keras, input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax",
             kernel_initializer="he_normal", width=1.0, name="resnet18"):
    """ResNet-18, CIFAR variant (3x3 stem, no max-pool), built with ``keras`` (see `tf_sfw.models.resnet18`)."""
    input_shape = check_input_shape(input_shape, min_spatial=8)
    check_num_classes(num_classes)
    classifier_activation = check_classifier_activation(classifier_activation)
    width = validation.check_positive_number(width, "width")
    inputs = keras.Input(shape=input_shape, name="input")
    x = _conv(keras, scaled_width(64, width), 3, 1, "conv1", kernel_initializer)(inputs)
    x = _bn(keras, "bn1")(x)
    x = keras.layers.ReLU(name="relu1")(x)
    for stage, (filters, strides) in enumerate([(64, 1), (128, 2), (256, 2), (512, 2)], start=1):
        filters = scaled_width(filters, width)
        x = _basic_block(keras, x, filters, strides, f"stage{stage}_block1", kernel_initializer)
        x = _basic_block(keras, x, filters, 1, f"stage{stage}_block2", kernel_initializer)
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="fc")(x)
    return keras.Model(inputs, outputs, name=name)
