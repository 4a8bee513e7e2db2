"""Model builders: functional, uncompiled tf_keras models with stable layer names.

Names are resolved on first use (PEP 562 module ``__getattr__``): importing the package
does not import TensorFlow until a builder is touched.
"""

from tf_sfw import _lazy

_NAMES = {
    "MODELS": ("tf_sfw.models.registry", "MODELS"),
    "VGG16_CONFIG": ("tf_sfw.models.vgg", "VGG16_CONFIG"),
    "build_model": ("tf_sfw.models.registry", "build_model"),
    "get_model": ("tf_sfw.models.registry", "get_model"),
    "mnist_cnn": ("tf_sfw.models.cnn", "mnist_cnn"),
    "resnet18": ("tf_sfw.models.resnet", "resnet18"),
    "resnet18_tiny_imagenet": ("tf_sfw.models.resnet", "resnet18_tiny_imagenet"),
    "simple_cnn": ("tf_sfw.models.cnn", "simple_cnn"),
    "vgg16": ("tf_sfw.models.vgg", "vgg16"),
}

__all__ = _lazy.install(__name__, _NAMES)
