"""``tf-sfw sweep``: evaluate one trained model at many sparsities without retraining.

Example::

    tf-sfw sweep --model runs/mnist_sfw/model.keras --sparsities 0,0.5,0.9,0.95,0.99 \
        --data-dir /path/to/keras --out runs/sweep

writes ``<out>/sweep.csv`` (sparsity, achieved_sparsity, accuracy, loss, nonzero,
nonzero_total), ``<out>/sweep.png`` (accuracy against sparsity) and
``<out>/metrics.json`` (the same rows plus the settings).

This module also holds the small helpers shared by ``tf-sfw prune`` and ``tf-sfw demo``
(argument parsing of sparsity lists, data loading, JSON writing, error reporting).
"""

import json
import os
import sys

DATASETS = ("mnist", "fashion_mnist", "cifar10")
DEFAULT_SPARSITIES = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,0.95,0.98,0.99"


def parse_sparsity(text, name="--sparsity"):
    """``"0.9"`` or ``"90%"`` -> ``0.9``; raises ValueError outside ``[0, 1)``."""
    raw = str(text).strip()
    try:
        value = float(raw[:-1]) / 100.0 if raw.endswith("%") else float(raw)
    except ValueError:
        raise ValueError(f"`{name}` must be a number in [0, 1) (or a percentage like 90%). Received: {name}={text!r}") from None
    if not 0.0 <= value < 1.0:
        raise ValueError(f"`{name}` must be in [0, 1) (fraction of weights set to zero). Received: {name}={text!r}")
    return value


def parse_sparsities(text, name="--sparsities"):
    """Comma-separated sparsities -> list of floats (each validated by :func:`parse_sparsity`)."""
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise ValueError(f"`{name}` must list at least one sparsity. Received: {name}={text!r}")
    return [parse_sparsity(t, name) for t in items]


def positive_int(text):
    """argparse type: a positive integer."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, received {text!r}")
    return value


def non_negative_int(text):
    """argparse type: an integer >= 0."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, received {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative integer, received {text!r}")
    return value


def add_data_arguments(parser):
    """``--dataset``, ``--data-dir``, ``--eval-examples``, ``--eval-batch-size``."""
    parser.add_argument("--dataset", choices=DATASETS, default="mnist", help="evaluation data set (default: mnist)")
    parser.add_argument("--data-dir", default=None, help="data directory (else $TF_SFW_DATA_DIR, else the Keras cache / download)")
    parser.add_argument("--eval-examples", type=positive_int, default=None, help="evaluate on the first N test examples only")
    parser.add_argument("--eval-batch-size", type=positive_int, default=500, help="evaluation batch size (default: 500)")


def add_scope_arguments(parser):
    """``--global``/``--layerwise``, ``--include-bias``, ``--include-batchnorm``, ``--layers``."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--global", dest="scope", action="store_const", const="global", help="one magnitude threshold over all counted weights (default)")
    group.add_argument("--layerwise", dest="scope", action="store_const", const="layerwise", help="prune every counted tensor to the sparsity separately")
    parser.set_defaults(scope="global")
    parser.add_argument("--include-bias", action="store_true", help="also prune biases")
    parser.add_argument("--include-batchnorm", action="store_true", help="also prune BatchNorm gamma/beta")
    parser.add_argument("--layers", default=None, help="comma-separated layer names to restrict pruning to")


def parse_layers(text):
    """``"a,b"`` -> ``["a", "b"]``; ``None`` -> ``None``."""
    if text is None:
        return None
    return [t.strip() for t in text.split(",") if t.strip()]


def load_arrays_subset(dataset, data_dir=None, train_examples=None, test_examples=None):
    """``load_arrays`` of tf_sfw.data, cut to the first N train/test examples."""
    from tf_sfw.data import load_arrays

    (x_train, y_train), (x_test, y_test) = load_arrays(dataset, data_dir=data_dir)
    if train_examples is not None:
        x_train, y_train = x_train[:train_examples], y_train[:train_examples]
    if test_examples is not None:
        x_test, y_test = x_test[:test_examples], y_test[:test_examples]
    return (x_train, y_train), (x_test, y_test)


def eval_dataset(x, y, batch_size):
    """Evaluation pipeline of tf_sfw.data (float32 images in [0, 1], fixed order)."""
    from tf_sfw.data import make_eval_dataset

    return make_eval_dataset(x, y, batch_size=batch_size)


def write_json(path, payload):
    """Writes ``payload`` as indented JSON (parent directories created)."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(payload, f, indent=2, sort_keys=False)
        f.write("\n")


def report_errors(command, fn, args):
    """Runs ``fn(args)``; bad input (ValueError, missing files) becomes a one-line error and exit code 2."""
    try:
        return int(fn(args) or 0)
    except (ValueError, FileNotFoundError) as err:
        print(f"tf-sfw {command}: error: {err}", file=sys.stderr)
        return 2


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "sweep",
        help="evaluate a trained model at many sparsities (one-shot magnitude pruning, no retraining)",
        description="Prune a trained model in place to each sparsity (global or layer-wise magnitude), "
        "evaluate it, restore it; write sweep.csv, sweep.png and metrics.json.",
    )
    parser.add_argument("--model", required=True, help="trained model: .keras/.h5 file, Keras SavedModel directory, or export directory")
    parser.add_argument("--sparsities", default=DEFAULT_SPARSITIES, help=f"comma-separated sparsities in [0, 1) (default: {DEFAULT_SPARSITIES})")
    parser.add_argument("--out", required=True, help="output directory")
    add_scope_arguments(parser)
    add_data_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _run(args):
    sparsities = parse_sparsities(args.sparsities)
    from tf_sfw.pruning.export import load_keras_model
    from tf_sfw.pruning.sweep import plot_sweep, sweep, write_sweep_csv

    model = load_keras_model(args.model)
    _, (x_test, y_test) = load_arrays_subset(args.dataset, args.data_dir, test_examples=args.eval_examples)
    rows = sweep(
        model,
        eval_dataset(x_test, y_test, args.eval_batch_size),
        sparsities,
        scope=args.scope,
        include_bias=args.include_bias,
        include_batchnorm=args.include_batchnorm,
        layers=parse_layers(args.layers),
    )
    os.makedirs(args.out, exist_ok=True)
    label = os.path.basename(os.path.normpath(args.model))
    write_sweep_csv(rows, os.path.join(args.out, "sweep.csv"))
    plot_sweep({label: rows}, os.path.join(args.out, "sweep.png"))
    write_json(
        os.path.join(args.out, "metrics.json"),
        {
            "model": args.model,
            "dataset": args.dataset,
            "eval_examples": int(len(y_test)),
            "scope": args.scope,
            "include_bias": args.include_bias,
            "include_batchnorm": args.include_batchnorm,
            "rows": rows,
        },
    )
    print(f"{'sparsity':>9} {'accuracy':>9} {'loss':>8} {'nonzero':>9}")
    for r in rows:
        print(f"{100 * r['sparsity']:8.1f}% {100 * r['accuracy']:8.2f}% {r['loss']:8.4f} {r['nonzero']:9d}")
    print(f"wrote {os.path.join(args.out, 'sweep.csv')}, sweep.png, metrics.json")
    return 0


def run(args):
    return report_errors("sweep", _run, args)
