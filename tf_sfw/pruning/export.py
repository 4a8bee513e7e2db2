"""Export of pruned models: a SavedModel with documented serving signatures, plus a ``.keras`` copy.

Layout of an export directory (default ``saved_models/<name>/``)::

    saved_model.pb, variables/, assets/, fingerprint.pb   # tf.saved_model.save
    model.keras                                           # Keras copy, for further training
    config.json                                           # optional: e.g. {"dataset": "mnist"}

Input contract. The models of this package are trained on images scaled to ``[0, 1]``
(``uint8 / 255``, see :mod:`tf_sfw.data`); raw 0–255 pixels fed to such a model give wrong
predictions without any error. So the SavedModel has two signatures, both returning
``{"predictions": model(x, training=False)}`` for any batch size:

* ``serving_default`` takes ``inputs``: float32 (the model's input dtype) in ``[0, 1]``;
* ``serving_raw`` takes ``inputs``: uint8 pixels in ``[0, 255]`` and computes
  ``x = float32(inputs) / 255`` itself (only for models with a floating-point input).

:func:`predict_exported` picks ``serving_raw`` for uint8 arrays and ``serving_default``
otherwise. Pruning wrappers are stripped first (:func:`tf_sfw.pruning.masks.strip`), so pruned
weights are stored as exact zeros.
"""

import json
import os

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras
from tf_sfw.pruning.masks import is_pruned, strip
from tf_sfw.saving import load_model

__all__ = [
    "DEFAULT_EXPORT_ROOT",
    "KERAS_FILENAME",
    "CONFIG_FILENAME",
    "RAW_SIGNATURE",
    "export_model",
    "load_exported",
    "predict_exported",
    "load_keras_model",
]

#: Default parent folder of exports.
DEFAULT_EXPORT_ROOT = "saved_models"
#: File name of the Keras copy inside an export directory.
KERAS_FILENAME = "model.keras"
#: File name of the optional JSON settings inside an export directory (e.g. the data set).
CONFIG_FILENAME = "config.json"
#: Name of the signature that takes raw uint8 pixels in [0, 255].
RAW_SIGNATURE = "serving_raw"
#: Pixel scale of the training pipeline: model inputs are uint8 / 255.
PIXEL_SCALE = 255.0


def _signatures(plain):
    """``{"serving_default": fn, "serving_raw": fn}`` (the raw one only for floating-point inputs)."""
    shape, dtype = plain.inputs[0].shape, plain.inputs[0].dtype

    @tf.function(input_signature=[tf.TensorSpec(shape=shape, dtype=dtype, name="inputs")])
    def serve(inputs):
        """Model input as trained: float in [0, 1] (images divided by 255)."""
        return {"predictions": plain(inputs, training=False)}

    signatures = {"serving_default": serve}
    if dtype.is_floating:

        @tf.function(input_signature=[tf.TensorSpec(shape=shape, dtype=tf.uint8, name="inputs")])
        def serve_raw(inputs):
            """Raw uint8 pixels in [0, 255]; scaled to [0, 1] here."""
            return {"predictions": plain(tf.cast(inputs, dtype) / tf.constant(PIXEL_SCALE, dtype), training=False)}

        signatures[RAW_SIGNATURE] = serve_raw
    return signatures


def export_model(model, directory=None, name=None, keras_copy=True, config=None):
    """Exports ``model`` (stripped of pruning wrappers) as a SavedModel and a ``.keras`` file.

    The SavedModel's signatures are described in the module docstring: ``serving_default``
    (float inputs in ``[0, 1]``) and ``serving_raw`` (uint8 pixels in ``[0, 255]``).

    Args:
        model: A plain or pruning-wrapped ``keras.Model`` with one input.
        directory: Target directory; default ``saved_models/<name>``.
        name: Export name used when ``directory`` is not given (default: the model name).
        keras_copy: Also write ``<directory>/model.keras``.
        config: Optional JSON-serializable dict written to ``<directory>/config.json``, e.g.
            ``{"dataset": "mnist"}`` (read by ``tf-sfw prune``/``sweep`` to pick the data set).

    Returns:
        The export directory path.

    Raises:
        ValueError: If ``model`` is not a Keras model or has more than one input, or
            ``config`` is not a dict.
    """
    if not isinstance(model, keras.Model):
        raise ValueError(f"`model` must be a keras.Model. Received: model of type {type(model).__name__}")
    if len(model.inputs) != 1:
        raise ValueError(f"`model` must have exactly one input to export. Received a model with {len(model.inputs)} inputs.")
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"`config` must be a dict or None. Received: config of type {type(config).__name__}")
    if directory is None:
        directory = os.path.join(DEFAULT_EXPORT_ROOT, name or model.name)
    plain = strip(model) if is_pruned(model) else model
    signatures = _signatures(plain)
    module = tf.Module()
    module.model = plain
    for key, fn in signatures.items():
        setattr(module, key, fn)
    os.makedirs(directory, exist_ok=True)
    tf.saved_model.save(module, directory, signatures=signatures)
    if keras_copy:
        plain.save(os.path.join(directory, KERAS_FILENAME))
    if config is not None:
        with open(os.path.join(directory, CONFIG_FILENAME), "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    return directory


def load_exported(directory):
    """``tf.saved_model.load`` of an export directory."""
    if not os.path.isdir(directory):
        raise ValueError(f"`directory` must be an export directory. Received: directory={directory!r} (not found)")
    return tf.saved_model.load(directory)


def predict_exported(loaded, x, signature=None):
    """Runs a signature of a loaded export on ``x``; returns a NumPy array.

    Args:
        loaded: Result of :func:`load_exported`.
        x: Batch of inputs. uint8 arrays are raw pixels in ``[0, 255]``; other arrays are
            model inputs in ``[0, 1]``.
        signature: Signature name; default ``"serving_raw"`` for uint8 ``x`` and
            ``"serving_default"`` otherwise.

    Raises:
        ValueError: ``signature`` is not in the export, e.g. uint8 ``x`` for an export made
            before ``serving_raw`` existed (scale ``x`` to ``[0, 1]`` then).
    """
    raw = isinstance(x, np.ndarray) and x.dtype == np.uint8 or (tf.is_tensor(x) and x.dtype == tf.uint8)
    if signature is None:
        signature = RAW_SIGNATURE if raw else "serving_default"
    if signature not in loaded.signatures:
        raise ValueError(
            f"`signature` must be one of {sorted(loaded.signatures)}. Received: signature={signature!r}"
            + (" (uint8 input: scale it to float32 in [0, 1] and use serving_default)" if raw else "")
        )
    fn = loaded.signatures[signature]
    dtype = fn.structured_input_signature[1]["inputs"].dtype
    return fn(inputs=tf.convert_to_tensor(x, dtype=dtype))["predictions"].numpy()


def load_keras_model(path, compile=False):
    """Loads a Keras model from a ``.keras``/``.h5`` file, a Keras SavedModel directory, or an
    export directory of :func:`export_model` (its ``model.keras``), with :func:`tf_sfw.saving.load_model`.

    Args:
        path: File or directory.
        compile: Passed to :func:`tf_sfw.saving.load_model` (with ``True``, the optimizer state
            of a SavedModel is restored too).

    Raises:
        ValueError: If ``path`` does not exist or holds no Keras model.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"`path` does not exist. Received: path={path!r}")
    candidate = os.path.join(path, KERAS_FILENAME)
    if os.path.isdir(path) and os.path.isfile(candidate):
        path = candidate
    try:
        model = load_model(path, compile=compile)
    except Exception as err:  # keras raises various types for unreadable files
        raise ValueError(f"Could not load a Keras model from {path!r}: {err}") from err
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} does not hold a Keras model (loaded {type(model).__name__}).")
    return model
