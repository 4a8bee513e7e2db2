"""``tf-sfw sweep``: evaluate one trained model at many sparsities without retraining.

Example::

    tf-sfw sweep --model runs/mnist_sfw/model.keras --sparsities 0,0.5,0.9,0.95,0.99 \
        --data-dir /path/to/keras --out runs/sweep

writes ``<out>/sweep.csv`` (sparsity, achieved_sparsity, accuracy, loss, nonzero,
nonzero_total), ``<out>/sweep.png`` (accuracy against sparsity) and
``<out>/metrics.json`` (the same rows plus the settings); with ``--reconstruct N`` also
``<out>/sweep_refit.csv`` (the same zeros, the kept weights refit by least squares on the first N
training images, `tf_sfw.pruning.reconstruction.reconstruction_sweep`) and a second line in the plot.
The evaluation data set is
``--dataset``, or else the one named by the config.json that ``tf-sfw train`` wrote beside the
model.
"""

from tf_sfw.cli._common import (
    DEFAULT_SPARSITIES,
    HelpFormatter,
    add_common_arguments,
    add_data_arguments,
    add_keras_arguments,
    add_reconstruct_argument,
    add_scope_arguments,
    calibration_images,
    check_model_input,
    check_output_dir,
    check_reconstruct,
    eval_dataset,
    load_arrays_subset,
    load_model_argument,
    parse_layers,
    parse_sparsities,
    quiet_tensorflow,
    resolve_dataset,
    run_command,
    select_keras,
    write_sweep_outputs,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "sweep",
        help="evaluate a trained model at many sparsities (one-shot magnitude pruning, no retraining)",
        description="Prune a trained model in place to each sparsity (global or layer-wise magnitude), "
        "evaluate it, restore it; write sweep.csv, sweep.png and metrics.json.",
        formatter_class=HelpFormatter,
    )
    parser.add_argument("--model", required=True,
                        help="trained model: .keras/.h5 file, Keras SavedModel folder, or export folder")
    parser.add_argument("--sparsities", default=DEFAULT_SPARSITIES,
                        help="comma-separated sparsities in [0, 1), or percentages such as 90%%")
    parser.add_argument("--out", required=True, help="output folder (created)")
    add_reconstruct_argument(parser, "also sweep with")
    add_scope_arguments(parser)
    add_data_arguments(parser)
    add_keras_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _run(args):
    check_reconstruct(args)
    if args.keras == 3:
        from tf_sfw.cli.keras3 import run_sweep

        return run_sweep(args)
    select_keras(args)  # --backend needs --keras 3
    sparsities = parse_sparsities(args.sparsities)
    dataset = resolve_dataset(args)
    out = check_output_dir(args.out, "--out")
    # TensorFlow (without its C++ log lines) and the modules that use it are imported only now,
    # after the command line was checked, and never when the parser is built (fast --help).
    quiet_tensorflow(args.debug)
    from tf_sfw.pruning.sweep import sweep

    model = load_model_argument(args.model, "--model")
    (x_train, _), (x_test, y_test) = load_arrays_subset(dataset, args.data_dir, test_examples=args.eval_examples)
    check_model_input(model, x_test, dataset)
    test_ds, layers = eval_dataset(x_test, y_test, args.eval_batch_size), parse_layers(args.layers)
    rows = sweep(model, test_ds, sparsities, scope=args.scope, include_bias=args.include_bias,
                 include_batchnorm=args.include_batchnorm, layers=layers)
    refit_rows = None
    if args.reconstruct:
        from tf_sfw.pruning.reconstruction import reconstruction_sweep

        calibration = calibration_images(args, x_train).astype("float32") / 255.0
        refit_rows = reconstruction_sweep(model, test_ds, sparsities, calibration, scope=args.scope, layers=layers)
    write_sweep_outputs(args, out, rows, refit_rows, {
        "model": args.model, "dataset": dataset, "eval_examples": int(len(y_test)), "scope": args.scope,
        "include_bias": args.include_bias, "include_batchnorm": args.include_batchnorm,
    })
    return 0


def run(args):
    return run_command("sweep", _run, args)
