"""``tf-sfw prune``: magnitude-prune a trained model once, optionally fine-tune, export.

Example::

    tf-sfw prune --model runs/mnist_sgd/model.keras --sparsity 0.9 --layerwise \
        --retrain-epochs 1 --data-dir /path/to/keras --out runs/pruned90

writes ``<out>/metrics.json`` (accuracy/loss of the dense, pruned and fine-tuned model,
global and per-layer sparsity, non-zero parameters, gzip size, relative latency) and
exports the stripped model to ``<out>/saved_model/`` (SavedModel with a
``serving_default`` signature + ``model.keras``).
"""

import os

from tf_sfw.cli.sweep import (
    add_data_arguments,
    add_scope_arguments,
    eval_dataset,
    load_arrays_subset,
    non_negative_int,
    parse_layers,
    parse_sparsity,
    positive_int,
    report_errors,
    write_json,
)


def add_parser(subparsers):
    parser = subparsers.add_parser(
        "prune",
        help="magnitude-prune a trained model to a sparsity (optionally fine-tune with the mask fixed) and export it",
        description="One-shot global or layer-wise magnitude pruning to an exact sparsity, optional fine-tuning "
        "with the mask fixed, metrics.json and a SavedModel export.",
    )
    parser.add_argument("--model", required=True, help="trained model: .keras/.h5 file, Keras SavedModel directory, or export directory")
    parser.add_argument("--sparsity", required=True, help="fraction of counted weights to set to zero, in [0, 1) (or e.g. 90%%)")
    parser.add_argument("--retrain-epochs", type=non_negative_int, default=0, help="fine-tuning epochs with the mask fixed (default: 0)")
    parser.add_argument("--retrain-lr", type=float, default=0.01, help="SGD learning rate for fine-tuning (momentum 0.9; default: 0.01)")
    parser.add_argument("--batch-size", type=positive_int, default=128, help="fine-tuning batch size (default: 128)")
    parser.add_argument("--train-examples", type=positive_int, default=None, help="fine-tune on the first N training examples only")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fine-tuning data order (default: 0)")
    parser.add_argument("--no-eval", action="store_true", help="skip evaluation (no data needed unless fine-tuning)")
    parser.add_argument("--latency-batch", type=positive_int, default=256, help="batch size for the latency measurement (default: 256)")
    parser.add_argument("--out", required=True, help="output directory")
    add_scope_arguments(parser)
    add_data_arguments(parser)
    parser.set_defaults(func=run)
    return parser


def _run(args):
    sparsity = parse_sparsity(args.sparsity)
    if args.retrain_lr <= 0:
        raise ValueError(f"`--retrain-lr` must be > 0. Received: --retrain-lr={args.retrain_lr}")
    import numpy as np

    from tf_sfw._keras import keras
    from tf_sfw.pruning.export import export_model, load_keras_model
    from tf_sfw.pruning.magnitude import magnitude_masks
    from tf_sfw.pruning.masks import apply_masks, strip
    from tf_sfw.pruning.metrics import pruning_metrics
    from tf_sfw.pruning.retrain import fine_tune
    from tf_sfw.pruning.sweep import evaluate_classifier

    model = load_keras_model(args.model)
    layers = parse_layers(args.layers)
    masks = magnitude_masks(model, sparsity, scope=args.scope, include_bias=args.include_bias,
                            include_batchnorm=args.include_batchnorm, layers=layers)
    pruned = apply_masks(model, masks)
    result = {
        "model": args.model,
        "sparsity": sparsity,
        "scope": args.scope,
        "include_bias": args.include_bias,
        "include_batchnorm": args.include_batchnorm,
        "layers": layers,
        "retrain_epochs": args.retrain_epochs,
    }
    need_data = not args.no_eval or args.retrain_epochs > 0
    test_ds = x_latency = None
    if need_data:
        (x_train, y_train), (x_test, y_test) = load_arrays_subset(
            args.dataset, args.data_dir, train_examples=args.train_examples, test_examples=args.eval_examples
        )
        test_ds = eval_dataset(x_test, y_test, args.eval_batch_size)
        x_latency = x_test[: args.latency_batch].astype(np.float32) / 255.0
        result.update(dataset=args.dataset, eval_examples=int(len(y_test)))
    if not args.no_eval:
        result["dense_loss"], result["dense_accuracy"] = evaluate_classifier(model, test_ds)
        result["pruned_loss"], result["pruned_accuracy"] = evaluate_classifier(strip(pruned), test_ds)
    if args.retrain_epochs > 0:
        from tf_sfw.data import make_train_dataset, steps_per_epoch

        train_ds = make_train_dataset(x_train, y_train, batch_size=args.batch_size, seed=args.seed, epochs=args.retrain_epochs)
        fine_tune(
            pruned, train_ds, args.retrain_epochs,
            optimizer=keras.optimizers.SGD(learning_rate=args.retrain_lr, momentum=0.9),
            steps_per_epoch=steps_per_epoch(len(y_train), args.batch_size), verbose=2,
        )
        result["retrain_lr"] = args.retrain_lr
        if not args.no_eval:
            result["retrained_loss"], result["retrained_accuracy"] = evaluate_classifier(strip(pruned), test_ds)
    final = strip(pruned)
    result.update(pruning_metrics(final, dense_model=model, latency_batch=x_latency,
                                  include_bias=args.include_bias, include_batchnorm=args.include_batchnorm))
    os.makedirs(args.out, exist_ok=True)
    result["export_dir"] = export_model(final, os.path.join(args.out, "saved_model"))
    write_json(os.path.join(args.out, "metrics.json"), result)
    print(f"pruned {args.model} to {100 * sparsity:.1f}% ({args.scope}): "
          f"{result['nonzero']} of {result['counted']} counted weights non-zero")
    for key in ("dense_accuracy", "pruned_accuracy", "retrained_accuracy"):
        if key in result:
            print(f"  {key:>19}: {100 * result[key]:.2f}%")
    print(f"  gzip size {result['compressed_bytes']} B (dense {result['dense_compressed_bytes']} B)")
    if "relative_latency" in result:
        print(f"  latency relative to dense: {result['relative_latency']:.3f}")
    print(f"wrote {os.path.join(args.out, 'metrics.json')} and {result['export_dir']}")
    return 0


def run(args):
    return report_errors("prune", _run, args)
