"""``tf-sfw prune``: magnitude-prune a trained model once, optionally refit or fine-tune, export.

Example::

    tf-sfw prune --model runs/mnist_sgd/model.keras --sparsity 0.9 --layerwise \
        --retrain-epochs 1 --data-dir /path/to/keras --out runs/pruned90

``--reconstruct N`` keeps the magnitude mask and refits the kept weights and biases layer by
layer by least squares to the dense layers' outputs on the first N training images
(`tf_sfw.pruning.reconstruct`; no gradient step), before any fine-tuning.

writes ``<out>/metrics.json`` (accuracy/loss of the dense, pruned and fine-tuned model,
global and per-layer sparsity, non-zero parameters, gzip size, relative latency) and
exports the stripped model to ``<out>/saved_model/`` (SavedModel with the signatures
``serving_default``, float32 inputs in ``[0, 1]``, and ``serving_raw``, uint8 pixels in
``[0, 255]``; plus ``model.keras`` and ``config.json`` naming the data set). The evaluation and
fine-tuning data set is ``--dataset``, or else the one named by the config.json that
``tf-sfw train`` wrote beside the model.
"""

import os

from tf_sfw.cli._common import (
    HelpFormatter,
    add_common_arguments,
    add_data_arguments,
    add_keras_arguments,
    add_reconstruct_argument,
    add_retrain_arguments,
    add_scope_arguments,
    calibration_images,
    check_model_input,
    check_output_dir,
    check_reconstruct,
    dataset_of_model,
    eval_dataset,
    int_type,
    load_arrays_subset,
    load_model_argument,
    parse_layers,
    parse_sparsity,
    quiet_tensorflow,
    resolve_dataset,
    run_command,
    select_keras,
    write_json,
)

__all__ = ["add_parser", "run"]


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "prune",
        help="magnitude-prune a trained model to a sparsity (optionally fine-tune with the mask fixed) and export it",
        description="One-shot global or layer-wise magnitude pruning to an exact sparsity, optional fine-tuning "
        "with the mask fixed, metrics.json and a SavedModel export (signatures serving_default: float32 "
        "inputs in [0, 1]; serving_raw: uint8 pixels in [0, 255]).",
        formatter_class=HelpFormatter,
    )
    positive = lambda flag: int_type(flag, minimum=1)  # noqa: E731
    parser.add_argument("--model", required=True,
                        help="trained model: .keras/.h5 file, Keras SavedModel folder, or export folder")
    parser.add_argument("--sparsity", required=True,
                        help="fraction of counted weights to set to zero, in [0, 1), or a percentage such as 90%%")
    parser.add_argument("--retrain-epochs", type=int_type("--retrain-epochs", minimum=0), default=0, metavar="N",
                        help="fine-tuning epochs with the mask fixed")
    add_reconstruct_argument(parser, "before any fine-tuning")
    parser.add_argument("--train-examples", type=positive("--train-examples"), default=None, metavar="N",
                        help="fine-tune on the first N training examples only (default: all)")
    parser.add_argument("--latency-batch", type=positive("--latency-batch"), default=256, metavar="N",
                        help="batch size for the latency measurement")
    add_retrain_arguments(parser)
    add_scope_arguments(parser)
    add_data_arguments(parser)
    add_keras_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _run(args):
    check_reconstruct(args)
    if args.keras == 3:
        from tf_sfw.cli.keras3 import run_prune

        return run_prune(args)
    select_keras(args)  # --backend needs --keras 3
    sparsity = parse_sparsity(args.sparsity)
    need_data = not args.no_eval or args.retrain_epochs > 0 or args.reconstruct > 0
    dataset = resolve_dataset(args) if need_data else (args.dataset or dataset_of_model(args.model)[0])
    out = check_output_dir(args.out, "--out")
    # TensorFlow (without its C++ log lines) and the modules that use it are imported only now,
    # after the command line was checked, and never when the parser is built (fast --help).
    quiet_tensorflow(args.debug)
    import numpy as np

    from tf_sfw.data import make_train_dataset, steps_per_epoch
    from tf_sfw.pruning.export import export_model
    from tf_sfw.pruning.magnitude import magnitude_masks
    from tf_sfw.pruning.masks import apply_masks, strip
    from tf_sfw.pruning.metrics import pruning_metrics
    from tf_sfw.pruning.reconstruction import reconstruct
    from tf_sfw.pruning.retrain import fine_tune
    from tf_sfw.pruning.sweep import evaluate_classifier
    from tf_sfw.training import build_optimizer

    model = load_model_argument(args.model, "--model")
    layers = parse_layers(args.layers)
    masks = magnitude_masks(model, sparsity, scope=args.scope, include_bias=args.include_bias,
                            include_batchnorm=args.include_batchnorm, layers=layers)
    pruned = apply_masks(model, masks)
    result = {
        "model": args.model,
        "dataset": dataset,
        "sparsity": sparsity,
        "scope": args.scope,
        "include_bias": args.include_bias,
        "include_batchnorm": args.include_batchnorm,
        "layers": layers,
        "retrain_epochs": args.retrain_epochs,
        "reconstruct": args.reconstruct,
    }
    test_ds = x_latency = None
    if need_data:
        (x_train, y_train), (x_test, y_test) = load_arrays_subset(
            dataset, args.data_dir, train_examples=args.train_examples, test_examples=args.eval_examples
        )
        check_model_input(model, x_test, dataset)
        test_ds = eval_dataset(x_test, y_test, args.eval_batch_size)
        x_latency = x_test[: args.latency_batch].astype(np.float32) / 255.0
        result.update(eval_examples=int(len(y_test)))
    if not args.no_eval:
        result["dense_loss"], result["dense_accuracy"] = evaluate_classifier(model, test_ds)
        result["pruned_loss"], result["pruned_accuracy"] = evaluate_classifier(strip(pruned), test_ds)
    if args.reconstruct > 0:
        rebuilt = reconstruct(model, masks, calibration_images(args, x_train).astype(np.float32) / 255.0)
        pruned = apply_masks(rebuilt, masks)
        if not args.no_eval:
            result["reconstructed_loss"], result["reconstructed_accuracy"] = evaluate_classifier(rebuilt, test_ds)
    if args.retrain_epochs > 0:
        train_ds = make_train_dataset(x_train, y_train, batch_size=args.batch_size, seed=args.seed, epochs=args.retrain_epochs)
        fine_tune(
            pruned, train_ds, args.retrain_epochs,
            optimizer=build_optimizer(pruned, {"optimizer": "sgd", "learning_rate": args.retrain_lr, "momentum": 0.9}),
            steps_per_epoch=steps_per_epoch(len(y_train), args.batch_size), verbose=2,
        )
        result["retrain_lr"] = args.retrain_lr
        if not args.no_eval:
            result["retrained_loss"], result["retrained_accuracy"] = evaluate_classifier(strip(pruned), test_ds)
    final = strip(pruned)
    result.update(pruning_metrics(final, dense_model=model, latency_batch=x_latency,
                                  include_bias=args.include_bias, include_batchnorm=args.include_batchnorm))
    os.makedirs(out, exist_ok=True)
    export_config = {"dataset": dataset} if dataset is not None else None
    result["export_dir"] = export_model(final, os.path.join(args.out, "saved_model"), config=export_config)
    write_json(os.path.join(out, "metrics.json"), result)
    print(f"pruned {args.model} to {100 * sparsity:.1f}% ({args.scope}): "
          f"{result['nonzero']} of {result['counted']} counted weights non-zero")
    for key in ("dense_accuracy", "pruned_accuracy", "reconstructed_accuracy", "retrained_accuracy"):
        if key in result:
            print(f"  {key:>19}: {100 * result[key]:.2f}%")
    print(f"  gzip size {result['compressed_bytes']} B (dense {result['dense_compressed_bytes']} B)")
    if "relative_latency" in result:
        print(f"  latency relative to dense: {result['relative_latency']:.3f}")
    print(f"wrote {os.path.join(args.out, 'metrics.json')} and {result['export_dir']}")
    return 0


def run(args):
    return run_command("prune", _run, args)
