"""Small convolutional networks: the MNIST CNN of seed 003 and the LeNet-style CIFAR net of seed 000.

Both builders return functional, uncompiled :class:`keras.Model` objects whose
layer names are fixed (so pruning masks keyed by ``"<layer>/<weight>"`` are
stable between runs).
"""

from tf_sfw import validation
from tf_sfw._keras import keras
from tf_sfw.models._common import check_classifier_activation, check_input_shape, check_num_classes

__all__ = ["mnist_cnn", "simple_cnn"]


def mnist_cnn(input_shape=(28, 28, 1), num_classes=10, dropout=0.5, classifier_activation="softmax", name="mnist_cnn"):
    """The MNIST CNN of seed 003 (SPEC §6).

    ``Conv(32, 3x3, ReLU) -> MaxPool 2 -> Conv(64, 3x3, ReLU) -> MaxPool 2 -> Flatten
    -> Dropout(0.5) -> Dense(num_classes, softmax)``.

    For the default 28x28x1 input the parameter count is
    ``(3·3·1·32 + 32) + (3·3·32·64 + 64) + (5·5·64·10 + 10) = 320 + 18 496 + 16 010 = 34 826``.

    Args:
        input_shape: ``(height, width, channels)`` of one image.
        num_classes: Number of output classes (>= 2).
        dropout: Dropout rate in ``[0, 1)`` before the classifier.
        classifier_activation: Activation of the last layer, ``"softmax"`` (default) or ``None`` for logits.
        name: Model name.

    Returns:
        An uncompiled functional ``keras.Model``.
    """
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


def simple_cnn(input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax", name="simple_cnn"):
    """LeNet-style CIFAR network used by seed 000 (the PyTorch-tutorial "Net").

    ``Conv(6, 5x5, ReLU) -> MaxPool 2 -> Conv(16, 5x5, ReLU) -> MaxPool 2 -> Flatten
    -> Dense(120, ReLU) -> Dense(84, ReLU) -> Dense(num_classes)``.

    For 32x32x3 inputs and 10 classes the parameter count is
    ``456 + 2 416 + 48 120 + 10 164 + 850 = 62 006`` (identical to the PyTorch net).
    Note: Keras flattens NHWC feature maps, PyTorch NCHW; the function computed is the
    same family, only the order of the 400 flattened features differs.

    Args:
        input_shape: ``(height, width, channels)`` of one image; height and width >= 16
            (so that both valid 5x5 convolutions and 2x2 pools leave at least one pixel).
        num_classes: Number of output classes (>= 2).
        classifier_activation: ``"softmax"`` (default) or ``None`` for logits.
        name: Model name.

    Returns:
        An uncompiled functional ``keras.Model``.
    """
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
