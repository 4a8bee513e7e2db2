"""Look up model builders by name (used by the training CLI).

`MODELS` maps each name to its tf_keras builder. It is a read-only mapping that imports a
builder's module (and so tf_keras / TensorFlow) only when that builder is looked up: listing
the names (``tuple(MODELS)``, ``name in MODELS``) imports nothing, so that configurations can be
validated in Keras 3 processes that must not import TensorFlow.
"""

import collections.abc
import importlib

__all__ = ["MODELS", "get_model", "build_model"]

_BUILDERS = {
    "mnist_cnn": ("tf_sfw.models.cnn", "mnist_cnn"),
    "simple_cnn": ("tf_sfw.models.cnn", "simple_cnn"),
    "resnet18": ("tf_sfw.models.resnet", "resnet18"),
    "resnet18_tiny_imagenet": ("tf_sfw.models.resnet", "resnet18_tiny_imagenet"),
    "vgg16": ("tf_sfw.models.vgg", "vgg16"),
}


class _Builders(collections.abc.Mapping):
    """``{name: builder}``, importing a builder's module on lookup."""

    def __getitem__(self, name):
        module, attribute = _BUILDERS[name]
        return getattr(importlib.import_module(module), attribute)

    def __iter__(self):
        return iter(_BUILDERS)

    def __len__(self):
        return len(_BUILDERS)

    def __repr__(self):
        return f"MODELS({', '.join(_BUILDERS)})"


MODELS = _Builders()


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
