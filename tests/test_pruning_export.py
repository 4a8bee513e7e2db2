"""Tests for tf_sfw.pruning.export (SavedModel round trip)."""

import os

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.export import export_model, load_exported, load_keras_model, predict_exported
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning.masks import apply_masks, prunable_weights, strip


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inp)
    x = keras.layers.BatchNormalization(name="bn")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(0.5)(x)
    out = keras.layers.Dense(3, activation="softmax", name="head")(x)
    return keras.Model(inp, out, name="tiny")


@pytest.mark.parametrize("wrapped", [True, False])
def test_saved_model_round_trip_same_predictions_and_zeros(tmp_path, wrapped):
    model = tiny_model()
    pruned = apply_masks(model, magnitude_masks(model, 0.8))
    x = np.random.default_rng(0).random((10, 6, 6, 1), dtype=np.float32)
    reference = pruned.predict(x, verbose=0)
    target = pruned if wrapped else strip(pruned)
    directory = export_model(target, str(tmp_path / "exp"))
    assert os.path.isfile(os.path.join(directory, "saved_model.pb"))
    loaded = load_exported(directory)
    np.testing.assert_allclose(predict_exported(loaded, x), reference, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(predict_exported(loaded, x[:1]), reference[:1], rtol=1e-5, atol=1e-6)  # any batch size
    # same zeros: each pruned kernel in the SavedModel has exactly the pruned model's zeros
    expected = {k: int(np.sum(v.numpy() == 0)) for k, v in prunable_weights(pruned).items()}
    saved = {}
    for v in loaded.model.variables if hasattr(loaded, "model") else loaded.variables:
        name = v.name.split(":")[0]
        for key in expected:
            if name.endswith(key):
                saved[key] = int(np.sum(v.numpy() == 0))
    assert saved == expected
    # the .keras copy reloads as a plain Keras model with the same predictions
    again = load_keras_model(directory)
    assert [l.name for l in again.layers] == [l.name for l in model.layers]
    np.testing.assert_allclose(again.predict(x, verbose=0), reference, rtol=1e-5, atol=1e-6)


def test_export_default_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    directory = export_model(tiny_model(), name="abc", keras_copy=False)
    assert directory == os.path.join("saved_models", "abc")
    assert os.path.isfile(tmp_path / "saved_models" / "abc" / "saved_model.pb")
    assert not os.path.exists(tmp_path / "saved_models" / "abc" / "model.keras")


def test_export_and_load_errors(tmp_path):
    with pytest.raises(ValueError, match="keras.Model"):
        export_model("nope", str(tmp_path))
    with pytest.raises(ValueError, match="not found"):
        load_exported(str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="does not exist"):
        load_keras_model(str(tmp_path / "missing.keras"))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="Could not load"):
        load_keras_model(str(bad))
