"""Worker and fixtures of `tests/test_keras3_pruning.py`: Keras 3 pruning on each backend.

Keras 3 fixes its backend at first import and the rest of the suite imports tf_keras in the
test process, so the Keras 3 pruning checks run in subprocesses (``python
tests/keras3_pruning_runner.py OUT`` with ``KERAS_BACKEND`` set), one per backend and test
session, all started at once. Each worker saves what it computed to ``OUT`` (``.npz``) and
``OUT.json``; the tests compare that to NumPy references in the test process.
"""

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

#: Sparsities checked against the NumPy reference (0.999 keeps one entry: the cap).
MASK_SPARSITIES = (0.0, 0.3, 0.55, 0.999)
#: Sparsities of the sweep.
SWEEP_SPARSITIES = (0.0, 0.5, 0.9)
FINE_TUNE_SPARSITY = 0.6
FINE_TUNE_EPOCHS, FINE_TUNE_STEPS, BATCH = 2, 3, 32


def _errors(run):
    """``{name: message}`` of the ValueErrors raised by each call of ``run``."""
    messages = {}
    for name, call in run.items():
        try:
            call()
            messages[name] = None
        except ValueError as err:
            messages[name] = str(err)
    return messages


def worker(out):  # noqa: C901  (one pass computing everything once)
    import keras

    from tf_sfw.keras3 import pruning as P

    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    arrays, report = {}, {"backend": backend}
    x = rng.standard_normal((200, 6)).astype("float32")
    y = (x[:, 0] + x[:, 1] > 0).astype("int32") + (x[:, 2] > 0.7).astype("int32")
    arrays["x"], arrays["y"] = x, y

    report["tf_after_import"] = "tensorflow" in sys.modules
    # (No keras.utils.set_random_seed: it imports TensorFlow when installed. Weights that
    # matter are assigned from NumPy generators.)

    # 1. Masks of a nested model, tied magnitudes (multiples of 0.25, with exact zeros).
    inner = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(5, name="d1"), keras.layers.BatchNormalization(name="bn")], name="enc"
    )
    inputs = keras.Input((6,))
    hidden = keras.layers.Conv1D(3, 2, name="conv")(keras.layers.Reshape((6, 1))(inputs))
    outputs = keras.layers.Dense(3, name="head")(keras.layers.Concatenate()([inner(inputs), keras.layers.Flatten()(hidden)]))
    nested = keras.Model(inputs, outputs, name="nested")
    every = P.prunable_weights(nested, include_bias=True, include_batchnorm=True)
    for key, variable in every.items():
        variable.assign((rng.integers(-4, 5, tuple(variable.shape)) * 0.25).astype("float32"))
        arrays[f"w|{key}"] = keras.ops.convert_to_numpy(variable)
    report["keys"] = list(P.prunable_weights(nested))
    report["keys_all"] = list(every)
    report["keys_layers"] = list(P.prunable_weights(nested, layers=["enc/d1", "head"]))
    for scope in ("global", "layerwise"):
        for s in MASK_SPARSITIES:
            for extra in (False, True):
                masks = P.magnitude_masks(nested, s, scope=scope, include_bias=extra, include_batchnorm=extra)
                for key, mask in masks.items():
                    arrays[f"mask|{scope}|{s}|{extra}|{key}"] = mask
    for key, mask in P.magnitude_masks(nested, {"head/kernel": 0.5}, scope="layerwise").items():
        arrays[f"mask|dict|{key}"] = mask
    masks = P.magnitude_masks(nested, 0.55)
    before = {k: keras.ops.convert_to_numpy(v) for k, v in every.items()}
    report["apply_returns_model"] = P.apply_masks(nested, masks) is nested
    for key, variable in every.items():
        arrays[f"applied|{key}"] = keras.ops.convert_to_numpy(variable)
        variable.assign(before[key])

    # 2. Fine-tuning with fixed masks; the same training without them as the control.
    def classifier():
        model = keras.Sequential(
            [
                keras.Input((6,)),
                keras.layers.Dense(16, activation="relu", name="hidden", kernel_constraint=keras.constraints.MaxNorm(5.0)),
                keras.layers.Dense(3, activation="softmax", name="out"),
            ],
            name="clf",
        )
        init = np.random.default_rng(1)
        for variable in model.weights:
            variable.assign(init.uniform(-0.6, 0.6, tuple(variable.shape)).astype("float32"))
        return model

    model = classifier()
    own_constraint = model.get_layer("hidden").kernel.constraint
    ft_masks = P.magnitude_masks(model, FINE_TUNE_SPARSITY)
    for key, variable in P.prunable_weights(model).items():
        arrays[f"ft_before|{key}"] = keras.ops.convert_to_numpy(variable)
        arrays[f"ft_mask|{key}"] = ft_masks[key]
    seen = {}

    class Probe(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if hasattr(self.model, "jax_state_sync"):  # JAX: the trainer's state into the variables
                self.model.jax_state_sync()
            weights = P.prunable_weights(self.model)
            seen["pruned_nonzero"] = seen.get("pruned_nonzero", 0) + sum(
                int(np.count_nonzero(keras.ops.convert_to_numpy(weights[k])[ft_masks[k] == 0])) for k in ft_masks
            )
            seen["batches"] = seen.get("batches", 0) + 1
            c = self.model.get_layer("hidden").kernel.constraint
            seen["held"] = type(c).__name__
            seen["wraps_own"] = getattr(c, "constraint", None) is own_constraint
            seen["held_keys"] = sorted(P.held_masks(self.model))

    history = P.fine_tune(model, ft_masks, x, y, epochs=FINE_TUNE_EPOCHS, steps=FINE_TUNE_STEPS, batch_size=BATCH,
                          callbacks=[Probe()])
    report["ft_iterations"] = int(keras.ops.convert_to_numpy(model.optimizer.iterations))
    report["ft_epochs_run"] = len(history.history["loss"])
    report["ft_seen"] = seen
    report["ft_constraint_restored"] = model.get_layer("hidden").kernel.constraint is own_constraint
    report["ft_out_constraint"] = repr(model.get_layer("out").kernel.constraint)
    report["ft_held_after"] = sorted(P.held_masks(model))
    for key, variable in P.prunable_weights(model).items():
        arrays[f"ft_after|{key}"] = keras.ops.convert_to_numpy(variable)
    control = classifier()
    P.apply_masks(control, ft_masks)
    control.compile(P.default_fine_tune_optimizer(), "sparse_categorical_crossentropy")
    control.fit(x, y, epochs=FINE_TUNE_EPOCHS, steps_per_epoch=FINE_TUNE_STEPS, batch_size=BATCH, verbose=0)
    for key, variable in P.prunable_weights(control).items():
        arrays[f"control|{key}"] = keras.ops.convert_to_numpy(variable)
    # A user's own fit loop inside `fixed_masks`, with another optimizer (Adam), and a later
    # plain fit of the same model: the compiled step is retraced without the masks.
    user = classifier()
    user.compile(keras.optimizers.Adam(0.05), "sparse_categorical_crossentropy")
    user.fit(x, y, epochs=1, steps_per_epoch=1, batch_size=BATCH, verbose=0)  # a step traced before
    with P.fixed_masks(user, ft_masks):
        user.fit(x, y, epochs=1, steps_per_epoch=FINE_TUNE_STEPS, batch_size=BATCH, verbose=0)
        for key, variable in P.prunable_weights(user).items():  # still held: before the release
            arrays[f"user|{key}"] = keras.ops.convert_to_numpy(variable)
    user.fit(x, y, epochs=1, steps_per_epoch=FINE_TUNE_STEPS, batch_size=BATCH, verbose=0)
    for key, variable in P.prunable_weights(user).items():
        arrays[f"user_released|{key}"] = keras.ops.convert_to_numpy(variable)

    # 3. Sweep (restores the weights) and evaluation.
    model = classifier()
    for variable in model.weights:
        arrays[f"sw_before|{variable.path}"] = keras.ops.convert_to_numpy(variable)
    report["sw_paths"] = [v.path for v in model.weights]
    report["sweep_global"] = P.sweep(model, x, y, SWEEP_SPARSITIES, scope="global", batch_size=64)
    report["sweep_layerwise"] = P.sweep(model, (x, y), sparsities=[0.5], scope="layerwise")
    for variable in model.weights:
        arrays[f"sw_after|{variable.path}"] = keras.ops.convert_to_numpy(variable)
    report["evaluate"] = list(P.evaluate_classifier(model, x, y, batch_size=50))

    def fail(sparsity, pruned):
        if sparsity > 0.2:
            raise RuntimeError("stop")

    try:
        P.sweep(model, x, y, [0.0, 0.5], callback=fail)
    except RuntimeError:
        pass
    for variable in model.weights:
        arrays[f"sw_after_error|{variable.path}"] = keras.ops.convert_to_numpy(variable)

    # 3b. Least-squares refit of a small CNN (same-padded strided Conv2D, Dense): weights from NumPy.
    conv_in = keras.Input((7, 7, 2))
    h = keras.layers.Conv2D(3, 3, strides=2, padding="same", name="conv")(conv_in)
    h = keras.layers.ReLU()(h)
    h = keras.layers.Conv2D(4, 2, padding="valid", use_bias=False, name="conv2")(h)
    cnn = keras.Model(conv_in, keras.layers.Dense(2, name="fc")(keras.layers.Flatten()(h)))
    cnn.set_weights([rng.standard_normal(tuple(w.shape)).astype("float32") for w in cnn.weights])
    x_cal = rng.standard_normal((24, 7, 7, 2)).astype("float32")
    rec_masks = P.magnitude_masks(cnn, 0.6)
    for w in cnn.weights:
        arrays[f"rec_dense|{w.path}"] = keras.ops.convert_to_numpy(w)
    report["rec_returns_model"] = P.reconstruct(cnn, rec_masks, x_cal, batch_size=10) is cnn  # in place
    for w in cnn.weights:
        arrays[f"rec_refit|{w.path}"] = keras.ops.convert_to_numpy(w)
    arrays["rec_x"] = x_cal
    report["rec_weight_order"] = [w.path for w in cnn.weights]
    report["rec_errors"] = _errors({
        "damping": lambda: P.reconstruct(cnn, rec_masks, x_cal, damping=0.0),
        "calibration": lambda: P.reconstruct(cnn, rec_masks, x_cal[:0]),
        "mask_key": lambda: P.reconstruct(cnn, {"nope/kernel": np.ones(3)}, x_cal),
    })
    report["tf_before_export"] = "tensorflow" in sys.modules

    # 4. Export: .keras on every backend, SavedModel on TensorFlow.
    directory = os.path.join(os.path.dirname(out), "export")
    P.apply_masks(model, P.magnitude_masks(model, 0.5))
    paths = P.export_model(model, directory, config={"dataset": "toy"})
    report["export_paths"] = {k: os.path.relpath(v, directory) for k, v in paths.items()}
    expected = keras.ops.convert_to_numpy(model.predict(x, verbose=0))
    reloaded = P.load_keras_model(directory)
    arrays["pred"] = expected
    arrays["pred_keras"] = keras.ops.convert_to_numpy(reloaded.predict(x, verbose=0))
    report["reloaded_zeros"] = int(sum(int(np.sum(keras.ops.convert_to_numpy(w) == 0)) for w in reloaded.weights))
    report["model_zeros"] = int(sum(int(np.sum(keras.ops.convert_to_numpy(w) == 0)) for w in model.weights))
    if backend == "tensorflow":
        loaded = P.load_exported(directory)
        arrays["pred_saved_model"] = P.predict_exported(loaded, x)
        arrays["pred_saved_model_batch1"] = P.predict_exported(loaded, x[:1])
        report["errors_tf"] = _errors({"uint8": lambda: P.predict_exported(loaded, (x * 0).astype("uint8"))})

    # 5. Bad inputs.
    report["errors"] = _errors(
        {
            "sparsity": lambda: P.magnitude_masks(model, 1.5),
            "scope": lambda: P.magnitude_masks(model, 0.5, scope="row"),
            "model": lambda: P.magnitude_masks("not a model", 0.5),
            "layers": lambda: P.prunable_weights(model, layers=["nope"]),
            "mask_key": lambda: P.apply_masks(model, {"nope/kernel": np.ones(3)}),
            "mask_shape": lambda: P.apply_masks(model, {"out/kernel": np.ones((2, 2))}),
            "mask_values": lambda: P.apply_masks(model, {"out/kernel": np.full((16, 3), 0.5)}),
            "masks_empty": lambda: P.fine_tune(model, {}, x, y),
            "epochs": lambda: P.fine_tune(model, ft_masks, x, y, epochs=-1),
            "steps": lambda: P.fine_tune(model, ft_masks, x, y, steps=0),
            "sparsities": lambda: P.sweep(model, x, y, [0.5, 1.0]),
            "sweep_scope": lambda: P.sweep(model, x, y, [0.5], scope="row"),
            "y_length": lambda: P.evaluate_classifier(model, x, y[:10]),
            "y_missing": lambda: P.evaluate_classifier(model, x),
            "load_missing": lambda: P.load_keras_model(os.path.join(directory, "missing.keras")),
            "saved_model": lambda: P.export_model(model, directory, saved_model=True) if backend != "tensorflow" else None,
        }
    )
    np.savez(out, **arrays)
    with open(out + ".json", "w") as f:
        json.dump(report, f)


#: Keras 3 backends whose packages are installed here (JAX and PyTorch are optional).
BACKENDS = tuple(b for b in ("jax", "tensorflow", "torch") if importlib.util.find_spec(b) is not None)


def _start(backend, out):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
    return subprocess.Popen(
        [sys.executable, os.path.abspath(__file__), out],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="session")
def keras3_pruning_runs(tmp_path_factory):
    """Starts one worker per installed backend at once; ``{backend: OUT path}``."""
    outs = {b: str(tmp_path_factory.mktemp(f"k3p_{b}") / "out.npz") for b in BACKENDS}
    procs = {b: _start(b, out) for b, out in outs.items()}
    try:
        for backend, proc in procs.items():
            _, stderr = proc.communicate(timeout=300)
            assert proc.returncode == 0, f"{backend} worker failed:\n{stderr[-4000:]}"
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return outs


@pytest.fixture(scope="session", params=["jax", "tensorflow", "torch"])
def keras3_pruning(request, keras3_pruning_runs):
    """``(arrays, report)`` of one backend's worker."""
    if request.param not in BACKENDS:
        pytest.skip(f"Keras 3 backend {request.param!r}: the {request.param} package is not installed")
    out = keras3_pruning_runs[request.param]
    with open(out + ".json") as f:
        report = json.load(f)
    assert report["backend"] == request.param
    return np.load(out), report


if __name__ == "__main__":
    worker(sys.argv[1])
