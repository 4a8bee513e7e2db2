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


# ----------------------------------------------------------------------------------------
# Input contract: serving_default takes float32 in [0, 1], serving_raw takes uint8 pixels


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """``(model, loaded export)`` of one tiny model, shared by the signature tests."""
    model = tiny_model(seed=1)
    directory = export_model(model, str(tmp_path_factory.mktemp("exp") / "exp"), keras_copy=False)
    return model, load_exported(directory)


def test_signatures_document_their_inputs(exported):
    _, loaded = exported
    assert set(loaded.signatures) == {"serving_default", "serving_raw"}
    specs = {name: fn.structured_input_signature[1]["inputs"] for name, fn in loaded.signatures.items()}
    assert specs["serving_default"].dtype.name == "float32" and specs["serving_raw"].dtype.name == "uint8"
    assert specs["serving_default"].shape.as_list() == specs["serving_raw"].shape.as_list() == [None, 6, 6, 1]


@pytest.mark.parametrize("batch", [1, 7])
def test_raw_uint8_input_gives_the_same_predictions_as_scaled_input(exported, batch):
    model, loaded = exported
    raw = np.random.default_rng(batch).integers(0, 256, size=(batch, 6, 6, 1), dtype=np.uint8)
    scaled = raw.astype(np.float32) / 255.0  # what tf_sfw.data feeds the model in training
    reference = model(scaled, training=False).numpy()
    from_default = loaded.signatures["serving_default"](inputs=scaled)["predictions"].numpy()
    from_raw = loaded.signatures["serving_raw"](inputs=raw)["predictions"].numpy()
    np.testing.assert_allclose(from_raw, from_default, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(from_raw, reference, rtol=1e-5, atol=1e-6)
    # predict_exported picks serving_raw for uint8 arrays: raw pixels are no longer read as [0, 1] inputs
    np.testing.assert_array_equal(predict_exported(loaded, raw), from_raw)
    np.testing.assert_array_equal(predict_exported(loaded, scaled), from_default)
    unscaled = predict_exported(loaded, raw.astype(np.float32), signature="serving_default")
    assert not np.allclose(unscaled, reference, atol=1e-3)  # the silent failure the raw signature avoids


def test_predict_exported_unknown_signature(exported):
    _, loaded = exported
    with pytest.raises(ValueError, match="serving_raw"):
        predict_exported(loaded, np.zeros((1, 6, 6, 1), np.float32), signature="nope")


def test_export_config_json(tmp_path):
    import json

    directory = export_model(tiny_model(), str(tmp_path / "exp"), keras_copy=False, config={"dataset": "fashion_mnist"})
    assert json.loads((tmp_path / "exp" / "config.json").read_text()) == {"dataset": "fashion_mnist"}
    assert load_exported(directory) is not None  # the extra file does not disturb the SavedModel
    with pytest.raises(ValueError, match="`config` must be a dict"):
        export_model(tiny_model(), str(tmp_path / "exp2"), config="mnist")


def test_load_keras_model_uses_saving_load_model(tmp_path, monkeypatch):
    """One model loader: pruning.export.load_keras_model goes through tf_sfw.saving.load_model."""
    import tf_sfw.pruning.export as export_lib
    import tf_sfw.saving as saving

    directory = export_model(tiny_model(), str(tmp_path / "exp"))
    calls = []

    def spy(path, *args, **kwargs):
        calls.append(path)
        return saving.load_model(path, *args, **kwargs)

    monkeypatch.setattr(export_lib, "load_model", spy)
    load_keras_model(directory)
    assert calls == [os.path.join(directory, "model.keras")]
