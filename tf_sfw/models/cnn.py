"""Small convolutional networks (tf_keras): the MNIST CNN and the LeNet-style CIFAR net.

Both builders return functional, uncompiled :class:`keras.Model` objects whose
layer names are fixed (so pruning masks keyed by ``"<layer>/<weight>"`` are
stable between runs). The layer graphs are those of `tf_sfw.models.graphs`, shared with
`tf_sfw.keras3.models`.
"""

from tf_sfw._keras import keras
from tf_sfw.models import graphs

__all__ = ["mnist_cnn", "simple_cnn"]


def mnist_cnn(input_shape=(28, 28, 1), num_classes=10, dropout=0.5, classifier_activation="softmax", name="mnist_cnn"):
    """The MNIST CNN of the one-shot pruning experiments (Miao et al., ICLR 2022).

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
    return graphs.mnist_cnn(keras, input_shape, num_classes, dropout, classifier_activation, name)

def simple_cnn(input_shape=(32, 32, 3), num_classes=10, classifier_activation="softmax", name="simple_cnn"):
    """LeNet-style CIFAR network (the PyTorch-tutorial "Net").

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
    return graphs.simple_cnn(keras, input_shape, num_classes, classifier_activation, name)
