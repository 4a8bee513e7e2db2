"""ResNet-18 for small images (CIFAR-10 32x32 and Tiny-ImageNet 64x64).

The CIFAR variant of He et al. (2016) used by Miao et al. (2022) and the
Pokutta-Spiegel-Zimmer reference code (``kuangliu/pytorch-cifar`` layout):

* stem: ``Conv(64, 3x3, stride 1, no bias) -> BN -> ReLU``, no max-pool;
* four stages of two BasicBlocks with 64, 128, 256, 512 filters, strides 1, 2, 2, 2; a
  BasicBlock is ``Conv3x3 -> BN -> ReLU -> Conv3x3 -> BN`` plus a shortcut (identity, or
  ``Conv1x1(stride) -> BN`` when the shape changes), then ReLU;
* global average pooling -> ``Dense(num_classes)``.

Exact parameter counts (trainable; ``model.count_params()`` additionally counts the
BatchNorm moving mean/variance, 9 600 non-trainable values):

=========================== ================ ============ ==============
variant                     input            trainable    count_params()
=========================== ================ ============ ==============
CIFAR-10 (10 classes)       32x32x3          11 173 962   11 183 562
Tiny-ImageNet (200 classes) 64x64x3          11 271 432   11 281 032
width 0.25, 10 classes      32x32x1          701 178      703 578
=========================== ================ ============ ==============

The trainable count equals PyTorch's ``ResNet18()`` of kuangliu/pytorch-cifar.
"""

from tf_sfw._keras import keras
from tf_sfw.models import graphs
from tf_sfw.models.graphs import scaled_width

__all__ = ["resnet18", "resnet18_tiny_imagenet", "scaled_width"]


def resnet18(
    input_shape=(32, 32, 3),
    num_classes=10,
    classifier_activation="softmax",
    kernel_initializer="he_normal",
    width=1.0,
    name="resnet18",
):
    """ResNet-18, CIFAR variant (3x3 stem, no max-pool), for any input size >= 8x8.

    Layer names: ``conv1``/``bn1`` (stem), ``stage{s}_block{b}_{conv1,bn1,conv2,bn2}``,
    ``stage{s}_block1_shortcut_{conv,bn}`` for s in 2..4, ``avg_pool``, ``fc``.

    Args:
        input_shape: ``(height, width, channels)``; 32x32x3 for CIFAR-10.
        num_classes: Number of output classes (>= 2).
        classifier_activation: ``"softmax"`` (default) or ``None`` for logits.
        kernel_initializer: Initializer of convolution kernels (``"he_normal"`` by default;
            the SFW ``initialization`` mode reads it to size each layer's polytope).
        width: Width multiplier ``w > 0``: the stem and stages get
            ``max(1, round(w·f))`` filters for ``f`` in 64, 64, 128, 256, 512 (1.0: the
            original network; 0.25: 16, 16, 32, 64, 128 filters).
        name: Model name.

    Returns:
        An uncompiled functional ``keras.Model`` (11 173 962 trainable parameters for
        CIFAR-10).
    """
    return graphs.resnet18(keras, input_shape, num_classes, classifier_activation, kernel_initializer, width, name)

def resnet18_tiny_imagenet(input_shape=(64, 64, 3), num_classes=200, **kwargs):
    """ResNet-18 for Tiny-ImageNet: the CIFAR architecture on 64x64 inputs, 200 classes.

    The stem keeps stride 1 and no max-pool (our choice: the CIFAR network unchanged except
    for input size and classifier), so the last stage works on 8x8 maps; global average pooling makes the head
    size-independent. 11 271 432 trainable parameters.

    Args:
        input_shape: Defaults to ``(64, 64, 3)``.
        num_classes: Defaults to 200.
        **kwargs: Forwarded to :func:`resnet18`.

    Returns:
        An uncompiled functional ``keras.Model``.
    """
    kwargs.setdefault("name", "resnet18_tiny_imagenet")
    return resnet18(input_shape=input_shape, num_classes=num_classes, **kwargs)
