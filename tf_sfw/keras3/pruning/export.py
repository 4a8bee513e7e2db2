"""Export of (pruned) Keras 3 models: a ``.keras`` file on every backend, plus a TensorFlow
SavedModel (``model.export``) on the TensorFlow backend.

Layout of an export directory (default ``saved_models/<name>/``), as in the tf_keras
flavour `tf_sfw.pruning.export`::

    model.keras                                           # every backend
    saved_model.pb, variables/, assets/, fingerprint.pb   # TensorFlow backend only
    config.json                                           # optional: e.g. {"dataset": "mnist"}

The SavedModel is Keras 3's own inference artifact (``model.export(directory,
format="tf_saved_model")``): a ``serve`` endpoint, also the ``serving_default`` signature,
computing ``model(x, training=False)`` for any batch size. It takes the model's inputs as
trained -- for the models of this package float32 images in ``[0, 1]`` (``uint8 / 255``);
:func:`predict_exported` refuses uint8 arrays for a float model rather than give wrong
predictions. Pruned weights are stored as exact zeros in both files; held masks
(`tf_sfw.keras3.pruning.fixed_masks`) are not part of either.

Only :func:`load_exported` / :func:`predict_exported` (and the export itself on the
TensorFlow backend) import TensorFlow.
"""

import json
import os

import keras
import numpy as np

__all__ = [
    "DEFAULT_EXPORT_ROOT",
    "KERAS_FILENAME",
    "CONFIG_FILENAME",
    "export_model",
    "load_keras_model",
    "load_exported",
    "predict_exported",
]

#: Default parent folder of exports.
DEFAULT_EXPORT_ROOT = "saved_models"
#: File name of the Keras copy inside an export directory.
KERAS_FILENAME = "model.keras"
#: File name of the optional JSON settings inside an export directory.
CONFIG_FILENAME = "config.json"


def export_model(model, directory=None, name=None, saved_model=None, config=None):
    """Writes ``model`` to ``<directory>/model.keras`` and, on TensorFlow, a SavedModel there.

    Args:
        model: A built Keras 3 ``keras.Model``.
        directory: Target directory; default ``saved_models/<name>``.
        name: Export name used when ``directory`` is not given (default: the model name).
        saved_model: Also write the SavedModel (``model.export``). ``None``: on the
            TensorFlow backend only; ``True`` on another backend is an error.
        config: Optional JSON-serializable dict written to ``<directory>/config.json``.

    Returns:
        ``{"directory": ..., "keras": ...}`` plus ``"saved_model"`` (the directory) and
        ``"config"`` when written.

    Raises:
        ValueError: For a model that is not a built Keras 3 model, ``saved_model=True`` on a
            backend other than TensorFlow, or a ``config`` that is not a dict.
    """
    if not isinstance(model, keras.Model) or not model.built:
        raise ValueError(
            f"`model` must be a built Keras 3 keras.Model. Received: model of type {type(model).__name__}"
        )
    backend = keras.backend.backend()
    if saved_model is None:
        saved_model = backend == "tensorflow"
    elif saved_model and backend != "tensorflow":
        raise ValueError(
            "`saved_model=True` needs the TensorFlow backend (KERAS_BACKEND=tensorflow). "
            f"Received: saved_model=True with backend={backend!r}"
        )
    if config is not None and not isinstance(config, dict):
        raise ValueError(f"`config` must be a dict or None. Received: config of type {type(config).__name__}")
    if directory is None:
        directory = os.path.join(DEFAULT_EXPORT_ROOT, name or model.name)
    directory = os.fspath(directory)
    os.makedirs(directory, exist_ok=True)
    paths = {"directory": directory}
    if saved_model:
        model.export(directory, format="tf_saved_model", verbose=False)
        paths["saved_model"] = directory
    paths["keras"] = os.path.join(directory, KERAS_FILENAME)
    model.save(paths["keras"])
    if config is not None:
        paths["config"] = os.path.join(directory, CONFIG_FILENAME)
        with open(paths["config"], "w") as f:
            json.dump(config, f, indent=2)
            f.write("\n")
    return paths


def load_keras_model(path, compile=False):
    """Loads a Keras 3 model from a ``.keras`` file or an export directory (its ``model.keras``).

    The optimizers and constraints of `tf_sfw.keras3` are registered first, so models
    compiled with ``tf_sfw.keras3.SFW`` load with ``compile=True``.

    Raises:
        ValueError: If ``path`` does not exist or holds no Keras model.
    """
    import tf_sfw.keras3.constraints  # noqa: F401  (registers the serializable classes)
    import tf_sfw.keras3.optimizers  # noqa: F401

    path = os.fspath(path)
    if not os.path.exists(path):
        raise ValueError(f"`path` does not exist. Received: path={path!r}")
    candidate = os.path.join(path, KERAS_FILENAME)
    if os.path.isdir(path):
        if not os.path.isfile(candidate):
            raise ValueError(f"`path` is a directory without {KERAS_FILENAME}. Received: path={path!r}")
        path = candidate
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as err:  # keras raises various types for unreadable files
        raise ValueError(f"Could not load a Keras model from {path!r}: {err}") from err
    if not isinstance(model, keras.Model):
        raise ValueError(f"{path!r} does not hold a Keras model (loaded {type(model).__name__}).")
    return model


def load_exported(directory):
    """``tf.saved_model.load`` of an export directory's SavedModel (imports TensorFlow)."""
    directory = os.fspath(directory)
    if not os.path.isfile(os.path.join(directory, "saved_model.pb")):
        raise ValueError(f"`directory` must hold a SavedModel (saved_model.pb). Received: directory={directory!r}")
    import tensorflow as tf  # local: only this function needs TensorFlow

    return tf.saved_model.load(directory)


def predict_exported(loaded, x):
    """Runs the ``serve`` endpoint of a loaded SavedModel on ``x``; returns a NumPy array.

    Raises:
        ValueError: For uint8 ``x`` when the model takes floats (scale raw pixels to
            ``[0, 1]`` first), or an artifact without a ``serve`` endpoint.
    """
    import tensorflow as tf  # local: only this function needs TensorFlow

    if not hasattr(loaded, "serve"):
        raise ValueError("`loaded` must be a SavedModel written by export_model() (it has no `serve` endpoint).")
    specs = tf.nest.flatten(loaded.signatures["serving_default"].structured_input_signature)
    dtype = specs[0].dtype
    x = np.asarray(x)
    if x.dtype == np.uint8 and dtype.is_floating:
        raise ValueError(
            f"`x` holds raw uint8 values but the model takes {dtype.name}: scale the pixels to [0, 1] "
            "(x / 255) as in training. Received: x of dtype uint8"
        )
    return np.asarray(loaded.serve(tf.convert_to_tensor(x, dtype=dtype)))
