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

    def make(rescale):
        w = keras.Variable(theta0, name="w")
        b = keras.Variable(bias0, name="b")
        cons = k3.VariableConstraints({"w": k3.KSparsePolytope(k=K, k_frac=None, mode="radius", value=RADIUS),
                                       "b": k3.Unconstrained()})
        opt = k3.SFW(learning_rate=LR, momentum=MU, rescale=rescale, constraints=cons,
                     unconstrained_learning_rate=ULR)
        opt.build([w, b])
        return w, b, opt

    for rescale in (None, "diameter", "gradient"):
        if backend != "jax" or rescale == "gradient":  # eager JAX dispatch is slow: one rescale
            w, b, opt = make(rescale)
            for gw, gb in grads:  # eager
                opt.apply([ops.convert_to_tensor(gw), ops.convert_to_tensor(gb)], [w, b])
            arrays[f"eager_{rescale}_w"] = ops.convert_to_numpy(w)
            arrays[f"eager_{rescale}_b"] = ops.convert_to_numpy(b)
        w, b, opt = make(rescale)
        if backend == "jax":  # the JAX path of model.fit: stateless_apply under jax.jit
            import jax
            step = jax.jit(opt.stateless_apply)
            tv, ov = [w.value, b.value], [v.value for v in opt.variables]
            for gw, gb in grads:
                tv, ov = step(ov, [gw, gb], tv)
            jw, jb = tv
        else:
            import tensorflow as tf
            step = tf.function(lambda gw, gb: opt.apply([gw, gb], [w, b]), jit_compile=True)
            for gw, gb in grads:
                step(tf.constant(gw), tf.constant(gb))
            jw, jb = w, b
        arrays[f"jit_{rescale}_w"] = ops.convert_to_numpy(jw)
        arrays[f"jit_{rescale}_b"] = ops.convert_to_numpy(jb)

    # Config round trip.
    w, b, opt = make("gradient")
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
    model.compile(k3.SFW(learning_rate=1.0, constraints=cons), "sparse_categorical_crossentropy", jit_compile=True)
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

IMPORT_CHECK = textwrap.dedent(
    """
    import sys
    import tf_sfw.keras3 as k3
    k3.SFW, k3.constraints_for_model, k3.KSparsePolytope
    import tf_sfw.keras3.optimizers, tf_sfw.keras3.constraints, tf_sfw.selection, tf_sfw.lmo, tf_sfw.fw
    print("TF_IMPORTED" if "tensorflow" in sys.modules else "TF_ABSENT")
    """
)


#: Backends whose packages are installed (the JAX checks skip without ``jax``).
BACKENDS = tuple(b for b in ("jax", "tensorflow") if importlib.util.find_spec(b) is not None)


def _start(code, backend, *args):
    env = dict(os.environ, KERAS_BACKEND=backend, PYTHONPATH=ROOT, TF_CPP_MIN_LOG_LEVEL="3", JAX_PLATFORMS="cpu")
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


@pytest.fixture(scope="session")
def keras3_runs(tmp_path_factory):
    """Starts the two backend workers and the import check at once (they run in parallel)."""
    outs = {b: str(tmp_path_factory.mktemp(f"k3_{b}") / "out.npz") for b in BACKENDS}
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


@pytest.fixture(scope="session", params=["jax", "tensorflow"])
def keras3_worker(request, keras3_runs):
    """``(arrays, report)`` of one backend's worker."""
    if request.param not in BACKENDS:
        pytest.skip(f"{request.param} is not installed")
    out = keras3_runs[0][request.param]
    with open(out + ".json") as f:
        report = json.load(f)
    assert report["backend"] == request.param
    return np.load(out), report


