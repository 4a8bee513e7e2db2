"""Export of pruned models: a SavedModel with a serving signature, plus a ``.keras`` copy.

Layout of an export directory (default ``saved_models/<name>/``)::

    saved_model.pb, variables/, assets/, fingerprint.pb   # tf.saved_model.save
    model.keras                                           # Keras copy, for further training

The SavedModel's ``serving_default`` signature takes the model input (any batch size)
under the name ``inputs`` and returns ``{"predictions": model(inputs, training=False)}``.
Pruning wrappers are stripped first (:func:`tf_sfw.pruning.masks.strip`), so pruned
weights are stored as exact zeros.
"""

import os

import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.masks import is_pruned, strip

__all__ = ["DEFAULT_EXPORT_ROOT", "KERAS_FILENAME", "export_model", "load_exported", "predict_exported", "load_keras_model"]

#: Default parent folder of exports.
DEFAULT_EXPORT_ROOT = "saved_models"
#: File name of the Keras copy inside an export directory.
KERAS_FILENAME = "model.keras"


def export_model(model, directory=None, name=None, keras_copy=True):
    """Exports ``model`` (stripped of pruning wrappers) as a SavedModel and a ``.keras`` file.

    Args:
        model: A plain or pruning-wrapped ``keras.Model`` with one input.
        directory: Target directory; default ``saved_models/<name>``.
        name: Export name used when ``directory`` is not given (default: the model name).
        keras_copy: Also write ``<directory>/model.keras``.

    Returns:
        The export directory path.

    Raises:
        ValueError: If ``model`` is not a Keras model or has more than one input.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if len(model.inputs) != 1:
        raise ValueError(f"`model` must have exactly one input to export. Received a model with {len(model.inputs)} inputs.")
    if directory is None:
        directory = os.path.join(DEFAULT_EXPORT_ROOT, name or model.name)
    plain = strip(model) if is_pruned(model) else model
    spec = tf.TensorSpec(shape=plain.inputs[0].shape, dtype=plain.inputs[0].dtype, name="inputs")

    @tf.function(input_signature=[spec])
    def serve(inputs):
        return {"predictions": plain(inputs, training=False)}

    module = tf.Module()
    module.model = plain
    module.serve = serve
    os.makedirs(directory, exist_ok=True)
    tf.saved_model.save(module, directory, signatures={"serving_default": serve})
    if keras_copy:
        plain.save(os.path.join(directory, KERAS_FILENAME))
    return directory


def load_exported(directory):
    """``tf.saved_model.load`` of an export directory."""
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an export directory. Received: directory={directory!r} (not found)")
    return tf.saved_model.load(directory)


def predict_exported(loaded, x):
    """Runs the ``serving_default`` signature of a loaded export on ``x``; returns a NumPy array."""
    fn = loaded.signatures["serving_default"]
    dtype = fn.structured_input_signature[1]["inputs"].dtype
    return fn(inputs=tf.convert_to_tensor(x, dtype=dtype))["predictions"].numpy()


def load_keras_model(path, compile=False):
    """Loads a Keras model from a ``.keras``/``.h5`` file, a Keras SavedModel directory, or an
    export directory of :func:`export_model` (its ``model.keras``).

    Args:
        path: File or directory.
        compile: Passed to ``keras.models.load_model``.

    Raises:
        ValueError: If ``path`` does not exist or holds no Keras model.
    """
    if not os.path.exists(path):
        raise ValueError(f"`model` path does not exist. Received: {path!r}")
    candidate = os.path.join(path, KERAS_FILENAME)
    if os.path.isdir(path) and os.path.isfile(candidate):
        path = candidate
    try:
        model = keras.models.load_model(path, compile=compile)
    except Exception as err:  # keras raises various types for unreadable files
        raise ValueError(f"Could not load a Keras model from {path!r}: {err}") from err
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} does not hold a Keras model (loaded {type(model).__name__}).")
    return model
