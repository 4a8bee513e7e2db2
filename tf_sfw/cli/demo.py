"""``tf-sfw demo``: SGD vs. SFW on MNIST, pruned once to many sparsities without retraining.

Trains the MNIST CNN of seed 003 (:func:`tf_sfw.models.mnist_cnn`) twice from the same
initialisation, on the same data order, for the same number of epochs:

- SGD: ``keras.optimizers.SGD(learning_rate=0.05, momentum=0.9)`` (``--sgd-lr``; 0.05 gave a
  higher dense accuracy than 0.01 after 2 epochs, 98.5% vs 97.4%, so the baseline is not weak);
- SFW: ``tf_sfw.SFW(learning_rate=1.0, momentum=0.9, rescale="gradient")`` with every
  variable in a K-sparse polytope ``KSparsePolytope(k=10, k_frac=0.05,
  mode="initialization", value=15)`` (the paper's setting, SPEC §2);

then sweeps both with global magnitude pruning of the conv/dense kernels (no retraining,
:func:`tf_sfw.pruning.sweep.sweep`), prints a side-by-side table, writes
``<out>/demo.csv``, ``<out>/demo.png`` and ``<out>/demo.json``, and exports the SFW model
pruned to ``--export-sparsity`` (default 90%) as a SavedModel (+ ``model.keras``) to
``saved_models/mnist_cnn_sfw_pruned90/`` (``--export-dir``). The two dense trained models are
saved as ``<out>/mnist_cnn_sgd.keras`` and ``<out>/mnist_cnn_sfw.keras`` (without optimizer
state) for ``tf-sfw prune`` / ``tf-sfw sweep``.
"""

import os
import time

from tf_sfw.cli.sweep import (
    DEFAULT_SPARSITIES,
    eval_dataset,
    load_arrays_subset,
    parse_sparsities,
    parse_sparsity,
    positive_int,
    report_errors,
    write_json,
)

SFW_SETTINGS = {"k": 10, "k_frac": 0.05, "mode": "initialization", "value": 15.0, "learning_rate": 1.0, "momentum": 0.9, "rescale": "gradient"}


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "demo",
        help="MNIST: train SGD and SFW, prune both once to many sparsities without retraining, compare",
        description="Train the seed-003 MNIST CNN with SGD and with SFW (same seed, data order and epochs), "
        "sweep both with global magnitude pruning (no retraining), print a table, save a plot and csv, "
        "and export the 90%%-pruned SFW model as a SavedModel.",
    )
    parser.add_argument("--data-dir", default=None, help="directory with datasets/mnist.npz (else $TF_SFW_DATA_DIR, else Keras download)")
    parser.add_argument("--epochs", type=positive_int, default=2, help="training epochs for each model (default: 2)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="training batch size (default: 128)")
    parser.add_argument("--sgd-lr", type=float, default=0.05, help="SGD learning rate, momentum 0.9 (default: 0.05)")
    parser.add_argument("--seed", type=int, default=0, help="seed of initialisation and data order (default: 0)")
    parser.add_argument("--sparsities", default=DEFAULT_SPARSITIES, help=f"comma-separated sparsities of the sweep (default: {DEFAULT_SPARSITIES})")
    parser.add_argument("--export-sparsity", default="0.9", help="sparsity of the exported SFW model (default: 0.9)")
    parser.add_argument("--export-dir", default=os.path.join("saved_models", "mnist_cnn_sfw_pruned90"), help="export directory (default: saved_models/mnist_cnn_sfw_pruned90)")
    parser.add_argument("--no-export", action="store_true", help="do not export the pruned SFW model")
    parser.add_argument("--out", default=os.path.join("runs", "demo"), help="output directory for csv/png/json (default: runs/demo)")
    parser.add_argument("--train-examples", type=positive_int, default=None, help="train on the first N examples only (quick runs)")
    parser.add_argument("--test-examples", type=positive_int, default=None, help="evaluate on the first N test examples only")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=2, help="Keras fit verbosity (default: 2)")
    parser.set_defaults(func=run)
    return parser


def _train(name, x_train, y_train, args):
    import tf_sfw
    from tf_sfw._keras import keras
    from tf_sfw.constraints import KSparsePolytope, constraints_for_model
    from tf_sfw.data import make_train_dataset, steps_per_epoch
    from tf_sfw.models import mnist_cnn

    keras.utils.set_random_seed(args.seed)  # same initial weights for both optimizers
    model = mnist_cnn(input_shape=x_train.shape[1:], num_classes=10, name=f"mnist_cnn_{name}")
    if name == "sgd":
        optimizer = keras.optimizers.SGD(learning_rate=args.sgd_lr, momentum=0.9)
    else:
        s = SFW_SETTINGS
        constraints = constraints_for_model(model, KSparsePolytope(k=s["k"], k_frac=s["k_frac"], mode=s["mode"], value=s["value"]))
        optimizer = tf_sfw.SFW(learning_rate=s["learning_rate"], momentum=s["momentum"], rescale=s["rescale"], constraints=constraints)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    train_ds = make_train_dataset(x_train, y_train, batch_size=args.batch_size, seed=args.seed, epochs=args.epochs)
    start = time.perf_counter()
    print(f"training {name.upper()} for {args.epochs} epoch(s) on {len(y_train)} examples")
    history = model.fit(train_ds, epochs=args.epochs, steps_per_epoch=steps_per_epoch(len(y_train), args.batch_size), verbose=args.verbose)
    return model, time.perf_counter() - start, history.history


def format_table(sparsities, sgd_rows, sfw_rows):
    """Side-by-side text table: sparsity | SGD acc | SFW acc | non-zero kernel weights."""
    lines = [f"{'sparsity':>9} | {'SGD acc':>8} | {'SFW acc':>8} | {'non-zero kernels':>16}", "-" * 52]
    for s, a, b in zip(sparsities, sgd_rows, sfw_rows):
        lines.append(f"{100 * s:8.1f}% | {100 * a['accuracy']:7.2f}% | {100 * b['accuracy']:7.2f}% | {b['nonzero']:16d}")
    return "\n".join(lines)


def _run(args):
    sparsities = parse_sparsities(args.sparsities)
    export_sparsity = parse_sparsity(args.export_sparsity, "--export-sparsity")
    if not args.sgd_lr > 0:
        raise ValueError(f"`--sgd-lr` must be > 0. Received: --sgd-lr={args.sgd_lr}")
    t0 = time.perf_counter()
    import numpy as np

    from tf_sfw._keras import keras
    from tf_sfw.pruning.export import export_model, load_exported, predict_exported
    from tf_sfw.pruning.magnitude import magnitude_masks
    from tf_sfw.pruning.masks import apply_masks, strip
    from tf_sfw.pruning.metrics import pruning_metrics
    from tf_sfw.pruning.sweep import plot_sweep, sweep, write_sweep_csv

    (x_train, y_train), (x_test, y_test) = load_arrays_subset(
        "mnist", args.data_dir, train_examples=args.train_examples, test_examples=args.test_examples
    )
    test_ds = eval_dataset(x_test, y_test, 500)
    models, train_seconds, histories, results = {}, {}, {}, {}
    for name in ("sgd", "sfw"):
        models[name], train_seconds[name], histories[name] = _train(name, x_train, y_train, args)
        results[name] = sweep(models[name], test_ds, sparsities)
    os.makedirs(args.out, exist_ok=True)
    for name, model in models.items():  # dense trained models, e.g. for `tf-sfw prune --model ...`
        keras_copy = keras.models.clone_model(model)  # uncompiled copy: no optimizer state in the file
        keras_copy.set_weights(model.get_weights())
        keras_copy.save(os.path.join(args.out, f"mnist_cnn_{name}.keras"))
    table = format_table(sparsities, results["sgd"], results["sfw"])
    print()
    print(f"MNIST CNN, {args.epochs} epoch(s), {len(y_train)} train / {len(y_test)} test examples; "
          "global magnitude pruning of conv/dense kernels, no retraining")
    print(table)

    labels = {"sgd": f"SGD (lr {args.sgd_lr:g}, momentum 0.9)", "sfw": "SFW (K-sparse polytope, lr 1, momentum 0.9)"}
    write_sweep_csv({"sgd": results["sgd"], "sfw": results["sfw"]}, os.path.join(args.out, "demo.csv"))
    plot_sweep({labels[k]: results[k] for k in ("sgd", "sfw")}, os.path.join(args.out, "demo.png"),
               title=f"MNIST CNN, {args.epochs} epoch(s): one-shot global magnitude pruning, no retraining")
    summary = {
        "settings": {
            "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
            "train_examples": int(len(y_train)), "test_examples": int(len(y_test)),
            "sgd": {"learning_rate": args.sgd_lr, "momentum": 0.9}, "sfw": SFW_SETTINGS,
            "pruning": "global magnitude, conv/dense kernels, no retraining",
        },
        "train_seconds": train_seconds,
        "train_history": histories,
        "sweep": results,
    }
    if not args.no_export:
        pruned = strip(apply_masks(models["sfw"], magnitude_masks(models["sfw"], export_sparsity)))
        directory = export_model(pruned, args.export_dir)
        x = x_test[:256].astype(np.float32) / 255.0
        diff = float(np.max(np.abs(predict_exported(load_exported(directory), x) - pruned.predict(x, verbose=0))))
        metrics = pruning_metrics(pruned, dense_model=models["sfw"], latency_batch=x)
        summary["export"] = {"directory": directory, "sparsity": export_sparsity, "max_abs_prediction_diff_after_reload": diff, "metrics": metrics}
        print(f"exported the SFW model pruned to {100 * export_sparsity:g}% to {directory} "
              f"(reloaded predictions differ by at most {diff:.2e}); {metrics['nonzero']} of {metrics['counted']} "
              f"kernel weights non-zero, gzip {metrics['compressed_bytes']} B vs dense {metrics['dense_compressed_bytes']} B, "
              f"latency {metrics['relative_latency']:.2f}x dense")
    summary["total_seconds"] = time.perf_counter() - t0
    write_json(os.path.join(args.out, "demo.json"), summary)
    print(f"wrote {os.path.join(args.out, 'demo.csv')}, demo.png, demo.json; "
          f"total {summary['total_seconds']:.0f} s (training: SGD {train_seconds['sgd']:.0f} s, SFW {train_seconds['sfw']:.0f} s)")
    return 0


def run(args):
    return report_errors("demo", _run, args)
