"""``tf-sfw train|prune|sweep|demo --keras 3 [--backend tensorflow|jax|torch]``: the Keras 3 commands.

Each ``run_*`` is called by its command's ``_run`` when ``--keras 3`` is given. It checks the
flags that the Keras 3 path does not have (one-line usage error naming the flag and
``--keras 3``), sets ``KERAS_BACKEND`` (`tf_sfw.cli._common.select_keras`) and only then imports
Keras 3 and `tf_sfw.keras3`: under ``--backend jax`` or ``torch`` no TensorFlow module of this
package is imported (the data readers of `tf_sfw.data` are NumPy only).

The outputs have the names and layout of the tf_keras commands: ``train`` writes
``config.json``, ``model.keras``, ``metrics.json`` and ``log.csv``; ``prune`` writes
``metrics.json`` and the export folder ``saved_model/`` (``model.keras`` on every backend, a
SavedModel through ``model.export`` on TensorFlow, and ``config.json``); ``sweep`` writes
``sweep.csv``, ``sweep.png`` and ``metrics.json``; ``demo`` writes ``demo.csv``, ``demo.png``,
``demo.json``, the two dense models and the export of the pruned SFW model.
"""

import os
import time

from tf_sfw.cli._common import (
    UsageError,
    calibration_images,
    check_model_input,
    check_output_dir,
    dataset_of_model,
    load_arrays_subset,
    parse_layers,
    parse_sparsities,
    parse_sparsity,
    refuse_for_keras3,
    resolve_dataset,
    select_keras,
    write_json,
    write_sweep_outputs,
)
from tf_sfw import validation

__all__ = ["run_demo", "run_prune", "run_sweep", "run_train"]


def _load_model(path, flag="--model"):
    from tf_sfw.cli._common import CommandError

    if not os.path.exists(path):
        raise CommandError(f"`{flag}` does not exist. {validation.received(flag, path)}")
    from tf_sfw.keras3.pruning import load_keras_model

    return load_keras_model(path)


# ----------------------------------------------------------------------------------------
# train


def run_train(args, train_command):
    """``tf-sfw train --keras 3``: `tf_sfw.keras3.training.train`.

    ``train_command``: the module `tf_sfw.cli.train` (its checks and output-folder helpers),
    passed in by the caller rather than imported, so that the two modules form no import cycle.
    """
    refuse_for_keras3(args, {"--resume": args.resume, "--sfw-init": args.sfw_init,
                             "--backup-every": args.backup_every is not None})
    train_command._check_combinations(args)
    config = train_command.config_from_args(args)  # TrainConfig: no TensorFlow import
    out = check_output_dir(args.out, "--out")
    select_keras(args)
    from tf_sfw.keras3 import training

    unsupported = training.unsupported_settings(config)
    if unsupported:
        flag, value = unsupported[0]
        shown = "" if value == "" else f" {value}"
        raise UsageError(f"`{flag}{shown}` is not supported with `--keras 3` (the tf_keras path, --keras 2, has it). "
                         f"Received: {flag}{shown}")
    created = train_command._missing_folders(out)
    finished = False
    try:
        _, metrics = training.train(config, out)
        finished = True
    finally:
        if not finished:
            train_command._remove_failed_output(created)
    print(
        f"test accuracy {metrics['test_accuracy']:.4f}  test loss {metrics['test_loss']:.4f}  "
        f"epochs {metrics['epochs']}  wall time {metrics['wall_time_s']:.1f} s  "
        f"(Keras 3, {metrics['versions']['backend']} backend)  -> {args.out}"
    )
    return 0


# ----------------------------------------------------------------------------------------
# prune


def run_prune(args):
    """``tf-sfw prune --keras 3``: `tf_sfw.keras3.pruning` masks, fine-tuning and export."""
    sparsity = parse_sparsity(args.sparsity)
    need_data = not args.no_eval or args.retrain_epochs > 0 or args.reconstruct > 0
    dataset = resolve_dataset(args) if need_data else (args.dataset or dataset_of_model(args.model)[0])
    out = check_output_dir(args.out, "--out")
    backend = select_keras(args)
    import keras
    import numpy as np

    from tf_sfw.keras3 import pruning
    from tf_sfw.keras3.training import scale_images, set_random_seed

    model = _load_model(args.model)
    layers = parse_layers(args.layers)
    masks = pruning.magnitude_masks(model, sparsity, scope=args.scope, include_bias=args.include_bias,
                                    include_batchnorm=args.include_batchnorm, layers=layers)
    result = {
        "model": args.model, "dataset": dataset, "sparsity": sparsity, "scope": args.scope,
        "include_bias": args.include_bias, "include_batchnorm": args.include_batchnorm, "layers": layers,
        "retrain_epochs": args.retrain_epochs, "reconstruct": args.reconstruct, "keras": 3, "backend": backend,
    }
    if need_data:
        (x_train, y_train), (x_test, y_test) = load_arrays_subset(
            dataset, args.data_dir, train_examples=args.train_examples, test_examples=args.eval_examples
        )
        check_model_input(model, x_test, dataset)
        x_eval = scale_images(x_test)
        result.update(eval_examples=int(len(y_test)))
    if not args.no_eval:
        result["dense_loss"], result["dense_accuracy"] = pruning.evaluate_classifier(
            model, x_eval, y_test, batch_size=args.eval_batch_size)
    dense = model.get_weights()
    pruning.apply_masks(model, masks)
    if not args.no_eval:
        result["pruned_loss"], result["pruned_accuracy"] = pruning.evaluate_classifier(
            model, x_eval, y_test, batch_size=args.eval_batch_size)
    if args.reconstruct > 0:
        model.set_weights(dense)
        pruning.reconstruct(model, masks, scale_images(calibration_images(args, x_train)))
        if not args.no_eval:
            result["reconstructed_loss"], result["reconstructed_accuracy"] = pruning.evaluate_classifier(
                model, x_eval, y_test, batch_size=args.eval_batch_size)
    if args.retrain_epochs > 0:
        set_random_seed(args.seed)
        pruning.fine_tune(model, masks, scale_images(x_train), np.asarray(y_train, dtype="int32"),
                          epochs=args.retrain_epochs, batch_size=args.batch_size,
                          optimizer=keras.optimizers.SGD(learning_rate=args.retrain_lr, momentum=0.9), verbose=2)
        result["retrain_lr"] = args.retrain_lr
        if not args.no_eval:
            result["retrained_loss"], result["retrained_accuracy"] = pruning.evaluate_classifier(
                model, x_eval, y_test, batch_size=args.eval_batch_size)
    counted = int(sum(np.size(m) for m in masks.values()))
    result.update(counted=counted, nonzero=int(sum(np.count_nonzero(keras.ops.convert_to_numpy(w))
                                                    for w in pruning.prunable_weights(
                                                        model, include_bias=args.include_bias,
                                                        include_batchnorm=args.include_batchnorm,
                                                        layers=layers).values())),
                  nonzero_total=int(pruning.count_nonzero(model)))
    result["achieved_sparsity"] = 1.0 - result["nonzero"] / counted
    os.makedirs(out, exist_ok=True)
    paths = pruning.export_model(model, os.path.join(out, "saved_model"),
                                 config={"dataset": dataset} if dataset is not None else None)
    result["export_dir"] = paths["directory"]
    result["export"] = paths
    write_json(os.path.join(out, "metrics.json"), result)
    print(f"pruned {args.model} to {100 * sparsity:.1f}% ({args.scope}, Keras 3, {backend} backend): "
          f"{result['nonzero']} of {counted} counted weights non-zero")
    for key in ("dense_accuracy", "pruned_accuracy", "retrained_accuracy"):
        if key in result:
            print(f"  {key:>19}: {100 * result[key]:.2f}%")
    print(f"wrote {os.path.join(args.out, 'metrics.json')} and {result['export_dir']}")
    return 0


# ----------------------------------------------------------------------------------------
# sweep


def run_sweep(args):
    """``tf-sfw sweep --keras 3``: `tf_sfw.keras3.pruning.sweep`."""
    sparsities = parse_sparsities(args.sparsities)
    dataset = resolve_dataset(args)
    out = check_output_dir(args.out, "--out")
    backend = select_keras(args)
    from tf_sfw.keras3 import pruning
    from tf_sfw.keras3.training import scale_images

    model = _load_model(args.model)
    (x_train, _), (x_test, y_test) = load_arrays_subset(dataset, args.data_dir, test_examples=args.eval_examples)
    check_model_input(model, x_test, dataset)
    x_eval, layers = scale_images(x_test), parse_layers(args.layers)
    rows = pruning.sweep(model, x_eval, y_test, sparsities, scope=args.scope, batch_size=args.eval_batch_size,
                         include_bias=args.include_bias, include_batchnorm=args.include_batchnorm, layers=layers)
    refit_rows = None
    if args.reconstruct:
        refit_rows = pruning.reconstruction_sweep(model, x_eval, y_test, sparsities,
                                                  scale_images(calibration_images(args, x_train)), scope=args.scope,
                                                  layers=layers, batch_size=args.eval_batch_size)
    write_sweep_outputs(args, out, rows, refit_rows, {
        "model": args.model, "dataset": dataset, "eval_examples": int(len(y_test)), "scope": args.scope,
        "include_bias": args.include_bias, "include_batchnorm": args.include_batchnorm, "keras": 3,
        "backend": backend,
    }, note=f"   (Keras 3, {backend} backend)")
    return 0


# ----------------------------------------------------------------------------------------
# demo


def run_demo(args, demo):
    """``tf-sfw demo --keras 3``: the demo's two runs, sweeps and export with Keras 3.

    ``demo``: the module `tf_sfw.cli.demo` (its settings and table), passed in by the caller
    rather than imported, so that the two modules form no import cycle.
    """
    sparsities, export_sparsity, out = demo.check_outputs(args)
    t0 = time.perf_counter()
    backend = select_keras(args)
    import keras
    import numpy as np

    from tf_sfw.keras3 import pruning
    from tf_sfw.keras3 import training
    from tf_sfw.training.config import TrainConfig

    (x_train, y_train), (x_test, y_test) = load_arrays_subset(
        demo.DATASET, args.data_dir, train_examples=args.train_examples, test_examples=args.test_examples
    )
    x_eval, y_eval = training.scale_images(x_test), np.asarray(y_test, dtype="int32")
    models, train_seconds, histories, results = {}, {}, {}, {}
    for name in ("sgd", "sfw"):
        config = TrainConfig(model="mnist_cnn", dataset=demo.DATASET, epochs=args.epochs, batch_size=args.batch_size,
                             seed=args.seed, verbose=args.verbose, **demo._optimizer_settings(name, args))
        print(f"training {name.upper()} for {args.epochs} epoch(s) on {len(y_train)} examples "
              f"(Keras 3, {backend} backend)")
        models[name], history, train_seconds[name] = training.fit(config, x_train, y_train, name=f"mnist_cnn_{name}")
        histories[name] = {k: [float(v) for v in vs] for k, vs in history.history.items()}
        results[name] = pruning.sweep(models[name], x_eval, y_eval, sparsities, batch_size=500)
    calibration = training.scale_images(calibration_images(args, x_train)) if args.reconstruct else None
    for name in ("sgd", "sfw") if args.reconstruct else ():
        results[f"{name}+refit"] = pruning.reconstruction_sweep(models[name], x_eval, y_eval, sparsities, calibration,
                                                                batch_size=500)
    os.makedirs(out, exist_ok=True)
    for name, model in models.items():  # dense trained models, without optimizer state
        copy = keras.models.clone_model(model)
        copy.set_weights(model.get_weights())
        copy.save(os.path.join(out, f"mnist_cnn_{name}.keras"))
    write_json(os.path.join(out, "config.json"), {
        "dataset": demo.DATASET, "model": "mnist_cnn", "epochs": args.epochs, "batch_size": args.batch_size,
        "seed": args.seed, "train_examples": int(len(y_train)), "keras": 3, "backend": backend,
        "runs": {name: demo._optimizer_settings(name, args) for name in ("sgd", "sfw")},
    })
    refit = (results["sgd+refit"], results["sfw+refit"]) if args.reconstruct else None
    table = demo.format_table(sparsities, results["sgd"], results["sfw"], refit)
    print()
    print(f"MNIST CNN, {args.epochs} epoch(s), {len(y_train)} train / {len(y_test)} test examples, Keras 3 on "
          f"{backend}; global magnitude pruning of conv/dense kernels, no retraining"
          + (f" (refit: kept weights refit by least squares on {args.reconstruct} training images)" if refit else ""))
    print(table)
    pruning.write_sweep_csv(results, os.path.join(out, "demo.csv"))
    labels = {"sgd": f"SGD (lr {args.sgd_lr:g}, momentum 0.9, recipe schedule)",
              "sfw": "SFW (tf_sfw.keras3.recipe: K-support ball, K annealing, lr 1, momentum 0.9)",
              "sgd+refit": "SGD, kept weights refit (least squares)",
              "sfw+refit": "SFW, kept weights refit (least squares)"}
    pruning.plot_sweep({labels[k]: rows for k, rows in results.items()}, os.path.join(out, "demo.png"),
                       title=f"MNIST CNN (Keras 3, {backend}), {args.epochs} epoch(s): one-shot global magnitude "
                       "pruning, no retraining")
    summary = {
        "settings": {
            "keras": 3, "backend": backend, "keras_version": keras.__version__,
            "epochs": args.epochs, "batch_size": args.batch_size, "seed": args.seed,
            "train_examples": int(len(y_train)), "test_examples": int(len(y_test)),
            "sgd": demo._optimizer_settings("sgd", args), "sfw": demo._optimizer_settings("sfw", args),
            "pruning": "global magnitude, conv/dense kernels, no retraining",
            "reconstruct": args.reconstruct,
        },
        "train_seconds": train_seconds,
        "train_history": histories,
        "sweep": results,
    }
    if not args.no_export:
        model, masks = models["sfw"], pruning.magnitude_masks(models["sfw"], export_sparsity)
        if args.reconstruct:  # the refit model, the better one at the same zeros
            pruning.reconstruct(model, masks, calibration)
        else:
            pruning.apply_masks(model, masks)
        paths = pruning.export_model(model, args.export_dir, config={"dataset": demo.DATASET, "model": "mnist_cnn",
                                                                    "sparsity": export_sparsity})
        x = x_eval[:256]
        reloaded = pruning.load_keras_model(paths["keras"])
        diff = float(np.max(np.abs(reloaded.predict(x, verbose=0) - model.predict(x, verbose=0))))
        loss, accuracy = pruning.evaluate_classifier(reloaded, x_eval, y_eval, batch_size=500)
        summary["export"] = {"paths": paths, "sparsity": export_sparsity, "refit": bool(args.reconstruct),
                             "reloaded_accuracy": accuracy, "max_abs_prediction_diff_after_reload": diff}
        print(f"exported the SFW model pruned to {100 * export_sparsity:g}%{' and refit' if args.reconstruct else ''} "
              f"to {paths['directory']} "
              f"({', '.join(k for k in ('keras', 'saved_model') if k in paths)}); the reloaded model.keras has "
              f"test accuracy {100 * accuracy:.2f}%, predictions at most {diff:.2e} from the pruned model's")
    summary["total_seconds"] = time.perf_counter() - t0
    write_json(os.path.join(out, "demo.json"), summary)
    print(f"wrote {os.path.join(args.out, 'demo.csv')}, demo.png, demo.json; "
          f"total {summary['total_seconds']:.0f} s (training: SGD {train_seconds['sgd']:.0f} s, "
          f"SFW {train_seconds['sfw']:.0f} s)")
    return 0
