"""Loading models saved with an SFW (or any tf_keras) optimizer, state included."""

import os

import tensorflow as tf

from tf_sfw._keras import keras

__all__ = ["load_model"]


def load_model(path, custom_objects=None, compile=True):
    """`keras.models.load_model` that also restores the optimizer state of a SavedModel.

    A ``.keras`` file restores its optimizer state already. A SavedModel directory holds
    the optimizer's variables too, but tf_keras' loader leaves them unrestored (iterations
    and momentum slots come back as zeros, for every optimizer); this function builds the
    optimizer and restores them from the SavedModel's checkpoint, so that training continued
    after reload equals uninterrupted training.

    Args:
        path: A ``.keras`` / ``.h5`` file or a SavedModel directory.
        custom_objects: As for `keras.models.load_model`.
        compile: Whether to compile (and restore the optimizer).

    Raises:
        FileNotFoundError: if ``path`` does not exist.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"No saved model at `path`. Received: path={path!r}")
    model = keras.models.load_model(path, custom_objects=custom_objects, compile=compile)
    checkpoint = os.path.join(path, "variables", "variables")
    optimizer = getattr(model, "optimizer", None)
    if compile and optimizer is not None and os.path.isdir(path) and tf.io.gfile.exists(checkpoint + ".index"):
        optimizer.build(model.trainable_variables)
        model.load_weights(checkpoint).expect_partial()
    return model
