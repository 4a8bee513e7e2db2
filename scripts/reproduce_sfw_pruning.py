#!/usr/bin/env python
r"""Reproduce "one-shot, any-sparsity, no retraining" pruning after SFW training (seed 000, SPEC §5).

For each experiment (data set, model) three networks are trained from the same
initialization, on the same batches:

* ``SGD``: SGD with momentum 0.9 (the baseline);
* ``SFW``: `tf_sfw.SFW` with every variable in a K-sparse polytope
  (k=10, k_frac=0.05, mode="initialization", tau=15), lr 1.0, momentum 0.9,
  rescale "gradient" (the paper's setting, SPEC §2);
* ``SFW+init``: the same after SFW-Init (`tf_sfw.sfw_init.sfw_init`, SPEC §4).

Then, without retraining, each network is magnitude-pruned globally (one threshold over all
kernels; biases are not pruned) to every sparsity of ``--sparsities`` and evaluated on the
test set (``curves.csv``, ``curves_<dataset>_<model>.png``), and the seed-000 table protocol
{dense, pruned 40%} x {no retrain, retrain} is evaluated (``table.csv``). "Retrain" means
fine-tuning with the mask fixed (``tf_sfw.pruning.fine_tune``) with SGD (lr
``--retrain-lr``, momentum 0.9) for ``--retrain-epochs`` epochs; the dense model is
"retrained" through the same code path with an all-ones mask (the control for the extra
epochs). ``histogram_<dataset>_<model>.png`` compares the weight magnitudes of SGD and SFW.

Learning-rate schedules. Short runs (the default): lr / 10 at 1/3 and 2/3 of the epochs
(the paper's epochs 61 and 121 of 180, scaled), for both optimizers. With
``--paper-schedule`` (default for cifar10): the paper's "dynamic change" (SPEC §3).

Usage::

    # the full CPU reproduction (Fashion-MNIST/simple_cnn and MNIST/mnist_cnn)
    python scripts/reproduce_sfw_pruning.py --data-dir ../shared/data/keras
    # the paper's CIFAR-10 configurations (meant for a GPU)
    python scripts/reproduce_sfw_pruning.py --dataset cifar10 --model resnet18 --epochs 180
    python scripts/reproduce_sfw_pruning.py --dataset cifar10 --model vgg16 --epochs 180
    # smoke test
    python scripts/reproduce_sfw_pruning.py --quick --out /tmp/sfw_quick
"""

import argparse
import csv
import json
import os
import sys
import time

DEFAULT_EXPERIMENTS = (("fashion_mnist", "simple_cnn"), ("mnist", "mnist_cnn"))
TABLE_FIELDS = ("dataset", "model", "optimizer", "sfw_init", "sparsity", "retrain", "test_accuracy", "test_loss")
CURVE_FIELDS = ("dataset", "model", "optimizer", "sfw_init", "sparsity", "achieved_sparsity", "test_accuracy", "test_loss")
SWEEP_SPARSITIES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.98, 0.99)
RUNS = (("SGD", False), ("SFW", False), ("SFW", True))
# The paper's CIFAR-10 hyperparameters (SPEC §2-3); the CPU defaults differ only in epochs/schedule.
PAPER = {"epochs": 180, "batch_size": 128, "test_batch_size": 100, "sfw_lr": 1.0, "momentum": 0.9, "tau": 15.0,
         "k": 10, "k_frac": 0.05, "sgd_lr": 0.1}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("mnist", "fashion_mnist", "cifar10"), default=None,
                   help="Run one experiment on this data set (default: Fashion-MNIST/simple_cnn and MNIST/mnist_cnn).")
    p.add_argument("--model", choices=("mnist_cnn", "simple_cnn", "resnet18", "vgg16"), default=None,
                   help="Model of the single experiment (default: simple_cnn; mnist_cnn for mnist; resnet18 for cifar10).")
    p.add_argument("--data-dir", default=None, help="Directory with the data files (see tf_sfw.data).")
    p.add_argument("--out", default="results/sfw_pruning", help="Output directory.")
    p.add_argument("--epochs", type=int, default=None, help="Training epochs (default 12; 180 for cifar10).")
    p.add_argument("--batch-size", type=int, default=PAPER["batch_size"])
    p.add_argument("--test-batch-size", type=int, default=PAPER["test_batch_size"])
    p.add_argument("--sgd-lr", type=float, default=None, help="SGD baseline lr (default 0.05; 0.1 for cifar10).")
    p.add_argument("--sfw-lr", type=float, default=PAPER["sfw_lr"])
    p.add_argument("--momentum", type=float, default=PAPER["momentum"])
    p.add_argument("--tau", type=float, default=PAPER["tau"])
    p.add_argument("--k", type=int, default=PAPER["k"])
    p.add_argument("--k-frac", type=float, default=PAPER["k_frac"])
    p.add_argument("--paper-schedule", action="store_true", default=None,
                   help="The paper's dynamic lr schedule (SPEC §3; default for cifar10).")
    p.add_argument("--bias-radius", choices=("fallback", "reference"), default="reference",
                   help="Radius of the zero-initialised biases' polytopes: 'fallback' = SPEC's E||b|| = 1.0; "
                        "'reference' = E||b|| under PyTorch's bias init U(+-1/sqrt(fan_in)), as in the reference code.")
    p.add_argument("--lr-milestones", type=int, nargs="*", default=None,
                   help="1-based epochs at whose start lr is divided by 10 (default: round(E/3)+1, round(2E/3)+1; "
                        "give no value for a constant lr). Ignored with --paper-schedule.")
    p.add_argument("--sfw-init-iterations", type=int, default=390)
    p.add_argument("--sfw-init-first-order", action="store_true", help="SFW-Init without the second-order term.")
    p.add_argument("--retrain-epochs", type=int, default=1)
    p.add_argument("--retrain-lr", type=float, default=0.01)
    p.add_argument("--table-sparsity", type=float, default=0.4)
    p.add_argument("--sparsities", type=float, nargs="+", default=list(SWEEP_SPARSITIES))
    p.add_argument("--no-table", action="store_true", help="Skip the table protocol (curves only).")
    p.add_argument("--include-bias", action="store_true", help="Also prune biases (default: kernels only).")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="Limit the batches per epoch (smoke tests).")
    p.add_argument("--train-subset", type=int, default=None, help="Use a random subset of the training set.")
    p.add_argument("--test-subset", type=int, default=None, help="Evaluate on the first N test examples.")
    p.add_argument("--runs", nargs="+", default=["SGD", "SFW", "SFW+init"], choices=["SGD", "SFW", "SFW+init"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true",
                   help="Tiny smoke run: 1 epoch on 512 examples, 3 SFW-Init iterations, 500 test examples.")
    p.add_argument("--replot", action="store_true", help="Only redraw the curve plots from OUT/curves.csv.")
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args(argv)
    cifar = args.dataset == "cifar10"
    if args.model is None:
        args.model = {"mnist": "mnist_cnn", "cifar10": "resnet18"}.get(args.dataset, "simple_cnn")
    if args.model in ("resnet18", "vgg16") and not cifar:
        p.error(f"--model {args.model} needs --dataset cifar10 (32x32x3 inputs).")
    if args.dataset is not None and args.model == "mnist_cnn" and cifar:
        p.error("--model mnist_cnn is for 28x28x1 inputs; use simple_cnn, resnet18 or vgg16 on cifar10.")
    if args.epochs is None:
        args.epochs = PAPER["epochs"] if cifar else 12
    if args.sgd_lr is None:
        args.sgd_lr = PAPER["sgd_lr"] if cifar else 0.05
    if args.paper_schedule is None:
        args.paper_schedule = cifar
    if args.quick:
        args.epochs, args.retrain_epochs, args.sfw_init_iterations = 1, 1, 3
        args.train_subset = args.train_subset or 512
        args.test_subset = args.test_subset or 500
        if args.sparsities == list(SWEEP_SPARSITIES):
            args.sparsities = [0.0, 0.4, 0.8, 0.99]
    for name in ("epochs", "batch_size", "test_batch_size", "retrain_epochs", "sfw_init_iterations"):
        if getattr(args, name) < (0 if name in ("retrain_epochs", "sfw_init_iterations") else 1):
            p.error(f"--{name.replace('_', '-')} must be a positive integer. Received: {getattr(args, name)}")
    if not 0 <= args.table_sparsity < 1 or any(not 0 <= s < 1 for s in args.sparsities):
        p.error("sparsities must be in [0, 1).")
    return args


# ------------------------------------------------------------------------------------------
# Building blocks (thin glue over tf_sfw).


def short_run_milestones(epochs):
    """1-based epochs of the lr / 10 steps for short runs: one and two thirds of the run,
    round(E/3)+1 and round(2E/3)+1 (61 and 121 for E = 180, the paper's milestones)."""
    from tf_sfw.schedules import relative_milestones
    from tf_sfw.training.config import PAPER_MILESTONES_FRAC

    return relative_milestones(PAPER_MILESTONES_FRAC, epochs)


def lr_callbacks(args):
    """StepDecay (paper milestones, or scaled ones for short runs) + the paper's loss-average rule."""
    from tf_sfw.schedules import LossAverageSchedule, StepDecay

    if args.paper_schedule:
        return [StepDecay(milestones=(61, 121)), LossAverageSchedule()]
    milestones = short_run_milestones(args.epochs) if args.lr_milestones is None else tuple(args.lr_milestones)
    return [StepDecay(milestones=milestones)] if milestones else []


def load_data(args, dataset):
    import numpy as np

    from tf_sfw import data as data_lib

    (x_train, y_train), (x_test, y_test) = data_lib.load_arrays(dataset, data_dir=args.data_dir)
    if args.train_subset and args.train_subset < len(y_train):
        idx = np.sort(np.random.default_rng(args.seed).permutation(len(y_train))[: args.train_subset])
        x_train, y_train = x_train[idx], y_train[idx]
    if args.test_subset and args.test_subset < len(y_test):
        x_test, y_test = x_test[: args.test_subset], y_test[: args.test_subset]
    return (x_train, y_train), (x_test, y_test)


def train_dataset(args, dataset, x, y, epochs, seed_offset=0):
    from tf_sfw import data as data_lib

    return data_lib.make_train_dataset(
        x, y, batch_size=args.batch_size, seed=args.seed + seed_offset, epochs=epochs, augment=dataset == "cifar10"
    )


def steps(args, n):
    from tf_sfw import data as data_lib

    total = data_lib.steps_per_epoch(n, args.batch_size)
    return min(total, args.steps_per_epoch) if args.steps_per_epoch else total


def build(args, model_name, input_shape):
    from tf_sfw._keras import keras
    from tf_sfw.models import build_model

    keras.utils.set_random_seed(args.seed)  # same initialization for every run
    return build_model(model_name, input_shape=input_shape, num_classes=10)


def reference_bias_norms(model):
    r"""E||b|| of each conv/dense bias under PyTorch's default bias init U(±1/sqrt(fan_in)):
    :math:`\sqrt{n / (3\,\mathrm{fan_{in}})}` (fan_in = entries of the kernel / output units).

    The reference sizes every polytope from the initial norm of its PyTorch variable; Keras
    initialises biases to zero, for which SPEC §1 falls back to E||b|| = 1.0, i.e. a bias radius
    15/sqrt(K) several times larger than the reference's.
    """
    import numpy as np

    norms = {}
    for layer in model.layers:
        kernel, bias = getattr(layer, "kernel", None), getattr(layer, "bias", None)
        if kernel is None or bias is None or not bias.trainable:
            continue
        n = int(np.prod(bias.shape))
        fan_in = int(np.prod(kernel.shape)) // n
        norms[bias.name] = float(np.sqrt(n / (3.0 * fan_in)))
    return norms


def optimizer_options(args, optimizer_name):
    """The `tf_sfw.training.TrainConfig` fields of ``optimizer_name`` ("SGD" or "SFW") for ``args``."""
    if optimizer_name == "SGD":
        return {"optimizer": "sgd", "learning_rate": args.sgd_lr, "momentum": args.momentum}
    return {"optimizer": "sfw", "learning_rate": args.sfw_lr, "momentum": args.momentum, "rescale": "gradient",
            "constraint": "k_sparse", "k": args.k, "k_frac": args.k_frac, "mode": "initialization", "value": args.tau,
            "constrain": "all"}  # the paper's setting: every variable, biases included, in its set


def _init_norms(args, model):
    return reference_bias_norms(model) if args.bias_radius == "reference" else None


def sfw_constraints(args, model):
    from tf_sfw.training import build_constraints

    return build_constraints(model, optimizer_options(args, "SFW"), init_norms=_init_norms(args, model))


def train_run(args, dataset, model_name, optimizer_name, use_init, train_arrays, test_ds, log):
    """Train one network; returns (model, info dict)."""
    import numpy as np

    from tf_sfw.pruning.sweep import evaluate_classifier
    from tf_sfw.training import build_optimizer

    x_train, y_train = train_arrays
    model = build(args, model_name, x_train.shape[1:])
    info = {"optimizer": optimizer_name, "sfw_init": use_init}
    start = time.time()
    optimizer = build_optimizer(model, optimizer_options(args, optimizer_name), init_norms=_init_norms(args, model))
    if use_init:
        from tf_sfw.sfw_init import sfw_init

        t0 = time.time()
        history = sfw_init(
            model, optimizer.constraints, (x_train.astype(np.float32) / 255.0, y_train),
            iterations=args.sfw_init_iterations, learning_rate=args.sfw_lr, batch_size=args.batch_size,
            second_order=not args.sfw_init_first_order, seed=args.seed, verbose=args.verbose,
        )
        info["sfw_init_seconds"] = time.time() - t0
        scaled = history["scaled"]
        info["sfw_init_beta"] = {n: float(b) for n, b, s in zip(history["names"], history["beta"][-1], scaled) if s}
        log(f"  SFW-Init {args.sfw_init_iterations} it in {info['sfw_init_seconds']:.0f}s; beta = "
            + ", ".join(f"{n.split(':')[0]}={b:.3f}" for n, b in info["sfw_init_beta"].items()))
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    callbacks = lr_callbacks(args)
    per_epoch = steps(args, len(y_train))
    ds = train_dataset(args, dataset, x_train, y_train, args.epochs)
    t0 = time.time()
    hist = model.fit(ds, epochs=args.epochs, steps_per_epoch=per_epoch, callbacks=callbacks, verbose=args.verbose)
    info["train_seconds"] = time.time() - t0
    info["total_seconds"] = time.time() - start
    info["train_loss"] = [float(v) for v in hist.history["loss"]]
    loss, acc = evaluate_classifier(model, test_ds)
    info["test_accuracy"], info["test_loss"] = acc, loss
    if any(not np.isfinite(v) for v in info["train_loss"]):
        raise ValueError(f"{optimizer_name} training produced a non-finite loss: {info['train_loss']}")
    log(f"  {label(optimizer_name, use_init)}: {args.epochs} epochs in {info['train_seconds']:.0f}s, "
        f"test acc {100 * acc:.2f}%, loss {loss:.4f}")
    return model, info


def label(optimizer_name, use_init):
    return optimizer_name + ("+init" if use_init else "")


def table_rows(args, dataset, model_name, model, info, train_arrays, test_ds, log):
    """The seed-000 protocol: {dense, pruned s} x {no retrain, retrain}."""
    from tf_sfw._keras import keras
    from tf_sfw.pruning import prune_and_fine_tune
    from tf_sfw.pruning.sweep import evaluate_classifier

    x_train, y_train = train_arrays
    rows = []
    for sparsity in (0.0, args.table_sparsity):
        for retrain in (False, True):
            epochs = args.retrain_epochs if retrain else 0
            ds = train_dataset(args, dataset, x_train, y_train, max(epochs, 1), seed_offset=1)
            pruned, _ = prune_and_fine_tune(
                model, sparsity, ds, epochs, include_bias=args.include_bias,
                optimizer=keras.optimizers.SGD(learning_rate=args.retrain_lr, momentum=0.9),
                steps_per_epoch=steps(args, len(y_train)),
            )
            loss, acc = evaluate_classifier(pruned, test_ds)
            rows.append({"dataset": dataset, "model": model_name, "optimizer": info["optimizer"],
                         "sfw_init": info["sfw_init"], "sparsity": sparsity, "retrain": retrain,
                         "test_accuracy": acc, "test_loss": loss})
            log(f"    table {label(info['optimizer'], info['sfw_init'])} sparsity {sparsity:.2f} retrain={retrain}: "
                f"acc {100 * acc:.2f}%")
    return rows


def weight_magnitudes(model, include_bias):
    import numpy as np

    from tf_sfw.pruning import prunable_weights

    return np.concatenate([np.abs(v.numpy()).ravel() for v in prunable_weights(model, include_bias=include_bias).values()])


def plot_histograms(magnitudes, path, title):
    """Histograms of |w| / max|w| per run (log-scaled counts) + the fraction of weights below each level."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    bins = np.linspace(0.0, 1.0, 61)
    for name, mags in magnitudes.items():
        rel = mags / mags.max()
        axes[0].hist(rel, bins=bins, histtype="step", linewidth=1.6, label=name, density=True)
        sorted_rel = np.sort(rel)
        axes[1].plot(sorted_rel, np.arange(1, len(rel) + 1) / len(rel), label=name)
    axes[0].set_yscale("log")
    axes[0].set_xlabel("|w| / max |w|")
    axes[0].set_ylabel("density (log)")
    axes[0].set_title("weight-magnitude histogram")
    axes[1].set_xscale("log")
    axes[1].set_xlim(1e-4, 1)
    axes[1].set_xlabel("|w| / max |w| (log)")
    axes[1].set_ylabel("fraction of weights below")
    axes[1].set_title("cumulative distribution")
    for ax in axes:
        ax.grid(True, alpha=0.3)
        ax.legend()
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_csv(path, fields, rows):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})


def summary_markdown(args, table, curves, infos):
    """A Markdown summary of the measured numbers (written next to the CSVs)."""
    lines = ["# Measured numbers (generated by scripts/reproduce_sfw_pruning.py)", "",
             "Command: `python " + " ".join(sys.argv) + "`", ""]
    for (dataset, model_name), runs in infos.items():
        lines += [f"## {dataset} / {model_name}", "", "| run | train s | test acc (dense) |", "|---|---|---|"]
        for run in runs:
            lines.append(f"| {label(run['optimizer'], run['sfw_init'])} | {run['train_seconds']:.0f}"
                         f"{' (+%.0f init)' % run['sfw_init_seconds'] if 'sfw_init_seconds' in run else ''} | "
                         f"{100 * run['test_accuracy']:.2f}% |")
        lines += ["", "Table protocol (accuracy %):", "",
                  "| optimizer | dense | dense + retrain | pruned %d%% | pruned %d%% + retrain |"
                  % (100 * args.table_sparsity, 100 * args.table_sparsity), "|---|---|---|---|---|"]
        for run in runs:
            get = {(r["sparsity"], r["retrain"]): r["test_accuracy"] for r in table
                   if r["dataset"] == dataset and r["optimizer"] == run["optimizer"] and r["sfw_init"] == run["sfw_init"]}
            if get:
                lines.append(f"| {label(run['optimizer'], run['sfw_init'])} | " + " | ".join(
                    f"{100 * get[k]:.2f}" for k in [(0.0, False), (0.0, True), (args.table_sparsity, False),
                                                    (args.table_sparsity, True)]) + " |")
        names = [label(r["optimizer"], r["sfw_init"]) for r in runs]
        lines += ["", "Accuracy (%) after one-shot global magnitude pruning, no retraining:", "",
                  "| sparsity | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for s in args.sparsities:
            cells = []
            for run in runs:
                match = [c for c in curves if c["dataset"] == dataset and c["optimizer"] == run["optimizer"]
                         and c["sfw_init"] == run["sfw_init"] and c["sparsity"] == s]
                cells.append(f"{100 * match[0]['test_accuracy']:.2f}" if match else "")
            lines.append(f"| {100 * s:g}% | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def curve_title(dataset, model_name):
    return f"{dataset} / {model_name}: one-shot global magnitude pruning, no retraining"


def replot_curves(out):
    """Redraw every curves_<dataset>_<model>.png from ``out/curves.csv`` (no training)."""
    from tf_sfw.pruning.sweep import plot_sweep

    with open(os.path.join(out, "curves.csv"), newline="") as f:
        records = list(csv.DictReader(f))
    groups = {}
    for r in records:
        key = (r["dataset"], r["model"])
        name = label(r["optimizer"], r["sfw_init"] == "True")
        groups.setdefault(key, {}).setdefault(name, []).append(
            {"sparsity": float(r["sparsity"]), "accuracy": float(r["test_accuracy"])})
    for (dataset, model_name), sweeps in groups.items():
        plot_sweep(sweeps, os.path.join(out, f"curves_{dataset}_{model_name}.png"), title=curve_title(dataset, model_name))
    return sorted(groups)


def run_experiment(args, dataset, model_name, log):
    from tf_sfw import data as data_lib
    from tf_sfw.pruning.sweep import plot_sweep, sweep

    (x_train, y_train), (x_test, y_test) = load_data(args, dataset)
    test_ds = data_lib.make_eval_dataset(x_test, y_test, batch_size=args.test_batch_size)
    log(f"{dataset}/{model_name}: {len(y_train)} train, {len(y_test)} test examples, {args.epochs} epochs, "
        f"{steps(args, len(y_train))} steps/epoch")
    wanted = [(o, i) for o, i in RUNS if label(o, i) in args.runs]
    table, curves, infos, magnitudes, sweeps = [], [], [], {}, {}
    for optimizer_name, use_init in wanted:
        model, info = train_run(args, dataset, model_name, optimizer_name, use_init, (x_train, y_train), test_ds, log)
        t0 = time.time()
        rows = sweep(model, test_ds, sparsities=args.sparsities, include_bias=args.include_bias)
        info["sweep_seconds"] = time.time() - t0
        sweeps[label(optimizer_name, use_init)] = rows
        for r in rows:
            curves.append({"dataset": dataset, "model": model_name, "optimizer": optimizer_name, "sfw_init": use_init,
                           "sparsity": r["sparsity"], "achieved_sparsity": r["achieved_sparsity"],
                           "test_accuracy": r["accuracy"], "test_loss": r["loss"]})
        log("    sweep: " + ", ".join(f"{100 * r['sparsity']:g}%:{100 * r['accuracy']:.2f}" for r in rows))
        if not args.no_table:
            t0 = time.time()
            table += table_rows(args, dataset, model_name, model, info, (x_train, y_train), test_ds, log)
            info["table_seconds"] = time.time() - t0
        if not use_init:
            magnitudes[optimizer_name] = weight_magnitudes(model, args.include_bias)
        infos.append(info)
    plot_sweep(sweeps, os.path.join(args.out, f"curves_{dataset}_{model_name}.png"), title=curve_title(dataset, model_name))
    if len(magnitudes) == 2:
        plot_histograms(magnitudes, os.path.join(args.out, f"histogram_{dataset}_{model_name}.png"),
                        f"{dataset} / {model_name}: weight magnitudes (kernels) after training, SGD vs SFW")
    return table, curves, infos


def main(argv=None):
    args = parse_args(argv)
    if args.replot:
        print("replotted:", replot_curves(args.out))
        return 0
    os.makedirs(args.out, exist_ok=True)
    experiments = [(args.dataset, args.model)] if args.dataset else list(DEFAULT_EXPERIMENTS)
    log_path = os.path.join(args.out, "log.txt")
    log_file = open(log_path, "w")

    def log(message):
        print(message, flush=True)
        log_file.write(message + "\n")
        log_file.flush()

    log("command: python " + " ".join(sys.argv))
    start = time.time()
    table, curves, all_infos = [], [], {}
    try:
        for dataset, model_name in experiments:
            t0 = time.time()
            t, c, infos = run_experiment(args, dataset, model_name, log)
            table += t
            curves += c
            all_infos[(dataset, model_name)] = infos
            log(f"{dataset}/{model_name} done in {time.time() - t0:.0f}s")
            write_csv(os.path.join(args.out, "table.csv"), TABLE_FIELDS, table)
            write_csv(os.path.join(args.out, "curves.csv"), CURVE_FIELDS, curves)
        total = time.time() - start
        log(f"total wall time {total:.0f}s")
        with open(os.path.join(args.out, "runs.json"), "w") as f:
            json.dump({"args": vars(args), "total_seconds": total,
                       "runs": {f"{d}/{m}": v for (d, m), v in all_infos.items()}}, f, indent=1)
        with open(os.path.join(args.out, "summary.md"), "w") as f:
            f.write(summary_markdown(args, table, curves, all_infos) + f"\nTotal wall time: {total:.0f} s\n")
    finally:
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
