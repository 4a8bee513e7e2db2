"""``tf-sfw shrink``: remove whole filters / units of a trained model and export the smaller model.

Example::

    tf-sfw shrink --model runs/mnist_sfw/model.keras --fraction 0.5 --data-dir /path/to/keras \
        --out runs/shrunk50

Structured one-shot pruning (`tf_sfw.pruning.structured` / `tf_sfw.pruning.shrink`): the channels
of every prunable group are scored (``--score``; by default, with ``--mode layerwise``,
``greedy_least_squares``: the order in which greedy least-squares removal takes them, judged by
the layers that read them on ``--score-calibration`` training images; with ``--mode global``,
``activation``: each channel's input RMS in those layers times their weights on it), ``--fraction``
of them removed (of every layer, ``--mode layerwise``, or with one global threshold; ``--cost flops``
weighs each channel's score against the multiply-adds its removal saves), and a
physically smaller functional model rebuilt (next layers' inputs,
BatchNorm parameters, Flatten -> Dense rows and residual additions handled). Then, optionally:

* ``--reconstruct N`` (default 2048): every Conv2D / Dense layer of the smaller model refit by
  least squares to the dense layers' outputs of the channels it kept, on N training images
  (`tf_sfw.pruning.reconstruction.refit_shrunk`; no gradient step);
* ``--reestimate-bn B``: the BatchNorm moving statistics recomputed on B training batches
  (forward passes only);
* ``--retrain-steps S``: a fine-tune of S SGD steps (`tf_sfw.pruning.fine_tune_shrunk`;
  ``--distill``: on the dense model's predicted probabilities instead of the labels).

Writes ``<out>/metrics.json`` (accuracy after each stage, the kept widths, parameters, FLOPs,
SavedModel bytes and CPU latency at batch 1 and 128 as ratios to the dense model, and the
reload check) and ``<out>/saved_model/`` (the export of `tf-sfw prune`: SavedModel with
``serving_default`` and ``serving_raw``, ``model.keras`` and ``config.json``). tf_keras models
(the ``--keras 2`` path) only.
"""

import os

from tf_sfw.cli._common import (
    HelpFormatter,
    UsageError,
    add_common_arguments,
    add_data_arguments,
    add_retrain_arguments,
    check_model_input,
    check_output_dir,
    dataset_of_model,
    eval_dataset,
    int_type,
    load_arrays_subset,
    load_model_argument,
    parse_sparsity,
    quiet_tensorflow,
    resolve_dataset,
    run_command,
    write_json,
)

from tf_sfw.pruning.structured_options import CALIBRATED_SCORES, COSTS, MODES, SCORES, mode_conflict

__all__ = ["add_parser", "run"]



def add_parser(subparsers):
    parser = subparsers.add_parser(
        "shrink",
        help="remove a fraction of the filters/units of a trained model, rebuild it smaller and export it",
        description="Structured one-shot pruning: score the filters/units, remove a fraction, rebuild a physically "
        "smaller model, optionally refit it by least squares, re-estimate BatchNorm and fine-tune; metrics.json "
        "(accuracy, sizes, CPU latency against the dense model) and a SavedModel export.",
        formatter_class=HelpFormatter,
    )
    positive = lambda flag: int_type(flag, minimum=1)  # noqa: E731
    non_negative = lambda flag: int_type(flag, minimum=0)  # noqa: E731
    parser.add_argument("--model", required=True,
                        help="trained tf_keras model: .keras/.h5 file, Keras SavedModel folder, or export folder")
    parser.add_argument("--fraction", required=True,
                        help="fraction of the filters/units to remove, in [0, 1), or a percentage such as 50%%")
    parser.add_argument("--mode", choices=MODES, default="layerwise",
                        help="remove the fraction of every layer, or with one threshold over normalised scores")
    parser.add_argument("--cost", choices=COSTS, default="none",
                        help="with --mode global: 'flops' divides each channel's score by the multiply-adds its "
                        "removal saves (relative to the mean channel's), so of two equally weak channels the "
                        "more expensive goes; the number of removed channels is unchanged")
    parser.add_argument("--score", choices=SCORES, default=None,
                        help="channel score (tf_sfw.pruning.filter_scores; 'activation' and "
                        "'greedy_least_squares' need training images, 'greedy_least_squares' --mode layerwise). "
                        "Default: greedy_least_squares with --mode layerwise, activation with --mode global")
    parser.add_argument("--score-calibration", type=positive("--score-calibration"), default=None, metavar="N",
                        help="training images for --score activation / greedy_least_squares (default: 512, or all "
                        "when fewer)")
    parser.add_argument("--reconstruct", type=non_negative("--reconstruct"), default=None, metavar="N",
                        help="refit the smaller model by least squares on N training images (0: off; default: 2048, "
                        "or all when fewer)")
    parser.add_argument("--reestimate-bn", type=non_negative("--reestimate-bn"), default=0, metavar="B",
                        help="recompute the BatchNorm statistics on B training batches (0: off)")
    parser.add_argument("--retrain-steps", type=non_negative("--retrain-steps"), default=0, metavar="S",
                        help="fine-tune the smaller model for S SGD steps (0: off)")
    parser.add_argument("--distill", action="store_true",
                        help="fine-tune on the dense model's predicted probabilities instead of the labels")
    parser.add_argument("--latency-repeats", type=positive("--latency-repeats"), default=20, metavar="N",
                        help="alternating timings of the dense and the smaller model (medians)")
    add_retrain_arguments(parser)
    add_data_arguments(parser)
    add_common_arguments(parser)
    parser.set_defaults(func=run)
    return parser


DEFAULT_IMAGES = {"score_calibration": 512, "reconstruct": 2048}
#: The default --score of each --mode (chosen on validation splits: results/structured/resnet18_w0.25_greedy/).
DEFAULT_SCORES = {"layerwise": "greedy_least_squares", "global": "activation"}


def _needs_training_data(args):
    return args.score in CALIBRATED_SCORES or args.reconstruct != 0 or args.reestimate_bn > 0 or args.retrain_steps > 0


def _check(args):
    """The fraction, and a UsageError for flags that ask for something this run cannot give."""
    fraction = parse_sparsity(args.fraction, "--fraction")
    if args.score is None:
        args.score = DEFAULT_SCORES[args.mode]
    if args.distill and not args.retrain_steps:
        raise UsageError(f"`--distill` needs `--retrain-steps` > 0. Received: --retrain-steps={args.retrain_steps}")
    conflict = mode_conflict(args.mode, score=args.score, cost=args.cost)
    if conflict is not None:
        raise UsageError(f"`--{conflict.option} {conflict.value}` {conflict.why} and needs `--mode {conflict.mode}`. "
                         f"Received: --mode {args.mode}")
    return fraction


def _training_images(args, x_train, name):
    """The first ``--score-calibration`` / ``--reconstruct`` training images: a value given must
    not exceed the training set; the default takes all when the set is smaller."""
    count, flag = getattr(args, name), "--" + name.replace("_", "-")
    if count is None:
        return x_train[: DEFAULT_IMAGES[name]]
    if count > len(x_train):
        raise UsageError(f"`{flag}` asks for more training images than the data set has ({len(x_train)}). "
                         f"Received: {flag}={count}")
    return x_train[:count]


def _run(args):
    fraction = _check(args)
    need_data = not args.no_eval or _needs_training_data(args)
    dataset = resolve_dataset(args) if need_data else (args.dataset or dataset_of_model(args.model)[0])
    out = check_output_dir(args.out, "--out")
    # TensorFlow (without its C++ log lines) and the modules that use it are imported only now,
    # after the command line was checked, and never when the parser is built (fast --help).
    quiet_tensorflow(args.debug)
    import numpy as np

    from tf_sfw._keras import keras
    from tf_sfw.data import make_train_dataset
    from tf_sfw.pruning.batchnorm import reestimate_batchnorm
    from tf_sfw.pruning.export import export_model, load_exported, predict_exported
    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import kept_widths, shrink_model, structured_metrics
    from tf_sfw.pruning.shrunk_fine_tune import fine_tune_shrunk
    from tf_sfw.pruning.structured import ChannelGraph, channel_costs, scored_groups, structured_plan
    from tf_sfw.pruning.sweep import evaluate_classifier

    model = load_model_argument(args.model, "--model")
    result = {"model": args.model, "dataset": dataset, "fraction": fraction, "mode": args.mode, "cost": args.cost,
              "score": args.score,
              "reconstruct": args.reconstruct, "reestimate_bn": args.reestimate_bn, "retrain_steps": args.retrain_steps}
    test_ds = None
    if need_data:
        (x_train, y_train), (x_test, y_test) = load_arrays_subset(dataset, args.data_dir, test_examples=args.eval_examples)
        check_model_input(model, x_test, dataset)
        test_ds = eval_dataset(x_test, y_test, args.eval_batch_size)
        result["eval_examples"] = int(len(y_test))

    def scaled(images):
        return images.astype(np.float32) / 255.0

    def train_batches(seed, steps):
        epochs = -(-steps * args.batch_size // len(y_train))  # enough passes for `steps` batches
        return make_train_dataset(x_train, y_train, batch_size=args.batch_size, seed=seed, epochs=max(1, epochs))

    def evaluate(key, net):
        if not args.no_eval:
            result[f"{key}_loss"], result[f"{key}_accuracy"] = evaluate_classifier(net, test_ds)

    evaluate("dense", model)
    calibration = scaled(_training_images(args, x_train, "score_calibration")) if args.score in CALIBRATED_SCORES else None
    graph = ChannelGraph(model)  # one walk of the model for the scores and the costs
    groups = scored_groups(graph, graph.read_weights(), score=args.score, calibration_x=calibration)
    plan = structured_plan(groups, fraction, args.mode, costs=channel_costs(graph, args.cost))
    shrunk = shrink_model(model, plan)
    evaluate("shrunk", shrunk)
    if args.reconstruct != 0:
        images = _training_images(args, x_train, "reconstruct")
        result["reconstruct"] = int(len(images))
        shrunk = refit_shrunk(model, shrunk, plan, scaled(images))
        evaluate("refit", shrunk)
    if args.reestimate_bn:
        result["bn_batches"] = reestimate_batchnorm(shrunk, train_batches(args.seed + 2, args.reestimate_bn),
                                                    args.reestimate_bn)
        evaluate("bn", shrunk)
    if args.retrain_steps:
        fine_tune_shrunk(shrunk, train_batches(args.seed + 1, args.retrain_steps), args.retrain_steps,
                         optimizer=keras.optimizers.SGD(learning_rate=args.retrain_lr, momentum=0.9),
                         teacher=model if args.distill else None)
        result.update(retrain_lr=args.retrain_lr, distill=args.distill)
        evaluate("retrained", shrunk)
    final = shrink_model(shrunk, {}, name=f"{model.name}_shrunk")  # uncompiled: no optimizer state in the export
    dense = shrink_model(model, {}, name=f"{model.name}_dense")  # the same kind of object, timed against it
    result["widths"], result["dense_widths"] = kept_widths(final), kept_widths(dense)
    result.update(structured_metrics(final, dense, repeats=args.latency_repeats))
    os.makedirs(out, exist_ok=True)
    export_config = {"dataset": dataset} if dataset is not None else None
    result["export_dir"] = export_model(final, os.path.join(args.out, "saved_model"), config=export_config)
    x = np.random.default_rng(args.seed).uniform(size=(64, *final.inputs[0].shape[1:])).astype(np.float32)
    expected = final.predict(x, verbose=0)
    result["reload_max_abs_diff"] = float(np.max(np.abs(predict_exported(load_exported(result["export_dir"]), x) - expected)))
    write_json(os.path.join(out, "metrics.json"), result)
    print(f"shrunk {args.model}: {100 * fraction:g}% of the filters/units removed ({args.mode}, score {args.score}); "
          f"widths {result['widths']}")
    for key in ("dense", "shrunk", "refit", "bn", "retrained"):
        if f"{key}_accuracy" in result:
            print(f"  {key + ' accuracy':>19}: {100 * result[f'{key}_accuracy']:.2f}%")
    print(f"  params {result['params_ratio']:.3f}, FLOPs {result['flops_ratio']:.3f}, SavedModel "
          f"{result['saved_model_ratio']:.3f}, CPU latency b1 {result['latency_ratio_b1']:.3f}, "
          f"b128 {result['latency_ratio_b128']:.3f} of the dense model")
    print(f"wrote {os.path.join(args.out, 'metrics.json')} and {result['export_dir']} "
          f"(reloaded predictions differ by at most {result['reload_max_abs_diff']:.2e})")
    return 0


def run(args):
    return run_command("shrink", _run, args)
