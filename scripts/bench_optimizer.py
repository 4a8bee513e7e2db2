"""Benchmark: SFW update (fast radix vs top-k selection) against SGD with momentum.

Part 1 (update step): one ``optimizer.apply_gradients`` over ResNet-18's exact trainable
variables (CIFAR-10 variant, 11,173,962 parameters in 62 variables), with fixed random
gradients, inside ``tf.function`` without XLA ("graph") and with
``tf.function(jit_compile=True)`` ("xla"). tf_keras turns an optimizer's own
``jit_compile`` off on machines without a GPU, so the XLA mode compiles the whole
``apply_gradients`` call instead. Optimizers:

* ``sgd``: ``keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)``;
* ``sfw_topk`` / ``sfw_radix``: ``tf_sfw.SFW`` (lr 1.0, momentum 0.9, rescale "gradient")
  with the paper's constraint ``KSparsePolytope(k=10, k_frac=0.05, mode="initialization",
  value=15)`` on EVERY trainable variable, ``selection="topk"`` / ``"radix"``.

Part 2 (full training step): ``model.train_on_batch`` on a random batch of 32 for
``mnist_cnn`` and ``resnet18``, SFW (default selection, same constraint) vs SGD-momentum,
with ``model.compile(jit_compile=False)`` and ``jit_compile=True``. By default each
optimizer's model runs alone in a child process (``--train-isolation process``), SGD and SFW
processes alternating for ``--train-rounds`` rounds; ``--train-isolation interleaved`` keeps
both models in this process (see `bench_train_step` for why that is not the default).

Part 1 runs in one process; each optimizer gets its own fresh model (same seed); calls are
interleaved round-robin (one call of each optimizer per round) so that load changes hit
all of them alike. Every figure is a median over ``--repeats`` calls (per round or per
process) after ``--warmup`` calls. Ratios are ratios of medians.

Keras 3 (``--keras 3 --backend jax|tensorflow|torch``): the update step only, over the same
ResNet-18 variable shapes (`tf_sfw.keras3.models.resnet18`, ``--width`` to shrink it), SGD
with momentum (``keras.optimizers.SGD(0.01, momentum=0.9)``) against `tf_sfw.keras3.SFW` with
the same constraint, in one process, calls interleaved, medians. Compiled as ``model.fit``
compiles it: JAX ``jax.jit(optimizer.stateless_apply)`` (variables donated), TensorFlow
``tf.function(optimizer.apply, jit_compile=True)``, PyTorch eager ``optimizer.apply``. The
device the variables live on is printed and recorded, so that the same command measures a GPU
wherever one is present.

Usage::

    python scripts/bench_optimizer.py --json results/bench/bench_optimizer.json
    python scripts/bench_optimizer.py --keras 3 --backend jax --json results/bench/keras3_jax.json
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np


def _load():
    try:
        return list(os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return None


def _median_rounds(fns, repeats, warmup):
    """Calls every fn ``warmup`` times, then ``repeats`` interleaved rounds; medians (s)."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: float(np.median(t)) for name, t in times.items()}, times


def _sfw_constraint():
    from tf_sfw.constraints import KSparsePolytope

    return KSparsePolytope(k=10, k_frac=0.05, mode="initialization", value=15.0)


def _make_optimizer(kind, model):
    import tf_sfw
    from tf_sfw._keras import keras
    from tf_sfw.constraints import constraints_for_model

    if kind == "sgd":
        return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
    selection = {"sfw_topk": "topk", "sfw_radix": "radix", "sfw": None}[kind]
    kwargs = {} if selection is None else {"selection": selection}
    constraints = constraints_for_model(model, _sfw_constraint())
    return tf_sfw.SFW(learning_rate=1.0, momentum=0.9, rescale="gradient", constraints=constraints, **kwargs)


def bench_update(kinds, modes, repeats, warmup, seed=0):
    """Median seconds of one ``apply_gradients`` over ResNet-18's variables."""
    import tensorflow as tf

    from tf_sfw._keras import keras
    from tf_sfw.models import resnet18

    results = {}
    for mode in modes:
        fns = {}
        for kind in kinds:
            keras.utils.set_random_seed(seed)
            model = resnet18(input_shape=(32, 32, 3), num_classes=10)
            variables = model.trainable_variables
            rng = np.random.default_rng(seed)
            grads = [tf.constant(rng.standard_normal(v.shape).astype(np.float32)) for v in variables]
            opt = _make_optimizer(kind, model)
            opt.build(variables)

            def step(opt=opt, grads=grads, variables=variables):
                opt.apply_gradients(zip(grads, variables))
                return opt.iterations.read_value()

            fn = tf.function(step, jit_compile=(mode == "xla"))
            fns[kind] = lambda fn=fn: fn().numpy()
        medians, times = _median_rounds(fns, repeats, warmup)
        results[mode] = {"median_s": medians, "times_s": times}
        print(f"[update/{mode}] " + ", ".join(f"{k}={v * 1e3:.1f} ms" for k, v in medians.items()), flush=True)
    shapes = [list(v.shape) for v in variables]
    return results, shapes


def _train_step_fn(name, mode, kind, batch_size, seed=0):
    """A fresh model compiled with ``kind``'s optimizer and a closure running one step."""
    from tf_sfw._keras import keras
    from tf_sfw.models import mnist_cnn, resnet18

    builders = {
        "mnist_cnn": (lambda: mnist_cnn(input_shape=(28, 28, 1), num_classes=10), (28, 28, 1)),
        "resnet18": (lambda: resnet18(input_shape=(32, 32, 3), num_classes=10), (32, 32, 3)),
    }
    build, input_shape = builders[name]
    rng = np.random.default_rng(seed)
    x = rng.random((batch_size,) + input_shape, dtype=np.float32)
    y = rng.integers(0, 10, batch_size)
    keras.utils.set_random_seed(seed)
    model = build()
    model.compile(
        optimizer=_make_optimizer(kind, model), loss="sparse_categorical_crossentropy", jit_compile=(mode == "xla")
    )
    return lambda: model.train_on_batch(x, y)


def _train_one(name, mode, kind, repeats, warmup, batch_size):
    """Times of ``repeats`` calls after ``warmup`` calls, for one model alone in this process."""
    fn = _train_step_fn(name, mode, kind, batch_size)
    return _median_rounds({kind: fn}, repeats, warmup)[1][kind]


def bench_train_step(model_names, modes, repeats, warmup, batch_size, isolation="process", rounds=2):
    """Median seconds of one ``train_on_batch`` (SFW vs SGD).

    ``isolation="process"`` (default) times each optimizer's model alone in a child process,
    alternating SGD and SFW processes for ``rounds`` rounds of ``repeats`` calls each. On the
    VMs this was written on, two ResNet-18 models in one process made about half of the
    calls of BOTH stall at a fixed ~630 ms (one model alone: none), so the in-process
    ``"interleaved"`` mode (one call of each per round) measures the stalls, not the optimizer.
    """
    results = {}
    for name in model_names:
        for mode in modes:
            times = {"sgd": [], "sfw": []}
            if isolation == "interleaved":
                fns = {kind: _train_step_fn(name, mode, kind, batch_size) for kind in times}
                times = _median_rounds(fns, repeats, warmup)[1]
            else:
                for _ in range(rounds):
                    for kind in times:
                        out = subprocess.run(
                            [sys.executable, os.path.abspath(__file__), "--train-one", name, mode, kind,
                             "--repeats", str(repeats), "--warmup", str(warmup), "--batch-size", str(batch_size)],
                            check=True, capture_output=True, text=True,
                        ).stdout
                        times[kind] += json.loads(out.strip().splitlines()[-1])
            medians = {kind: float(np.median(t)) for kind, t in times.items()}
            results[f"{name}/{mode}"] = {"median_s": medians, "times_s": times, "isolation": isolation}
            print(
                f"[train/{name}/{mode}] " + ", ".join(f"{k}={v * 1e3:.1f} ms" for k, v in medians.items()),
                flush=True,
            )
    return results


def bench_update_keras3(backend, repeats, warmup, width=1.0, seed=0, model_name="resnet18"):
    """Keras 3: median seconds of one update of SGD-momentum and `tf_sfw.keras3.SFW` over the
    trainable variables of ``model_name`` (ResNet-18 by default; ``width`` scales ResNet-18) on
    ``backend`` (``KERAS_BACKEND`` must already be set).

    Returns ``(result, shapes)``: ``result`` has ``device``, ``median_s``, ``times_s`` and
    ``sfw_over_sgd``.
    """
    import keras

    import tf_sfw.keras3 as k3
    from tf_sfw.keras3 import models as k3_models

    if keras.backend.backend() != backend:
        raise ValueError(f"Keras 3 runs on {keras.backend.backend()!r}; set KERAS_BACKEND={backend} first.")

    def make(kind):
        keras.utils.set_random_seed(seed)
        model = k3_models.resnet18(width=width) if model_name == "resnet18" else k3_models.get_model(model_name)()
        variables = model.trainable_variables
        if kind == "sgd":
            opt = keras.optimizers.SGD(learning_rate=0.01, momentum=0.9)
        else:
            constraints = k3.constraints_for_model(
                model, k3.KSparsePolytope(k=10, k_frac=0.05, mode="initialization", value=15.0))
            opt = k3.SFW(learning_rate=1.0, momentum=0.9, rescale="gradient", constraints=constraints)
        opt.build(variables)
        rng = np.random.default_rng(seed)
        grads = [keras.ops.convert_to_tensor(1e-3 * rng.standard_normal(tuple(v.shape)).astype("float32"))
                 for v in variables]
        if backend == "jax":
            import jax

            step = jax.jit(opt.stateless_apply, donate_argnums=(0, 2))
            state = {"tv": [v.value for v in variables], "ov": [v.value for v in opt.variables]}

            def call():
                state["tv"], state["ov"] = step(state["ov"], grads, state["tv"])
                jax.block_until_ready(state["tv"])
        elif backend == "tensorflow":
            import tensorflow as tf

            step = tf.function(lambda: opt.apply(grads, variables), jit_compile=True)

            def call():
                step()
                variables[0].value.numpy()  # wait for the update
        else:
            import torch

            def call():
                with torch.no_grad():
                    opt.apply(grads, variables)
                if variables[0].value.is_cuda:
                    torch.cuda.synchronize()
        return call, variables

    (sgd, variables), (sfw, _) = make("sgd"), make("sfw")
    medians, times = _median_rounds({"sgd": sgd, "sfw": sfw}, repeats, warmup)
    if backend == "jax":
        import jax

        device = f"{jax.devices()[0]} ({jax.default_backend()})"
    else:
        device = str(variables[0].value.device)
    result = {"backend": backend, "device": device, "model": model_name, "width": width, "median_s": medians,
              "times_s": times,
              "sfw_over_sgd": medians["sfw"] / medians["sgd"]}
    return result, [list(v.shape) for v in variables]


def _keras3_main(args, info):
    os.environ["KERAS_BACKEND"] = args.backend  # before Keras 3 is first imported
    import keras

    info.update(keras=keras.__version__, backend=args.backend)
    result, shapes = bench_update_keras3(args.backend, args.repeats, args.warmup, width=args.width,
                                         model_name=args.keras3_model)
    info["loadavg_end"] = _load()
    m = result["median_s"]
    print(f"device: {result['device']}")
    what = f"ResNet-18 width {args.width:g}" if args.keras3_model == "resnet18" else args.keras3_model
    print(f"| update (Keras 3, {args.backend}, {what}, {len(shapes)} variables) "
          f"| SGD-mom (ms) | SFW (ms) | SFW/SGD |")
    print("|---|---|---|---|")
    print(f"| jit | {m['sgd'] * 1e3:.1f} | {m['sfw'] * 1e3:.1f} | {result['sfw_over_sgd']:.2f} |")
    print(f"update/keras3/{args.backend}/sfw_over_sgd: {result['sfw_over_sgd']:.3f}")
    print(f"load average: start {info['loadavg_start']}, end {info['loadavg_end']}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump({"info": info, "ratios": {f"update/keras3/{args.backend}/sfw_over_sgd": result["sfw_over_sgd"]},
                       "keras3_update": result, "variable_shapes": shapes}, f, indent=1)
        print(f"wrote {args.json}")
    return 0


def _table(update, train):
    lines = [
        "| part | mode | SGD-mom (ms) | SFW top-k (ms) | SFW radix (ms) | radix/SGD | topk/SGD | radix/topk |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for mode, res in update.items():
        m = res["median_s"]
        sgd, topk, radix = m.get("sgd"), m.get("sfw_topk"), m.get("sfw_radix")

        def fmt(v):
            return "—" if v is None else f"{v * 1e3:.1f}"

        def ratio(a, b):
            return "—" if a is None or b is None else f"{a / b:.2f}"

        lines.append(
            f"| update, ResNet-18 vars | {mode} | {fmt(sgd)} | {fmt(topk)} | {fmt(radix)} | "
            f"{ratio(radix, sgd)} | {ratio(topk, sgd)} | {ratio(radix, topk)} |"
        )
    if train:
        lines += ["", "| train_on_batch | mode | SGD-mom (ms) | SFW radix (ms) | SFW/SGD |", "|---|---|---|---|---|"]
        for key, res in train.items():
            name, mode = key.split("/")
            m = res["median_s"]
            lines.append(
                f"| {name} | {mode} | {m['sgd'] * 1e3:.1f} | {m['sfw'] * 1e3:.1f} | {m['sfw'] / m['sgd']:.2f} |"
            )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed rounds (median), >= 10 recommended")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls first (tracing, compilation)")
    parser.add_argument("--modes", nargs="+", default=["graph", "xla"], choices=["graph", "xla"])
    parser.add_argument("--update-kinds", nargs="+", default=["sgd", "sfw_topk", "sfw_radix"],
                        choices=["sgd", "sfw_topk", "sfw_radix"])
    parser.add_argument("--train-models", nargs="*", default=["mnist_cnn", "resnet18"],
                        choices=["mnist_cnn", "resnet18"], help="models for the train_on_batch part (none: skip)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--train-isolation", default="process", choices=["process", "interleaved"],
                        help="train_on_batch timing: each model alone in a child process (default), "
                             "or both in this process, one call of each per round")
    parser.add_argument("--train-rounds", type=int, default=2,
                        help="with --train-isolation process: SGD/SFW child processes per optimizer")
    parser.add_argument("--train-one", nargs=3, metavar=("MODEL", "MODE", "KIND"), help=argparse.SUPPRESS)
    parser.add_argument("--skip-update", action="store_true")
    parser.add_argument("--json", default=None, help="write all figures (and raw times) to this file")
    parser.add_argument("--keras", type=int, choices=(2, 3), default=2,
                        help="2: tf_keras (both parts); 3: Keras 3, update part only, on --backend")
    parser.add_argument("--backend", choices=("jax", "tensorflow", "torch"), default=None,
                        help="Keras 3 backend (with --keras 3; default: jax)")
    parser.add_argument("--width", type=float, default=1.0,
                        help="--keras 3: ResNet-18 width multiplier (1.0: the real shapes)")
    parser.add_argument("--keras3-model", default="resnet18", choices=("resnet18", "mnist_cnn", "simple_cnn"),
                        help="--keras 3: the model whose variables are updated (quick checks: mnist_cnn)")
    args = parser.parse_args(argv)
    if args.backend is not None and args.keras != 3:
        raise ValueError(f"`--backend` needs `--keras 3`. Received: --backend={args.backend}")
    if args.repeats < 1 or args.warmup < 2:
        raise ValueError(
            f"`--repeats` must be >= 1 and `--warmup` >= 2 (tracing + first SFW step). "
            f"Received: repeats={args.repeats}, warmup={args.warmup}"
        )

    if args.train_one:
        name, mode, kind = args.train_one
        times = _train_one(name, mode, kind, args.repeats, args.warmup, args.batch_size)
        print(json.dumps(times))
        return 0

    if args.keras == 3:
        args.backend = args.backend or "jax"
        info = {"command": "python " + " ".join([os.path.relpath(sys.argv[0])] + (sys.argv[1:] if argv is None else argv)),
                "python": platform.python_version(), "cpu_count": os.cpu_count(), "loadavg_start": _load(),
                "repeats": args.repeats, "warmup": args.warmup}
        return _keras3_main(args, info)

    import tensorflow as tf

    info = {
        "command": "python " + " ".join([os.path.relpath(sys.argv[0])] + (sys.argv[1:] if argv is None else argv)),
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "cpu_count": os.cpu_count(),
        "loadavg_start": _load(),
        "repeats": args.repeats,
        "warmup": args.warmup,
        "train_isolation": args.train_isolation,
        "train_rounds": args.train_rounds,
    }
    update, shapes, train = {}, None, {}
    if not args.skip_update:
        update, shapes = bench_update(args.update_kinds, args.modes, args.repeats, args.warmup)
    if args.train_models:
        train = bench_train_step(args.train_models, args.modes, args.repeats, args.warmup, args.batch_size,
                                 isolation=args.train_isolation, rounds=args.train_rounds)
    info["loadavg_end"] = _load()

    ratios = {}
    for mode, res in update.items():
        m = res["median_s"]
        if "sgd" in m and "sfw_radix" in m:
            ratios[f"update/{mode}/radix_over_sgd"] = m["sfw_radix"] / m["sgd"]
        if "sgd" in m and "sfw_topk" in m:
            ratios[f"update/{mode}/topk_over_sgd"] = m["sfw_topk"] / m["sgd"]
        if "sfw_topk" in m and "sfw_radix" in m:
            ratios[f"update/{mode}/radix_over_topk"] = m["sfw_radix"] / m["sfw_topk"]
    for key, res in train.items():
        ratios[f"train/{key}/sfw_over_sgd"] = res["median_s"]["sfw"] / res["median_s"]["sgd"]

    print()
    print(_table(update, train))
    print()
    for key, value in ratios.items():
        print(f"{key}: {value:.3f}")
    print(f"load average: start {info['loadavg_start']}, end {info['loadavg_end']}")
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(
                {"info": info, "ratios": ratios, "update": update, "train_step": train,
                 "resnet18_variable_shapes": shapes},
                f,
                indent=1,
            )
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
