"""Model builders: functional, uncompiled tf_keras models with stable layer names."""

from tf_sfw.models.cnn import mnist_cnn, simple_cnn
from tf_sfw.models.registry import MODELS, build_model, get_model
from tf_sfw.models.resnet import resnet18, resnet18_tiny_imagenet
from tf_sfw.models.vgg import VGG16_CONFIG, vgg16

__all__ = [
    "MODELS",
    "VGG16_CONFIG",
    "build_model",
    "get_model",
    "mnist_cnn",
    "resnet18",
    "resnet18_tiny_imagenet",
    "simple_cnn",
    "vgg16",
]
