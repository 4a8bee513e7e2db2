"""The one place where the Keras implementation is chosen.

tf_sfw uses the Keras 2 API (`tf_keras`) everywhere, because
tensorflow-model-optimization's pruning wrappers only accept Keras 2 models.
Every other module does ``from tf_sfw._keras import keras``.
"""

import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tf_keras as keras  # noqa: E402

__all__ = ["keras"]
