"""``tf-sfw demo``: SGD vs. SFW on MNIST, pruned once to many sparsities without retraining.

Trains the MNIST CNN (:func:`tf_sfw.models.mnist_cnn`) twice from the same initialisation, on
the same data order, for the same number of epochs, with optimizers built by
:func:`tf_sfw.training.build_optimizer`:

- SGD: ``keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)`` (``--sgd-lr``; 0.05 gave a
  higher dense accuracy than 0.01 after 2 epochs, 98.5% vs 97.4%, so the baseline is not weak);
- SFW: the recipe of `tf_sfw.recipe` (`tf_sfw.recipe_math.DEFAULTS`): ``tf_sfw.SFW(learning_rate=1.0,
  momentum=0.9, rescale="gradient", unconstrained_learning_rate=0.5)`` with the kernels in K-support
  norm balls ``KSupportNormBall(k=150, k_frac=0.1, mode="initialization", value=15)`` and the
  biases trained by SGD (the sets of Miao et al., ICLR 2022, "Learning Pruning-Friendly Networks
  via Frank-Wolfe", and Zimmer et al. 2022, with the recipe's K);

both on the recipe's schedule (``schedule="recipe"``: linear warm-up over the first 2 % of
the steps, then lr ÷10 at 75 % and 90 % of the steps), so the comparison is at equal schedule;

then sweeps both with global magnitude pruning of the conv/dense kernels (no retraining,
:func:`tf_sfw.pruning.sweep.sweep`), and again with the kept weights refit by least squares on
the first ``--reconstruct`` training images (:func:`tf_sfw.pruning.reconstruction.reconstruction_sweep`;
no gradient step; the tf_keras demo only), prints a side-by-side table, writes
``<out>/demo.csv``, ``<out>/demo.png`` and ``<out>/demo.json``, and exports the SFW model
pruned to ``--export-sparsity`` (default 90%; refit when ``--reconstruct`` is on) as a SavedModel (+ ``model.keras``) to
``saved_models/mnist_cnn_sfw_pruned90/`` (``--export-dir``; signatures ``serving_default``,
float32 in ``[0, 1]``, and ``serving_raw``, uint8 pixels). The two dense trained models are
saved as ``<out>/mnist_cnn_sgd.keras`` and ``<out>/mnist_cnn_sfw.keras`` (without optimizer
state) with ``<out>/config.json`` naming their data set, for ``tf-sfw prune`` / ``tf-sfw sweep``.
"""

import os
import sys
import time

from tf_sfw.cli._common import (
    DEFAULT_SPARSITIES,
    HelpFormatter,
    add_common_arguments,
    add_keras_arguments,
    add_reconstruct_argument,
    check_output_dir,
    eval_dataset,
    float_type,
    int_type,
    load_arrays_subset,
    parse_sparsities,
    parse_sparsity,
    quiet_tensorflow,
    run_command,
    select_keras,
    write_json,
)
from tf_sfw.recipe_math import DEFAULTS as RECIPE_DEFAULTS

__all__ = ["add_parser", "run", "format_table", "SFW_SETTINGS", "SGD_MOMENTUM"]

#: The recipe's lr schedule of both runs, as `tf_sfw.training.TrainConfig` fields.
RECIPE_SCHEDULE = {"schedule": "recipe", "warmup": RECIPE_DEFAULTS["warmup"], "decay_factor": RECIPE_DEFAULTS["factor"]}
#: The SFW run of the demo: the recipe (`tf_sfw.recipe_math.DEFAULTS`), as `tf_sfw.training.TrainConfig` fields.
SFW_SETTINGS = {
    "k": RECIPE_DEFAULTS["k"], "k_frac": RECIPE_DEFAULTS["k_frac"], "mode": "initialization",
    "value": RECIPE_DEFAULTS["tau"],
    "learning_rate": RECIPE_DEFAULTS["learning_rate"], "momentum": RECIPE_DEFAULTS["momentum"],
    "rescale": RECIPE_DEFAULTS["rescale"], "constrain": RECIPE_DEFAULTS["constrain"],
    "unconstrained_learning_rate": RECIPE_DEFAULTS["unconstrained_learning_rate"],
    "k_annealing": RECIPE_DEFAULTS["k_annealing"], "k_annealing_until": RECIPE_DEFAULTS["k_annealing_until"],
    **RECIPE_SCHEDULE,
}
SGD_MOMENTUM = 0.9
DATASET = "mnist"


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="MNIST: train SGD and SFW, prune both once to many sparsities without retraining, compare",
        description="Train the MNIST CNN with SGD and with SFW (same seed, data order and epochs), "
        "sweep both with global magnitude pruning (no retraining), print a table, save a plot and csv, "
        "and export the SFW model pruned to --export-sparsity as a SavedModel.",
        formatter_class=HelpFormatter,
    )
    positive = lambda flag: int_type(flag, minimum=1)  # noqa: E731
    parser.add_argument("--data-dir", default=None,
                        help="folder with datasets/mnist.npz (default: $TF_SFW_DATA_DIR, else the Keras cache, else download)")
    parser.add_argument("--epochs", type=positive("--epochs"), default=2, metavar="N", help="training epochs of each model")
    parser.add_argument("--batch-size", type=positive("--batch-size"), default=128, metavar="N", help="training batch size")
    parser.add_argument("--sgd-lr", type=float_type("--sgd-lr", low=0.0, low_open=True), default=0.05, metavar="LR",
                        help="SGD learning rate, momentum 0.9")
    parser.add_argument("--seed", type=int_type("--seed", minimum=0), default=0, help="seed of the initial weights and data order")
    parser.add_argument("--sparsities", default=DEFAULT_SPARSITIES, help="comma-separated sparsities of the sweep")
    add_reconstruct_argument(parser, "also sweep with", default=1024)
    parser.add_argument("--export-sparsity", default="0.9", help="sparsity of the exported SFW model, in [0, 1)")
    parser.add_argument("--export-dir", default=os.path.join("saved_models", "mnist_cnn_sfw_pruned90"), help="export folder")
    parser.add_argument("--no-export", action="store_true", help="do not export the pruned SFW model")
    parser.add_argument("--out", default=os.path.join("runs", "demo"), help="output folder for csv/png/json and the trained models")
    parser.add_argument("--train-examples", type=positive("--train-examples"), default=None, metavar="N",
                        help="train on the first N examples only, for quick runs (default: all 60000)")
    parser.add_argument("--test-examples", type=positive("--test-examples"), default=None, metavar="N",
                        help="evaluate on the first N test examples only (default: all 10000)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2, help="Keras fit verbosity")
    add_keras_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _optimizer_settings(name, args):
    """The `tf_sfw.training.TrainConfig` fields of the ``"sgd"`` or ``"sfw"`` run."""
    if name == "sgd":
        return {"optimizer": "sgd", "learning_rate": args.sgd_lr, "momentum": SGD_MOMENTUM, **RECIPE_SCHEDULE}
    return {"optimizer": "sfw", "constraint": RECIPE_DEFAULTS["ball"], **SFW_SETTINGS}


def _train(name, x_train, y_train, args):
    # TensorFlow-using modules: imported when the command runs, never when the parser is built.
    from tf_sfw._keras import keras
    from tf_sfw.data import make_train_dataset, steps_per_epoch
    from tf_sfw.models import mnist_cnn
    from tf_sfw.training import build_optimizer

    keras.utils.set_random_seed(args.seed)  # same initial weights for both optimizers
    model = mnist_cnn(input_shape=x_train.shape[1:], num_classes=10, name=f"mnist_cnn_{name}")
    steps = steps_per_epoch(len(y_train), args.batch_size)
    optimizer = build_optimizer(model, {"model": "mnist_cnn", "dataset": DATASET, **_optimizer_settings(name, args)},
                                total_steps=args.epochs * steps)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = make_train_dataset(x_train, y_train, batch_size=args.batch_size, seed=args.seed, epochs=args.epochs)
    start = time.perf_counter()
    print(f"training {name.upper()} for {args.epochs} epoch(s) on {len(y_train)} examples")
    history = model.fit(train_ds, epochs=args.epochs, steps_per_epoch=steps, verbose=args.verbose)
    return model, time.perf_counter() - start, history.history


def format_table(sparsities, sgd_rows, sfw_rows, refit=None):
    """Side-by-side text table: sparsity | SGD acc | SFW acc | non-zero kernel weights, with the
    columns ``SGD refit`` and ``SFW refit`` before the last when ``refit = (sgd_rows, sfw_rows)``
    of the reconstruction sweep is given."""
    columns = [("SGD acc", sgd_rows), ("SFW acc", sfw_rows)]
    if refit is not None:
        columns += [("SGD refit", refit[0]), ("SFW refit", refit[1])]
    header = f"{'sparsity':>9} | " + " | ".join(f"{name:>9}" for name, _ in columns) + f" | {'non-zero kernels':>16}"
    lines = [header, "-" * len(header)]
    for i, s in enumerate(sparsities):
        cells = " | ".join(f"{100 * rows[i]['accuracy']:8.2f}%" for _, rows in columns)
        lines.append(f"{100 * s:8.1f}% | {cells} | {sfw_rows[i]['nonzero']:16d}")
    return "\n".join(lines)


def check_outputs(args):
    """``(sparsities, export_sparsity, out)`` of the command line, the output folders checked
    writable (both Keras flavours' demos)."""
    sparsities = parse_sparsities(args.sparsities)
    export_sparsity = parse_sparsity(args.export_sparsity, "--export-sparsity")
    out = check_output_dir(args.out, "--out")
    if not args.no_export:
        check_output_dir(args.export_dir, "--export-dir")
    return sparsities, export_sparsity, out


def _run(args):
    if args.keras == 3:
        from tf_sfw.cli.keras3 import run_demo

        return run_demo(args, sys.modules[__name__])  # this module's helpers (no import cycle)
    select_keras(args)  # --backend needs --keras 3
    sparsities, export_sparsity, out = check_outputs(args)
    t0 = time.perf_counter()
    # TensorFlow (without its C++ log lines) and the modules that use it are imported only now,
    # after the command line was checked, and never when the parser is built (fast --help).
    quiet_tensorflow(args.debug)
    import numpy as np

    from tf_sfw._keras import keras
    from tf_sfw.pruning.export import export_model, load_exported, predict_exported
    from tf_sfw.pruning.magnitude import magnitude_masks
    from tf_sfw.pruning.masks import apply_masks, strip
    from tf_sfw.pruning.metrics import pruning_metrics
    from tf_sfw.pruning.reconstruction import reconstruct, reconstruction_sweep
    from tf_sfw.pruning.sweep import plot_sweep, sweep, write_sweep_csv

    (x_train, y_train), (x_test, y_test) = load_arrays_subset(
        DATASET, args.data_dir, train_examples=args.train_examples, test_examples=args.test_examples
    )
    test_ds = eval_dataset(x_test, y_test, 500)
    models, train_seconds, histories, results = {}, {}, {}, {}
    for name in ("sgd", "sfw"):
        models[name], train_seconds[name], histories[name] = _train(name, x_train, y_train, args)
        results[name] = sweep(models[name], test_ds, sparsities)
    if args.reconstruct:
        calibration = x_train[: args.reconstruct].astype(np.float32) / 255.0
        for name in ("sgd", "sfw"):
            results[f"{name}+refit"] = reconstruction_sweep(models[name], test_ds, sparsities, calibration)
    os.makedirs(out, exist_ok=True)
    for name, model in models.items():  # dense trained models, e.g. for `tf-sfw prune --model ...`
        keras_copy = keras.models.clone_model(model)  # uncompiled copy: no optimizer state in the file
        keras_copy.set_weights(model.get_weights())
        keras_copy.save(os.path.join(out, f"mnist_cnn_{name}.keras"))
    # config.json names the data set of the saved models, for `tf-sfw prune` / `tf-sfw sweep`.
    write_json(os.path.join(out, "config.json"), {
        "dataset": DATASET, "model": "mnist_cnn", "epochs": args.epochs, "batch_size": args.batch_size,
        "seed": args.seed, "train_examples": int(len(y_train)),
        "runs": {name: _optimizer_settings(name, args) for name in ("sgd", "sfw")},
    })
    refit = (results["sgd+refit"], results["sfw+refit"]) if args.reconstruct else None
    table = format_table(sparsities, results["sgd"], results["sfw"], refit)
    print()
    print(f"MNIST CNN, {args.epochs} epoch(s), {len(y_train)} train / {len(y_test)} test examples; "
          "global magnitude pruning of conv/dense kernels, no retraining"
          + (f" (refit: kept weights refit by least squares on {args.reconstruct} training images)" if refit else ""))
    print(table)

    labels = {"sgd": f"SGD (lr {args.sgd_lr:g}, momentum 0.9, recipe schedule)",
              "sfw": "SFW (tf_sfw.recipe: K-support ball, K annealing, lr 1, momentum 0.9)",
              "sgd+refit": "SGD, kept weights refit (least squares)",
              "sfw+refit": "SFW, kept weights refit (least squares)"}
    write_sweep_csv(results, os.path.join(out, "demo.csv"))
    plot_sweep({labels[k]: rows for k, rows in results.items()}, os.path.join(out, "demo.png"),
               title=f"MNIST CNN, {args.epochs} epoch(s): one-shot global magnitude pruning, no retraining")
    summary = {
        "settings": {
            "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
            "train_examples": int(len(y_train)), "test_examples": int(len(y_test)),
            "sgd": {"learning_rate": args.sgd_lr, "momentum": SGD_MOMENTUM, **RECIPE_SCHEDULE}, "sfw": SFW_SETTINGS,
            "pruning": "global magnitude, conv/dense kernels, no retraining",
            "reconstruct": args.reconstruct,
        },
        "train_seconds": train_seconds,
        "train_history": histories,
        "sweep": results,
    }
    if not args.no_export:
        masks = magnitude_masks(models["sfw"], export_sparsity)
        if args.reconstruct:  # the refit model, the better one at the same zeros
            pruned = reconstruct(models["sfw"], masks, calibration)
        else:
            pruned = strip(apply_masks(models["sfw"], masks))
        directory = export_model(pruned, args.export_dir, config={"dataset": DATASET, "model": "mnist_cnn",
                                                                 "sparsity": export_sparsity})
        x = x_test[:256].astype(np.float32) / 255.0
        loaded, expected = load_exported(directory), pruned.predict(x, verbose=0)
        diff = float(np.max(np.abs(predict_exported(loaded, x) - expected)))
        diff_raw = float(np.max(np.abs(predict_exported(loaded, x_test[:256]) - expected)))  # uint8: serving_raw
        metrics = pruning_metrics(pruned, dense_model=models["sfw"], latency_batch=x)
        summary["export"] = {"directory": directory, "sparsity": export_sparsity, "refit": bool(args.reconstruct),
                             "max_abs_prediction_diff_after_reload": diff,
                             "max_abs_prediction_diff_raw_uint8": diff_raw, "metrics": metrics}
        print(f"exported the SFW model pruned to {100 * export_sparsity:g}%{' and refit' if args.reconstruct else ''} to {directory} "
              f"(reloaded predictions differ by at most {max(diff, diff_raw):.2e}, from float32 in [0, 1] through "
              f"serving_default and from uint8 pixels through serving_raw); {metrics['nonzero']} of {metrics['counted']} "
              f"kernel weights non-zero, gzip {metrics['compressed_bytes']} B vs dense {metrics['dense_compressed_bytes']} B, "
              f"latency {metrics['relative_latency']:.2f}x dense")
    summary["total_seconds"] = time.perf_counter() - t0
    write_json(os.path.join(out, "demo.json"), summary)
    print(f"wrote {os.path.join(args.out, 'demo.csv')}, demo.png, demo.json; "
          f"total {summary['total_seconds']:.0f} s (training: SGD {train_seconds['sgd']:.0f} s, SFW {train_seconds['sfw']:.0f} s)")
    return 0


def run(args):
    return run_command("demo", _run, args)
