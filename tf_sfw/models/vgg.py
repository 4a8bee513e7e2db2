"""VGG-16 with BatchNorm, CIFAR head (``kuangliu/pytorch-cifar`` layout).

Configuration ``[64, 64, M, 128, 128, M, 256, 256, 256, M, 512, 512, 512, M, 512, 512, 512, M]``
where a number is ``Conv(n, 3x3, same, with bias) -> BN -> ReLU`` and ``M`` is a 2x2
max-pool; then global average pooling (identical to flattening the 1x1x512 map for 32x32
inputs) and a single ``Dense(num_classes)``.

Exact parameter counts (trainable; ``model.count_params()`` adds the 8 448 BatchNorm moving
statistics):

=========================== ================ ============ ==============
variant                     input            trainable    count_params()
=========================== ================ ============ ==============
CIFAR-10 (10 classes)       32x32x3          14 728 266   14 736 714
Tiny-ImageNet (200 classes) 64x64x3          14 825 736   14 834 184
=========================== ================ ============ ==============

The CIFAR-10 trainable count equals PyTorch's ``VGG('VGG16')`` of kuangliu/pytorch-cifar.
"""

from tf_sfw._keras import keras
from tf_sfw.models._common import check_classifier_activation, check_input_shape, check_num_classes

__all__ = ["vgg16", "VGG16_CONFIG"]

VGG16_CONFIG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(
    input_shape=(32, 32, 3),
    num_classes=10,
    classifier_activation="softmax",
    kernel_initializer="he_normal",
    name="vgg16",
):
    """VGG-16 with BatchNorm and the one-layer CIFAR classifier.

    Layer names: ``block{b}_conv{c}``, ``block{b}_bn{c}``, ``block{b}_relu{c}``,
    ``block{b}_pool`` (b = 1..5), ``avg_pool``, ``fc``.

    Args:
        input_shape: ``(height, width, channels)``; needs height and width >= 32 (five
            2x2 max-pools).
        num_classes: Number of output classes (>= 2).
        classifier_activation: ``"softmax"`` (default) or ``None`` for logits.
        kernel_initializer: Initializer of the convolution kernels.
        name: Model name.

    Returns:
        An uncompiled functional ``keras.Model`` (14 728 266 trainable parameters for
        CIFAR-10).
    """
    input_shape = check_input_shape(input_shape, min_spatial=32)
    check_num_classes(num_classes)
    classifier_activation = check_classifier_activation(classifier_activation)
    inputs = keras.Input(shape=input_shape, name="input")
    x = inputs
    block, conv = 1, 1
    for item in VGG16_CONFIG:
        if item == "M":
            x = keras.layers.MaxPooling2D(2, name=f"block{block}_pool")(x)
            block, conv = block + 1, 1
            continue
        x = keras.layers.Conv2D(
            item, 3, padding="same", kernel_initializer=kernel_initializer, name=f"block{block}_conv{conv}"
        )(x)
        x = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5, name=f"block{block}_bn{conv}")(x)
        x = keras.layers.ReLU(name=f"block{block}_relu{conv}")(x)
        conv += 1
    x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = keras.layers.Dense(num_classes, activation=classifier_activation, name="fc")(x)
    return keras.Model(inputs, outputs, name=name)
