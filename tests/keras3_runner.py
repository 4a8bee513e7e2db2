"""Runs the Keras 3 checks of `tests/test_keras3_*.py` in subprocesses (TensorFlow and JAX backends).

Keras 3 fixes its backend at first import and the rest of the suite imports tf_keras in
this process, so every Keras 3 check runs in a subprocess with ``KERAS_BACKEND`` set: one
worker per backend computes everything once per session (saved to an ``.npz`` / JSON), and
the tests compare it to NumPy references in the test process.
"""

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

SHAPE = (160, 128)  # 20480 entries: above the radix threshold, so radix selection runs
K = 1000
RADIUS = 0.05
LR = 0.7
MU = 0.9
ULR = 0.1
RESCALES = (None, "diameter", "gradient")

WORKER = textwrap.dedent(
    r'''
    import json, math, os, sys
    import numpy as np
    import keras
    from keras import ops
    import tf_sfw.keras3 as k3
    from tf_sfw import selection
    from tf_sfw.keras3 import _ops

    out = sys.argv[1]
    SHAPE, K, RADIUS, LR, MU, ULR = %(consts)s
    backend = keras.backend.backend()
    rng = np.random.default_rng(0)
    theta0 = (RADIUS * 0.04 * rng.uniform(-1, 1, SHAPE)).astype("float32")
    bias0 = rng.standard_normal(7).astype("float32")
    grads = [(rng.standard_normal(SHAPE).astype("float32"), rng.standard_normal(7).astype("float32")) for _ in range(3)]
    arrays = {"theta0": theta0, "bias0": bias0}
    for i, (gw, gb) in enumerate(grads):
        arrays[f"gw{i}"], arrays[f"gb{i}"] = gw, gb
    report = {"backend": backend}

    def make(rescale, **extra):
        w = keras.Variable(theta0, name="w")
        b = keras.Variable(bias0, name="b")
        cons = k3.VariableConstraints({"w": k3.KSparsePolytope(k=K, k_frac=None, mode="radius", value=RADIUS),
                                       "b": k3.Unconstrained()})
        opt = k3.SFW(learning_rate=LR, momentum=MU, rescale=rescale, constraints=cons,
                     unconstrained_learning_rate=ULR, **extra)
        opt.build([w, b])
        return w, b, opt

    def run(mode, rescale, **extra):
        """The 3 steps, eagerly or compiled (jax.jit of stateless_apply / XLA tf.function)."""
        w, b, opt = make(rescale, **extra)
        if mode == "eager":
            for gw, gb in grads:
                opt.apply([ops.convert_to_tensor(gw), ops.convert_to_tensor(gb)], [w, b])
        elif backend == "jax":  # the JAX path of model.fit: stateless_apply under jax.jit
            import jax
            step = jax.jit(opt.stateless_apply)
            tv, ov = [w.value, b.value], [v.value for v in opt.variables]
            for gw, gb in grads:
                tv, ov = step(ov, [gw, gb], tv)
            w, b = tv
        else:
            import tensorflow as tf
            step = tf.function(lambda gw, gb: opt.apply([gw, gb], [w, b]), jit_compile=True)
            for gw, gb in grads:
                step(tf.constant(gw), tf.constant(gb))
        return ops.convert_to_numpy(w), ops.convert_to_numpy(b)

    modes = ("eager",) if backend == "torch" else ("eager", "jit")  # torch: no compiled step to check
    for rescale in (None, "diameter", "gradient"):
        for mode in modes:
            if mode == "eager" and backend == "jax" and rescale != "gradient":
                continue  # eager JAX dispatch is slow: one rescale
            arrays[f"{mode}_{rescale}_w"], arrays[f"{mode}_{rescale}_b"] = run(mode, rescale)
    # K annealing: K = n at step 0, max(K, n / 2) at steps 1 and 2 (K from step 3).
    for mode in modes:
        if not (mode == "eager" and backend == "jax"):
            arrays[f"anneal_{mode}_w"], _ = run(mode, "gradient",
                                                k_annealing=k3.KAnnealing(boundaries=(1, 3), k_fracs=(1.0, 0.5)))
            for sgd_steps in (2, 3):  # steps 0, 1 by SGD then Frank-Wolfe; all three by SGD
                arrays[f"sgd_start{sgd_steps}_{mode}_w"], _ = run(mode, "gradient", sgd_steps=sgd_steps)

    # Config round trip.
    w, b, opt = make("gradient", k_annealing=k3.KAnnealing(boundaries=(1, 3), k_fracs=(1.0, 0.5)), sgd_steps=5)
    config = opt.get_config()
    again = k3.SFW.from_config(json.loads(json.dumps(config))).get_config()
    report["config"], report["config_again"] = config, again
    report["deserialized"] = type(keras.optimizers.deserialize(keras.optimizers.serialize(opt))).__name__

    # Radix vs top-k selection over keras.ops, with ties at the threshold.
    x = rng.standard_normal(40000).astype("float32")
    x[:60] = 2.5; x[100:140] = -2.5
    arrays["sel_x"] = x
    for k in (1, 50, 90, 1000, 40000):
        for sel in ("radix", "topk"):
            arrays[f"sel_t_{sel}_{k}"] = ops.convert_to_numpy(selection.kth_largest_magnitude(x, k, sel, _ops))
            arrays[f"sel_mask_{sel}_{k}"] = ops.convert_to_numpy(selection.top_k_magnitude_mask(x, k, sel, _ops))
            arrays[f"sel_w_{sel}_{k}"] = ops.convert_to_numpy(selection.top_k_weights(x, k, sel, _ops))

    # Expected initial norms in closed form vs the mean norm of draws.
    inits = {
        "glorot_uniform": keras.initializers.GlorotUniform(), "glorot_normal": keras.initializers.GlorotNormal(),
        "he_normal": keras.initializers.HeNormal(), "he_uniform": keras.initializers.HeUniform(),
        "lecun_normal": keras.initializers.LecunNormal(), "lecun_uniform": keras.initializers.LecunUniform(),
        "random_normal": keras.initializers.RandomNormal(0.1, 0.3), "random_uniform": keras.initializers.RandomUniform(-0.2, 0.5),
        "truncated_normal": keras.initializers.TruncatedNormal(0.0, 0.7), "orthogonal": keras.initializers.Orthogonal(1.5),
        "variance_scaling": keras.initializers.VarianceScaling(2.5, "fan_out", "truncated_normal"),
        "ones": keras.initializers.Ones(), "zeros": keras.initializers.Zeros(),
    }
    norms = {}
    for key, init in inits.items():
        closed = k3.expected_init_norm(init, (3, 3, 32, 64))
        config = init.get_config()
        draws = [float(np.linalg.norm(ops.convert_to_numpy(type(init).from_config({**config, "seed": s})((3, 3, 32, 64)) if "seed" in config else init((3, 3, 32, 64)))))
                 for s in range(3)]
        norms[key] = [closed, float(np.mean(draws))]
    report["norms"] = norms

    # LMOs and feasible starts of every Keras 3 set.
    g = rng.standard_normal((50, 40)).astype("float32")
    big = (10.0 * rng.standard_normal((50, 40))).astype("float32")
    arrays["lmo_g"], arrays["lmo_big"] = g, big
    sets = {"ksparse": k3.KSparsePolytope(k=37, k_frac=None, mode="radius", value=0.3),
            "ksupport": k3.KSupportNormBall(k=37, k_frac=None, mode="radius", value=2.0),
            "l1": k3.LpBall(1.0, mode="radius", value=2.0), "l2": k3.LpBall(2.0, mode="radius", value=2.0),
            "l3": k3.LpBall(3.0, mode="radius", value=2.0), "linf": k3.LpBall("inf", mode="radius", value=0.2)}
    for key, c in sets.items():
        arrays[f"lmo_{key}"] = ops.convert_to_numpy(c.lmo(ops.convert_to_tensor(g)))
        arrays[f"shift_{key}"] = ops.convert_to_numpy(c.shift_inside(ops.convert_to_tensor(big)))
        arrays[f"shift_small_{key}"] = ops.convert_to_numpy(c.shift_inside(ops.convert_to_tensor(1e-4 * big)))
    try:
        k3.KSparsePolytope(k_frac=0)
    except ValueError as err:
        report["k_frac_error"] = str(err)
    try:
        k3.SFW(constraints=sets["ksparse"], momentum=1.0)
    except ValueError as err:
        report["momentum_error"] = str(err)

    # model.fit with jit: feasibility over 100 steps, then save / reload / continue.
    keras.utils.set_random_seed(1)
    model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(64, activation="relu"),
                              keras.layers.BatchNormalization(), keras.layers.Dense(3)])
    cons = k3.constraints_for_model(model, k3.KSparsePolytope(k_frac=0.05),
                                    {keras.layers.BatchNormalization: k3.Unconstrained(), "dense_1/bias": k3.LpBall(2.0)})
    model.compile(k3.SFW(learning_rate=1.0, constraints=cons, unconstrained_learning_rate=0.01), "sparse_categorical_crossentropy",
              jit_compile=True)
    xs = rng.standard_normal((3200, 12)).astype("float32")
    ys = (xs[:, 0] + xs[:, 1] > 0).astype("int32") + (xs[:, 2] > 1).astype("int32")
    model.fit(xs, ys, batch_size=32, epochs=1, shuffle=False, verbose=0)
    report["iterations"] = int(ops.convert_to_numpy(model.optimizer.iterations))
    feas = {}
    for v in model.trainable_variables:
        c = cons.for_variable(v)
        value = ops.convert_to_numpy(v).astype(np.float64)
        feas[v.path] = [type(c).__name__, c.get_config(), value.ravel().tolist()]
    report["feasibility"] = feas
    report["constraint_keys"] = list(dict(cons.items()))
    report["init_radius"] = {p: c.get_config() for p, c in cons.items()}
    report["kernel_shape"] = list(model.layers[0].kernel.shape)
    path = os.path.join(os.path.dirname(out), "model.keras")
    model.save(path)
    reloaded = keras.saving.load_model(path)
    report["reloaded_optimizer"] = type(reloaded.optimizer).__name__
    report["reloaded_iterations"] = int(ops.convert_to_numpy(reloaded.optimizer.iterations))
    report["reload_weight_diff"] = max(float(np.max(np.abs(ops.convert_to_numpy(a) - ops.convert_to_numpy(b))))
                                       for a, b in zip(model.weights, reloaded.weights))
    model.fit(xs[:320], ys[:320], batch_size=32, epochs=1, shuffle=False, verbose=0)
    reloaded.fit(xs[:320], ys[:320], batch_size=32, epochs=1, shuffle=False, verbose=0)
    report["continue_weight_diff"] = max(float(np.max(np.abs(ops.convert_to_numpy(a) - ops.convert_to_numpy(b))))
                                         for a, b in zip(model.weights, reloaded.weights))
    np.savez(out, **arrays)
    with open(out + ".json", "w") as f:
        json.dump(report, f)
    '''
    % {"consts": repr((SHAPE, K, RADIUS, LR, MU, ULR))}
)

#: Models built by both Keras flavours: ``(name, input shape, builder kwargs)``.
MODEL_CASES = (("mnist_cnn", (28, 28, 1), {}), ("simple_cnn", (32, 32, 3), {}), ("resnet18", (32, 32, 1), {"width": 0.25}))

IMPORT_CHECK = textwrap.dedent(
    """
    import sys
    import tf_sfw.keras3 as k3
    k3.SFW, k3.constraints_for_model, k3.KSparsePolytope
    import tf_sfw.keras3.optimizers, tf_sfw.keras3.constraints, tf_sfw.selection, tf_sfw.lmo, tf_sfw.fw
    print("TF_IMPORTED" if "tensorflow" in sys.modules else "TF_ABSENT")
    """
)


#: Backends whose packages are installed (the JAX checks skip without ``jax``, the PyTorch
#: ones without ``torch``; the test extra does not install torch).
BACKENDS = tuple(b for b in ("jax", "tensorflow") if importlib.util.find_spec(b) is not None)
OPTIONAL_BACKENDS = tuple(b for b in ("torch",) if importlib.util.find_spec(b) is not None)


def _start(code, backend, *args, **env_extra):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu",
               **env_extra)
    return subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _finish(proc, timeout=300):
    stdout, stderr = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, stderr[-4000:]
    return stdout


#: Worker results of this test session, by fixture: each test module that imports a fixture
#: from here gets its own copy of it, so the fixtures memoize here to run every worker once.
_SESSION_RESULTS = {}


def _once(key, compute):
    if key not in _SESSION_RESULTS:
        _SESSION_RESULTS[key] = compute()
    return _SESSION_RESULTS[key]


@pytest.fixture(scope="session")
def keras3_runs(tmp_path_factory):
    """Starts the backend workers and the import check at once (they run in parallel)."""
    return _once("runs", lambda: _keras3_runs(tmp_path_factory))


def _keras3_runs(tmp_path_factory):
    outs = {b: str(tmp_path_factory.mktemp(f"k3_{b}") / "out.npz") for b in BACKENDS + OPTIONAL_BACKENDS}
    procs = {b: _start(WORKER, b, out) for b, out in outs.items()}
    if "jax" in BACKENDS:
        procs["import"] = _start(IMPORT_CHECK, "jax")
    results = {}
    try:
        for key, proc in procs.items():
            results[key] = _finish(proc)
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return outs, results


@pytest.fixture(scope="session", params=["jax", "tensorflow", "torch"])
def keras3_worker(request, keras3_runs):
    """``(arrays, report)`` of one backend's worker."""
    if request.param not in BACKENDS + OPTIONAL_BACKENDS:
        pytest.skip(f"{request.param} is not installed")
    out = keras3_runs[0][request.param]
    with open(out + ".json") as f:
        report = json.load(f)
    assert report["backend"] == request.param
    return np.load(out), report




# ----------------------------------------------------------------------------------------
# The Keras 3 commands, training helpers and data-parallel SFW: one worker per backend
# (`tests/test_cli_keras3.py`, `tests/test_keras3_training.py`, `tests/test_keras3_distribution.py`).

APPS_WORKER = textwrap.dedent(
    r'''
    import contextlib, io, json, os, sys
    MODEL_CASES = %(model_cases)s
    backend, out, tmp, data_dir = os.environ["KERAS_BACKEND"], sys.argv[1], sys.argv[2], sys.argv[3]
    if backend == "tensorflow":  # two logical CPUs for MirroredStrategy, before TensorFlow starts
        import tensorflow as tf
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np
    from tf_sfw.cli.main import main

    report = {"backend": backend}
    arrays = {}

    def cli(*argv):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = main(list(argv))
        return code, err.getvalue()

    # Flag errors: refused before any training, one line naming the flag and `--keras 3`.
    run = os.path.join(tmp, "run")
    base = ["train", "--keras", "3", "--backend", backend, "--out", os.path.join(tmp, "refused")]
    report["errors"] = {
        "resume": cli(*base, "--resume"),
        "sfw_init": cli(*base, "--sfw-init"),
        "schedule_paper": cli(*base, "--schedule", "paper"),
        "constraint_nm": cli(*base, "--constraint", "nm"),
        "model_vgg16": cli(*base, "--model", "vgg16"),
        "backend_without_keras3": cli("train", "--backend", backend, "--out", os.path.join(tmp, "refused")),
    }
    report["refused_left_nothing"] = not os.path.exists(os.path.join(tmp, "refused"))

    # train -> prune (fine-tune with the mask held) -> sweep of the export -> reload.
    report["train"] = cli("train", "--keras", "3", "--backend", backend, "--epochs", "1", "--subset", "256",
                          "--batch-size", "64", "--data-dir", data_dir, "--verbose", "0", "--out", run)
    report["train_files"] = sorted(os.listdir(run))
    with open(os.path.join(run, "metrics.json")) as f:
        report["train_metrics"] = json.load(f)
    with open(os.path.join(run, "config.json")) as f:
        report["train_config"] = json.load(f)
    pruned = os.path.join(tmp, "pruned")
    report["prune"] = cli("prune", "--keras", "3", "--backend", backend, "--model", os.path.join(run, "model.keras"),
                          "--sparsity", "0.5", "--retrain-epochs", "1", "--train-examples", "256", "--reconstruct", "64",
                          "--eval-examples", "300", "--data-dir", data_dir, "--out", pruned)
    with open(os.path.join(pruned, "metrics.json")) as f:
        report["prune_metrics"] = json.load(f)
    report["export_files"] = sorted(os.listdir(os.path.join(pruned, "saved_model")))
    report["sweep"] = cli("sweep", "--keras", "3", "--backend", backend, "--model", os.path.join(pruned, "saved_model"),
                          "--sparsities", "0,0.5,0.8", "--eval-examples", "300", "--data-dir", data_dir,
                          "--reconstruct", "64", "--out", os.path.join(tmp, "sweep"))
    with open(os.path.join(tmp, "sweep", "metrics.json")) as f:
        report["sweep_metrics"] = json.load(f)
    demo_out = os.path.join(tmp, "demo")
    report["demo"] = cli("demo", "--keras", "3", "--backend", backend, "--epochs", "1", "--train-examples", "256",
                         "--test-examples", "300", "--sparsities", "0,0.5,0.9", "--reconstruct", "64",
                         "--verbose", "0", "--data-dir", data_dir, "--out", demo_out,
                         "--export-dir", os.path.join(tmp, "demo_export"))
    with open(os.path.join(demo_out, "demo.json")) as f:
        demo = json.load(f)
    report["demo_sweep"], report["demo_export"] = demo["sweep"], demo["export"]
    report["tensorflow_imported_by_commands"] = "tensorflow" in sys.modules

    import keras
    from tf_sfw.keras3 import pruning
    from tf_sfw.data import load_arrays

    reloaded = pruning.load_keras_model(os.path.join(pruned, "saved_model"))
    for layer in ("conv2d", "conv2d_1", "dense"):
        arrays[f"pruned_{layer}"] = keras.ops.convert_to_numpy(reloaded.get_layer(layer).kernel)
    (_, _), (x_test, y_test) = load_arrays("mnist", data_dir=data_dir)
    arrays["probs"] = reloaded.predict(x_test[:300].astype("float32") / 255.0, verbose=0)
    arrays["labels"] = y_test[:300]
    trained = pruning.load_keras_model(os.path.join(run, "model.keras"), compile=True)
    report["trained_optimizer"] = type(trained.optimizer).__name__

    # Training helpers: the seeded batches, the recipe schedule, the reference bias norms.
    from tf_sfw.keras3 import recipe, training
    from tf_sfw.training.config import TrainConfig

    xs = np.arange(10, dtype="uint8").reshape(10, 1, 1, 1)
    batches = training.SeededBatches(xs, np.arange(10), batch_size=4, seed=7)
    epochs = []
    for _ in range(2):
        epochs.append([batches[i][1].tolist() for i in range(len(batches))])
        batches.on_epoch_end()
    report["batches"] = epochs
    report["batch_x"] = batches[0][0].ravel().tolist()
    steps = np.arange(0, 200)
    schedule = training.learning_rate_schedule(0.5, TrainConfig(epochs=4, milestones_frac=(0.5, 0.75), warmup=0.1), 200)
    arrays["schedule"] = np.array([float(keras.ops.convert_to_numpy(schedule(s))) for s in steps])
    epochs_schedule = training.learning_rate_schedule(1.0, TrainConfig(epochs=4, milestones=(3,), warmup=0.0), 200)
    arrays["schedule_epochs"] = np.array([float(keras.ops.convert_to_numpy(epochs_schedule(s))) for s in steps])
    report["schedule_config"] = keras.optimizers.schedules.serialize(schedule)
    report["constant"] = training.learning_rate_schedule(0.3, TrainConfig(schedule="constant"), 200)
    model = keras.Sequential([keras.Input((6,)), keras.layers.Dense(5, name="d1"), keras.layers.Dense(3, name="d2")], name="m")
    report["bias_norms"] = recipe.reference_bias_norms(model)
    opt, cons, lr = recipe.sfw_recipe(model, epochs=2, steps_per_epoch=10, constrain="kernels")
    report["recipe_constraints"] = {path: type(c).__name__ for path, c in cons.items()}
    report["recipe_lr_type"] = type(lr).__name__
    small = keras.Sequential([keras.Input((40,)), keras.layers.Dense(5, name="s1"), keras.layers.Dense(3, name="s2")],
                             name="n")  # kernels of 200 and 15 entries: only the first exceeds k = 150
    report["recipe_sparse_kernels"] = {path: type(c).__name__ for path, c in recipe.sfw_recipe(small, 1, 10)[1].items()}
    report["config_sparse_kernels"] = {path: type(c).__name__
                                       for path, c in training.build_constraints(small, TrainConfig()).items()}
    annealed = training.build_optimizer(model, TrainConfig(epochs=2, k_annealing=(1.0, 0.3), k_annealing_until=0.4), 20)
    report["k_annealing"] = annealed.k_annealing.get_config()
    report["unsupported"] = training.unsupported_settings(
        TrainConfig(model="vgg16", schedule="paper", weight_decay=0.1, augment=True), resume=True)

    # The Keras 3 builders: layer names, kinds and weight shapes (compared with tf_keras in test_models.py).
    from tf_sfw.keras3 import models as k3_models

    report["models"] = {}
    for name, shape, kwargs in MODEL_CASES:
        built = k3_models.build_model(name, shape, 10, **kwargs)
        report["models"][name] = {"name": built.name, "params": int(built.count_params()), "layers": [
            [layer.name, type(layer).__name__, [list(w.shape) for w in layer.weights]] for layer in built.layers]}

    # scripts/bench_optimizer.py --keras 3 on this backend (the MNIST CNN's 6 variables: quick).
    if backend == "jax":
        import importlib.util
        spec = importlib.util.spec_from_file_location("bench_optimizer", os.path.join("scripts", "bench_optimizer.py"))
        bench = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(bench)
        bench_json = os.path.join(tmp, "bench.json")
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            report["bench_code"] = bench.main(["--keras", "3", "--backend", backend, "--repeats", "2", "--warmup", "2",
                                               "--keras3-model", "mnist_cnn", "--json", bench_json])
        report["bench_printed"] = printed.getvalue()
        with open(bench_json) as f:
            report["bench"] = json.load(f)

    # SFW in model.fit under data parallelism (2 devices) against one device.
    import tf_sfw.keras3 as k3

    def fit(distribution=None):
        rng = np.random.default_rng(0)
        x = rng.standard_normal((256, 12)).astype("float32")
        y = (x[:, 0] + x[:, 1] > 0).astype("int32")
        scope = contextlib.nullcontext() if backend != "tensorflow" or distribution is None else distribution.scope()
        if backend == "jax":
            keras.distribution.set_distribution(distribution)
        with scope:
            training.set_random_seed(1)
            model = keras.Sequential([keras.Input((12,)), keras.layers.Dense(32, activation="relu"), keras.layers.Dense(2)])
            cons = k3.constraints_for_model(model, k3.KSparsePolytope(k=5, k_frac=0.1))
            model.compile(k3.SFW(learning_rate=0.5, constraints=cons),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        model.fit(x, y, batch_size=64, epochs=2, shuffle=False, verbose=0)
        if backend == "jax":
            keras.distribution.set_distribution(None)
        return model

    if backend in ("tensorflow", "jax"):
        if backend == "tensorflow":
            distribution = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
            report["replicas"] = distribution.num_replicas_in_sync
        else:
            import jax
            distribution = keras.distribution.DataParallel(devices=jax.devices())
            report["replicas"] = len(jax.devices())
        single, parallel = fit(), fit(distribution)
        for i, (a, b) in enumerate(zip(single.trainable_variables, parallel.trainable_variables)):
            arrays[f"single_{i}"] = keras.ops.convert_to_numpy(a)
            arrays[f"parallel_{i}"] = keras.ops.convert_to_numpy(b)
        report["iterations"] = [int(keras.ops.convert_to_numpy(m.optimizer.iterations)) for m in (single, parallel)]
        if backend == "jax":
            report["sharding"] = str(parallel.trainable_variables[0].value.sharding)
    np.savez(out, **arrays)
    with open(out + ".json", "w") as f:
        json.dump(report, f)
    '''
    % {"model_cases": repr(MODEL_CASES)}
)

#: Backends of the command/training workers: TensorFlow and JAX, and PyTorch where installed.
APP_BACKENDS = BACKENDS + OPTIONAL_BACKENDS


@pytest.fixture(scope="session")
def keras3_apps(tmp_path_factory):
    """Runs `APPS_WORKER` once per installed backend (in parallel); ``{backend: (arrays, report)}``."""
    return _once("apps", lambda: _keras3_apps(tmp_path_factory))


def _keras3_apps(tmp_path_factory):
    from conftest import SHARED_DATA_DIR

    if not os.path.exists(os.path.join(SHARED_DATA_DIR, "datasets", "mnist.npz")) and not os.path.exists(
            os.path.join(SHARED_DATA_DIR, "mnist.npz")):
        pytest.skip(f"real MNIST not found in {SHARED_DATA_DIR}")
    procs, outs = {}, {}
    for backend in APP_BACKENDS:
        tmp = tmp_path_factory.mktemp(f"k3apps_{backend}")
        outs[backend] = str(tmp / "out.npz")
        env_extra = {"XLA_FLAGS": "--xla_force_host_platform_device_count=2"} if backend == "jax" else {}
        procs[backend] = _start(APPS_WORKER, backend, outs[backend], str(tmp), SHARED_DATA_DIR, **env_extra)
    results = {}
    try:
        for backend, proc in procs.items():
            _finish(proc)
            with open(outs[backend] + ".json") as f:
                results[backend] = (np.load(outs[backend]), json.load(f))
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
    return results


@pytest.fixture(scope="session", params=["jax", "tensorflow", "torch"])
def keras3_app(request, keras3_apps):
    """``(arrays, report)`` of one backend's command/training worker."""
    if request.param not in keras3_apps:
        pytest.skip(f"{request.param} is not installed")
    arrays, report = keras3_apps[request.param]
    assert report["backend"] == request.param
    return arrays, report
