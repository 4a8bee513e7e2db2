"""Look up model builders by name (used by the training CLI)."""

from tf_sfw.models.cnn import mnist_cnn, simple_cnn
from tf_sfw.models.resnet import resnet18, resnet18_tiny_imagenet
from tf_sfw.models.vgg import vgg16

__all__ = ["MODELS", "get_model", "build_model"]

MODELS = {
    "mnist_cnn": mnist_cnn,
    "simple_cnn": simple_cnn,
    "resnet18": resnet18,
    "resnet18_tiny_imagenet": resnet18_tiny_imagenet,
    "vgg16": vgg16,
}


def get_model(name):
    """Return the builder function registered under ``name``.

    Raises:
        ValueError: if ``name`` is unknown (the message lists the known names).
    """
    if name not in MODELS:
        raise ValueError(f"`model` must be one of {sorted(MODELS)}. Received: model={name!r}")
    return MODELS[name]


def build_model(name, input_shape, num_classes, **kwargs):
    """Build model ``name`` for ``input_shape`` and ``num_classes`` (kwargs go to the builder)."""
    return get_model(name)(input_shape=tuple(input_shape), num_classes=num_classes, **kwargs)
