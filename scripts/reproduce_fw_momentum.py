"""Reproduce seed 003: simple vs FW vs FW+momentum pruning of the MNIST CNN vs pre-training budget.

For every dense pre-training budget b = 1..B epochs (SGD, one checkpoint per budget) each
checkpoint is pruned independently by ``simple``, ``fw`` and ``fw_momentum``
(:mod:`tf_sfw.pruning.iterative`) at every target sparsity, with the same fine-tuning
budget (``--fine-tune-examples``) for every method. Writes

- ``<out>/results.csv``: budget, method, target_sparsity, test_accuracy, test_loss,
  nonzero_fraction, latency_ratio (method ``base`` = the unpruned checkpoint);
- ``<out>/accuracy.png``, ``loss.png``, ``nonzero.png``, ``latency.png`` (the four
  figures of the seed, vs pre-training budget);
- ``<out>/run.json``: the arguments and the wall time.

Example (the full study)::

    python scripts/reproduce_fw_momentum.py --data-dir ../shared/data/keras --out results/fw_momentum

``--quick`` runs a tiny version (2 budgets, data subsets, few steps) for tests.
"""

import argparse
import csv
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

METHODS = ("simple", "fw", "fw_momentum")
COLUMNS = ("budget", "method", "target_sparsity", "test_accuracy", "test_loss", "nonzero_fraction", "latency_ratio")


def build_parser():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data-dir", default=None, help="directory with datasets/mnist.npz (default: TF_SFW_DATA_DIR / Keras cache)")
    p.add_argument("--out", default="results/fw_momentum", help="output directory")
    p.add_argument("--checkpoint-dir", default="saved_models/fw_momentum", help="where the per-budget dense checkpoints go")
    p.add_argument("--max-budget", type=int, default=10, help="pre-training budgets 1..max-budget epochs")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0.9, 0.95])
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    p.add_argument("--pretrain-lr", type=float, default=0.05)
    p.add_argument("--pretrain-momentum", type=float, default=0.9)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--fine-tune-examples", type=int, default=60000, help="fine-tuning budget per pruning run (examples)")
    p.add_argument("--fine-tune-lr", type=float, default=0.01)
    p.add_argument("--iterations", type=int, default=8, help="FW iterations")
    p.add_argument("--subsample", type=int, default=1024, help="examples per importance gradient")
    p.add_argument("--fine-tune-every", type=int, default=4)
    p.add_argument("--step-size", default="0.02", help="FW step size: 'harmonic' or a constant")
    p.add_argument("--initial-sparsity", type=float, default=0.5, help="s0 of fw_momentum")
    p.add_argument("--beta", type=float, default=0.9, help="EMA factor of fw_momentum")
    p.add_argument("--scope", default="global", choices=("global", "layerwise"))
    p.add_argument("--latency-repeats", type=int, default=7)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quick", action="store_true", help="tiny run for tests")
    return p


def _load(args):
    import numpy as np

    from tf_sfw.data import load_arrays

    (x_train, y_train), (x_test, y_test) = load_arrays("mnist", data_dir=args.data_dir, download=False)
    x_train = (x_train.astype("float32") / 255.0).reshape(-1, 28, 28, 1)
    x_test = (x_test.astype("float32") / 255.0).reshape(-1, 28, 28, 1)
    y_train, y_test = y_train.astype("int64"), y_test.astype("int64")
    if args.quick:
        rng = np.random.default_rng(args.seed)
        tr = np.sort(rng.choice(len(x_train), 1024, replace=False))
        te = np.sort(rng.choice(len(x_test), 512, replace=False))
        x_train, y_train, x_test, y_test = x_train[tr], y_train[tr], x_test[te], y_test[te]
    return (x_train, y_train), (x_test, y_test)


def _options(args, method):
    step = args.step_size if args.step_size == "harmonic" else float(args.step_size)
    common = dict(scope=args.scope, fine_tune_examples=args.fine_tune_examples, batch_size=args.batch_size,
                  learning_rate=args.fine_tune_lr, seed=args.seed)
    if method == "simple":
        return common
    fw = dict(common, iterations=args.iterations, subsample=args.subsample, step_size=step,
              fine_tune_every=args.fine_tune_every)
    if method == "fw_momentum":
        fw.update(beta=args.beta, initial_sparsity=args.initial_sparsity)
    return fw


def _paired_latency_ratio(model, dense_model, batch, repeats):
    """Median over repeats of (pruned time / dense time), the two timed back to back.

    Alternating the two models cancels most of the drift of a shared, loaded machine.
    """
    import numpy as np
    import tensorflow as tf

    x = tf.convert_to_tensor(batch)
    fns = [tf.function(lambda inputs, m=m: m(inputs, training=False)) for m in (model, dense_model)]
    for fn in fns:
        fn(x).numpy()
    ratios = []
    for _ in range(repeats):
        times = []
        for fn in fns:
            start = time.perf_counter()
            fn(x).numpy()
            times.append(time.perf_counter() - start)
        ratios.append(times[0] / times[1])
    return float(np.median(ratios))


def _evaluate(model, x_test, y_test, dense_model, args):
    from tf_sfw.pruning.metrics import sparsity_report

    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    loss, acc = model.evaluate(x_test, y_test, batch_size=1000, verbose=0)
    nonzero = 1.0 - sparsity_report(model)["global_sparsity"]
    ratio = 1.0 if dense_model is None else _paired_latency_ratio(model, dense_model, x_test[:1000], args.latency_repeats)
    return float(acc), float(loss), float(nonzero), ratio


def run_study(args):
    """Runs the whole study; returns the list of result rows (dicts)."""
    import numpy as np  # noqa: F401

    from tf_sfw._keras import keras
    from tf_sfw.models import mnist_cnn
    from tf_sfw.pruning.iterative import prune
    from tf_sfw.training import build_optimizer

    if args.quick:
        args.max_budget = min(args.max_budget, 2)
        args.fine_tune_examples = min(args.fine_tune_examples, 256)
        args.iterations, args.subsample, args.fine_tune_every = 3, 128, 1
        args.latency_repeats = 2
    if args.max_budget < 1:
        raise ValueError(f"`--max-budget` must be >= 1. Received: {args.max_budget}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt_dir = Path(args.checkpoint_dir)
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    (x_train, y_train), (x_test, y_test) = _load(args)

    keras.utils.set_random_seed(args.seed)
    dense_model = mnist_cnn()
    dense_model.compile(
        optimizer=build_optimizer(dense_model, {"optimizer": "sgd", "learning_rate": args.pretrain_lr,
                                                "momentum": args.pretrain_momentum}),
        loss="sparse_categorical_crossentropy", metrics=["accuracy"],
    )
    rows = []
    csv_path = out / "results.csv"
    with open(csv_path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for budget in range(1, args.max_budget + 1):
            t0 = time.time()
            dense_model.fit(x_train, y_train, batch_size=args.batch_size, epochs=budget, initial_epoch=budget - 1,
                            shuffle=True, verbose=0)
            ckpt = ckpt_dir / f"budget_{budget:02d}.weights.h5"
            dense_model.save_weights(str(ckpt))
            checkpoint = mnist_cnn()
            checkpoint.load_weights(str(ckpt))
            acc, loss, nz, _ = _evaluate(checkpoint, x_test, y_test, None, args)
            results = [dict(budget=budget, method="base", target_sparsity=0.0, test_accuracy=acc, test_loss=loss,
                            nonzero_fraction=nz, latency_ratio=1.0)]
            print(f"[budget {budget}] base acc={acc:.4f} loss={loss:.4f} ({time.time() - t0:.0f}s)", flush=True)
            for sparsity in args.sparsities:
                for method in args.methods:
                    t1 = time.time()
                    pruned, history = prune(method, checkpoint, (x_train, y_train), sparsity, **_options(args, method))
                    acc, loss, nz, ratio = _evaluate(pruned, x_test, y_test, checkpoint, args)
                    results.append(dict(budget=budget, method=method, target_sparsity=sparsity, test_accuracy=acc,
                                        test_loss=loss, nonzero_fraction=nz, latency_ratio=ratio))
                    print(f"[budget {budget}] {method:<11} s={sparsity:.2f} acc={acc:.4f} loss={loss:.4f} "
                          f"nonzero={nz:.4f} latency={ratio:.3f} ft_examples={history['fine_tune_examples']} "
                          f"({time.time() - t1:.0f}s)", flush=True)
            for row in results:
                writer.writerow({k: (f"{v:.6f}" if isinstance(v, float) else v) for k, v in row.items()})
            handle.flush()
            rows.extend(results)
    return rows


def plot(rows, out):
    """The four figures of the seed (metric vs pre-training budget), one PNG each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    panels = [("test_accuracy", "accuracy.png", "test accuracy"), ("test_loss", "loss.png", "test loss"),
              ("nonzero_fraction", "nonzero.png", "% non-zero weights"),
              ("latency_ratio", "latency.png", "inference time / dense")]
    sparsities = sorted({r["target_sparsity"] for r in rows if r["method"] != "base"})
    styles = {"base": ("black", "o"), "simple": ("tab:blue", "s"), "fw": ("tab:orange", "^"), "fw_momentum": ("tab:green", "D")}
    dashes = ["-", "--", ":", "-."]
    for column, name, label in panels:
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        base = [r for r in rows if r["method"] == "base"]
        scale = 100.0 if column == "nonzero_fraction" else 1.0
        ax.plot([r["budget"] for r in base], [scale * r[column] for r in base], color="black", marker="o", label="base (dense)")
        for i, s in enumerate(sparsities):
            for method in METHODS:
                pts = [r for r in rows if r["method"] == method and r["target_sparsity"] == s]
                if pts:
                    color, marker = styles[method]
                    ax.plot([r["budget"] for r in pts], [scale * r[column] for r in pts], color=color, marker=marker,
                            linestyle=dashes[i % len(dashes)], label=f"{method} s={s:g}")
        ax.set_xlabel("pre-training budget (epochs)")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)


def main(argv=None):
    args = build_parser().parse_args(argv)
    start = time.time()
    rows = run_study(args)
    plot(rows, args.out)
    wall = time.time() - start
    with open(Path(args.out) / "run.json", "w") as handle:
        json.dump({"argv": sys.argv[1:] if argv is None else list(argv), "args": vars(args), "wall_time_s": round(wall, 1)},
                  handle, indent=2)
    print(f"wall time {wall:.0f}s; wrote {Path(args.out) / 'results.csv'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
