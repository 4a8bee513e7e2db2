#!/usr/bin/env python
r"""Structured pruning that makes models smaller and faster: SGD vs SFW vs group-SFW.

For one setting (data set, model) three networks are trained from the same initialization,
on the same batches:

* ``SGD``: SGD with momentum 0.9 (lr ``--sgd-lr``);
* ``SFW``: `tf_sfw.SFW` (`tf_sfw.training.build_optimizer`) with the kernels in an (unstructured)
  K-sparse polytope, ``KSparsePolytope(k=10, k_frac=0.05, mode="initialization", value=15)``, lr 1.0,
  momentum 0.9, rescale "gradient" (Miao et al., ICLR 2022, "Learning Pruning-Friendly Networks via
  Frank-Wolfe"); every other field is the library default of the day (since session 5: only kernels
  constrained, biases by SGD at ``unconstrained_learning_rate`` 0.5; every variable constrained before);
* ``GroupSFW``: the same optimizer with every variable in a group K-sparse polytope over
  its output filters / units, ``GroupKSparsePolytope(k_frac=0.25, mode="initialization",
  value=15)`` (Zimmer, Spiegel and Pokutta, "Compression-aware Training of Neural
  Networks using Frank-Wolfe").

Each trained network is then pruned structurally (``tf_sfw.pruning.shrink.structured_sweep``:
the lowest-L2-norm filters / units are removed and a physically smaller model is built) at
every filter fraction of ``--fractions``. Default ``--mode layerwise``: every prunable layer
(channel group; channels meeting at a residual add form one group) loses the same fraction
of its filters, so "50%" halves every layer; ``--mode global`` uses one threshold over
mean-normalised scores instead. For every fraction the script records

* accuracy without retraining;
* accuracy after a fixed-structure fine-tune: the shrunken model trained with SGD (lr
  ``--ft-lr``, momentum 0.9) for ``--ft-fraction`` (default 2%) of the training steps;
* parameters, FLOPs (multiply-adds), SavedModel size and CPU latency per example at batch
  1 and 128, shrunken vs the trained dense model
  (``tf_sfw.pruning.shrink.structured_metrics``; the two models are timed alternately,
  medians of ``--latency-repeats``). The dense reference is the trained model rebuilt
  uncompiled with nothing removed (``shrink_model(model, {})``, the same function): the
  trained model itself would also export its optimizer's slot variables, which made its
  SavedModel about 1.7x larger for mnist_cnn;
* with ``--reestimate-bn BATCHES`` (default 20 for models with BatchNorm, i.e. resnet18):
  accuracy after re-estimating the shrunken model's BatchNorm moving statistics on that many
  training batches (``bn_accuracy``; forward passes only, no weight trained), next to the
  plain ``accuracy``; the fine-tune then starts from the re-estimated model;
* with ``--score bn_gamma|bn_scaled``: filters are ranked by their BatchNorm scale ``|γ|``
  or by the norm of the BatchNorm-folded kernel instead of the kernel norm;
* with ``--compensate zero|mean``: every shrunken model carries a constant for each removed
  channel (its zero-kernel value, or with BatchNorm outputs at their shift ``beta``, through
  ReLU and residual adds) into the consumers' biases (``structured_sweep(compensate=...)``);
  off by default;
* whether the exported SavedModel reloads with identical predictions (max |difference| of
  the outputs on ``--reload-examples`` test images, and equal argmax).

Outputs in ``--out``: ``results.csv`` (one row per run and fraction), plots of accuracy
against measured latency at batch 128 and against the fraction
(``accuracy_vs_latency_<dataset>_<model>.png``, ``accuracy_vs_fraction_<dataset>_<model>.png``),
``runs.json`` (training info and wall times), ``summary.md`` and ``log.txt``; ``results.csv``
also records each shrunken architecture (``widths``: filters / units per layer).

``--nm N M`` instead trains ``--runs`` (default SGD, SFW and NMSFW: SFW with every variable
in the N:M sparse polytope), prunes every kernel to N:M without retraining
(``tf_sfw.pruning.nm.prune_nm``) and records dense vs N:M accuracy and tfmot's
``is_pruned_m_by_n`` verdict (``nm_results.csv``, ``nm_summary.md``, ``nm_log.txt``).

Usage::

    python scripts/reproduce_structured.py --dataset mnist --model mnist_cnn --epochs 2 \
        --data-dir ../shared/data/keras --out results/structured/mnist_mnist_cnn
    python scripts/reproduce_structured.py --dataset fashion_mnist --model simple_cnn --epochs 6 \
        --data-dir ../shared/data/keras --out results/structured/fashion_mnist_simple_cnn
    # width-0.25 ResNet-18 on Fashion-MNIST padded to 32x32x1
    python scripts/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 \
        --epochs 2 --subset 10000 --test-subset 2000 --fractions 0 0.3 0.5 0.7 0.9 \
        --data-dir ../shared/data/keras --out results/structured/fashion_mnist_resnet18_w0.25
    # the same on the full train set (2 epochs), BatchNorm re-estimated on 20 batches (default for resnet18)
    python scripts/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
        --fractions 0 0.3 0.5 0.7 --data-dir ../shared/data/keras \
        --out results/structured/fashion_mnist_resnet18_w0.25_full
    # N:M: SGD, SFW and SFW in the 2:4 polytope pruned to 2:4 without retraining, tfmot's check
    python scripts/reproduce_structured.py --nm 2 4 --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 1 2 \
        --data-dir ../shared/data/keras --out results/structured/nm
    # steadier latency of the 50%-shrunken architecture (no training) next to the hand-halved
    # reference and to the architecture a trained --mode global run left; redrawing the plots
    python scripts/reproduce_structured.py --model mnist_cnn --latency-check 0.5 --latency-repeats 300 \
        --widths-from results/structured/mnist_mnist_cnn_global/results.csv --widths-run SFW --out /tmp/lat
    python scripts/reproduce_structured.py --replot --out results/structured/mnist_mnist_cnn
"""

import argparse
import csv
import functools
import json
import math
import os
import sys
import tempfile
import time

from tf_sfw.pruning.structured_options import CALIBRATED_SCORES, COSTS, MODES, SCORES, mode_conflict  # no TensorFlow: fast --help

RUNS = ("SGD", "SFW", "GroupSFW")
NM_RUNS = ("SGD", "SFW", "NMSFW")
NM_FIELDS = ("dataset", "model", "run", "seed", "n", "m", "train_steps", "dense_accuracy", "nm_accuracy", "delta_points",
             "kernel_zero_fraction", "tfmot_accepts", "tfmot_checked_kernels")
FIELDS = (
    "dataset", "model", "run", "seed", "fraction", "channels", "kept_channels", "accuracy", "loss", "ft_accuracy",
    "ft_steps", "params", "dense_params", "params_ratio", "flops", "dense_flops", "flops_ratio", "saved_model_bytes",
    "dense_saved_model_bytes", "saved_model_ratio", "latency_b1_s", "dense_latency_b1_s", "latency_ratio_b1",
    "latency_b128_s", "dense_latency_b128_s", "latency_ratio_b128", "reload_max_abs_diff", "reload_same_argmax",
    "bn_batches", "bn_accuracy", "bn_loss", "refit_accuracy", "refit_loss", "widths",
)  # fmt: skip
DEFAULT_FRACTIONS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist")
    p.add_argument("--model", choices=("mnist_cnn", "simple_cnn", "resnet18"), default="mnist_cnn")
    p.add_argument("--width", type=float, default=1.0, help="Width multiplier of resnet18 (e.g. 0.25).")
    p.add_argument("--data-dir", default=None, help="Directory with the data files (see tf_sfw.data).")
    p.add_argument("--out", default="results/structured", help="Output directory.")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--fractions", type=float, nargs="+", default=list(DEFAULT_FRACTIONS))
    p.add_argument("--mode", choices=MODES, default="layerwise",
                   help="Filter selection: the same fraction of every layer (default) or one global threshold.")
    p.add_argument("--cost", choices=COSTS, default="none",
                   help="With --mode global: 'flops' divides each channel's score by the multiply-adds its removal "
                        "saves (tf_sfw.pruning.structured.channel_costs), so of two equally weak channels the more "
                        "expensive goes. Default: none.")
    p.add_argument("--runs", nargs="+", choices=sorted(set(RUNS + NM_RUNS)), default=None,
                   help=f"Default: {' '.join(RUNS)} (with --nm: {' '.join(NM_RUNS)}; NMSFW = SFW in the N:M polytope).")
    p.add_argument("--nm", type=int, nargs=2, default=None, metavar=("N", "M"),
                   help="N:M mode: train --runs, prune every kernel to N:M (N kept of M along the input axis) without "
                        "retraining, record dense vs N:M accuracy and tfmot's is_pruned_m_by_n verdict in "
                        "OUT/nm_results.csv and OUT/nm_summary.md, exit.")
    p.add_argument("--subset", type=int, default=None, help="Train on a seeded random subset of N examples.")
    p.add_argument("--test-subset", type=int, default=None, help="Evaluate on the first N test examples.")
    p.add_argument("--validation", type=int, default=0, metavar="N",
                   help="Hold out the last N training images and evaluate on them instead of the test set (for "
                        "choosing settings without the test set; every 'test' column then reads validation).")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--sgd-lr", type=float, default=0.05)
    p.add_argument("--group-k-frac", type=float, default=0.25, help="k_frac of the GroupKSparsePolytope.")
    p.add_argument("--ft-fraction", type=float, default=0.02, help="Fine-tune steps as a fraction of training steps.")
    p.add_argument("--ft-lr", type=float, default=0.01)
    p.add_argument("--ft-teacher", action="store_true",
                   help="Fine-tune on the dense model's predicted probabilities instead of the labels (knowledge "
                        "distillation; tf_sfw.pruning.shrunk_fine_tune.fine_tune_shrunk(teacher=...)).")
    p.add_argument("--ft-freeze-bn", action="store_true",
                   help="Keep every BatchNorm in inference mode, its statistics, gamma and beta fixed, during the "
                        "fine-tune.")
    p.add_argument("--models-dir", default=None, metavar="DIR",
                   help="Save each trained network (DIR/<run>_seed<seed>.weights.h5 and .json); when both files "
                        "exist, load them instead of training (the training settings must match).")
    p.add_argument("--reestimate-bn", type=int, default=None, metavar="BATCHES",
                   help="Re-estimate the BatchNorm moving statistics of every shrunken model on BATCHES training "
                        "batches before fine-tuning (accuracy is recorded with and without: bn_accuracy / accuracy). "
                        "Default: 20 for models with BatchNorm (resnet18), 0 (off) otherwise.")
    p.add_argument("--score", choices=SCORES, default="kernel",
                   help="Filter score (tf_sfw.pruning.structured.filter_scores): kernel norm (default), BatchNorm "
                        "|gamma|, the norm of the BatchNorm-folded kernel |gamma|/sqrt(var+eps)*||W||, "
                        "'activation': each channel's input RMS in its consumers times their weights on it, or "
                        "'greedy_least_squares': the order of greedy least-squares removal (layerwise only), both "
                        "measured on --score-calibration training images.")
    p.add_argument("--score-calibration", type=int, default=512, metavar="N",
                   help="With --score activation / greedy_least_squares: the first N training images. Default: 512.")
    p.add_argument("--compensate", choices=("zero", "mean"), default=None,
                   help="Carry a constant for each removed channel into its consumers' biases "
                        "(structured_sweep(compensate=...)): 'zero' its value with a zero kernel, 'mean' the same "
                        "with every BatchNorm outputting its shift beta. Default: off.")
    p.add_argument("--reconstruct", type=int, default=0, metavar="N",
                   help="Also record the accuracy of each shrunken model refit by least squares to the dense layer "
                        "outputs on the first N training images (refit_accuracy; tf_sfw.pruning.reconstruction."
                        "refit_shrunk, no gradient step); 0: off.")
    p.add_argument("--reconstruct-intercept", action="store_true",
                   help="With --reconstruct: a bias-free layer followed by a BatchNorm is refit with a constant per "
                        "output, moved into the BatchNorm's moving mean (refit_shrunk(intercept=True)).")
    p.add_argument("--refit-reestimate-bn", action="store_true",
                   help="With --reconstruct: re-estimate the refit model's BatchNorm statistics on the --reestimate-bn "
                        "batches as well (forward passes only); refit_accuracy is then measured after it.")
    p.add_argument("--latency-repeats", type=int, default=10)
    p.add_argument("--reload-examples", type=int, default=256)
    p.add_argument("--latency-check", type=float, default=None, metavar="FRACTION",
                   help="Only time the model (as initialised, no training) shrunk at FRACTION against the dense "
                        "one, and a hand-scaled reference (every hidden layer built with (1 - FRACTION) of its "
                        "filters / units), each with --latency-repeats alternating timings; write "
                        "latency_check_<model>.json and exit.")
    p.add_argument("--widths-from", default=None, metavar="CSV",
                   help="With --latency-check: also time the architecture of the results.csv row of run "
                        "--widths-run at fraction FRACTION (its `widths` column, e.g. a --mode global run).")
    p.add_argument("--widths-run", choices=RUNS, default="SFW", help="Run whose widths --widths-from reads.")
    p.add_argument("--replot", action="store_true", help="Only redraw the plots from OUT/results.csv.")
    p.add_argument("--verbose", type=int, default=0)
    args = p.parse_args(argv)
    if args.model != "resnet18" and args.width != 1.0:
        p.error(f"--width applies to resnet18 only. Received: --width {args.width} with --model {args.model}")
    for name in ("epochs", "batch_size", "latency_repeats", "reload_examples"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer. Received: {getattr(args, name)}")
    if any(not 0 <= f < 1 for f in args.fractions + ([args.latency_check] if args.latency_check is not None else [])):
        p.error(f"--fractions must be in [0, 1). Received: {args.fractions}")
    if args.runs is None:
        args.runs = list(NM_RUNS if args.nm else RUNS)
    allowed = NM_RUNS if args.nm else RUNS
    if any(r not in allowed for r in args.runs):
        p.error(f"--runs must be among {allowed}{' with --nm' if args.nm else ''}. Received: {args.runs}")
    if args.nm and not 1 <= args.nm[0] <= args.nm[1]:
        p.error(f"--nm N M needs 1 <= N <= M. Received: --nm {args.nm[0]} {args.nm[1]}")
    conflict = mode_conflict(args.mode, score=args.score, cost=args.cost)
    if conflict is not None:
        p.error(f"--{conflict.option} {conflict.value} {conflict.why} and needs --mode {conflict.mode}. "
                f"Received: --mode {args.mode}")
    if args.validation < 0 or args.score_calibration < 1:
        p.error(f"--validation must be >= 0 and --score-calibration >= 1. Received: --validation {args.validation} "
                f"--score-calibration {args.score_calibration}")
    if args.validation and args.test_subset:
        p.error("--validation evaluates on held-out training images; it excludes --test-subset.")
    if args.reestimate_bn is None:
        args.reestimate_bn = 20 if args.model == "resnet18" else 0
    if args.reestimate_bn < 0:
        p.error(f"--reestimate-bn must be a non-negative integer. Received: {args.reestimate_bn}")
    if args.widths_from is not None and args.latency_check is None:
        p.error("--widths-from needs --latency-check FRACTION.")
    if args.reconstruct_intercept and not args.reconstruct:
        p.error("--reconstruct-intercept needs --reconstruct N.")
    if args.refit_reestimate_bn and not (args.reconstruct and args.reestimate_bn):
        p.error("--refit-reestimate-bn needs --reconstruct N and --reestimate-bn BATCHES > 0. Received: --reconstruct "
                f"{args.reconstruct} --reestimate-bn {args.reestimate_bn}")
    if not 0 < args.ft_fraction <= 0.02:
        p.error(f"--ft-fraction must be in (0, 0.02]. Received: {args.ft_fraction}")
    return args


# ------------------------------------------------------------------------------------------
# Glue over tf_sfw.


def input_shape(args):
    """Model input: 28x28x1, padded to 32x32x1 for resnet18 (four stride-2-friendly sizes)."""
    return (32, 32, 1) if args.model == "resnet18" else (28, 28, 1)


def load_data(args, seed):
    from tf_sfw import data as data_lib

    (x_train, y_train), (x_test, y_test) = data_lib.load_arrays(args.dataset, data_dir=args.data_dir)
    if args.validation:
        if args.validation >= len(y_train):
            raise ValueError(f"--validation must be smaller than the {len(y_train)} training images. "
                             f"Received: --validation {args.validation}")
        x_train, y_train, x_test, y_test = (x_train[: -args.validation], y_train[: -args.validation],
                                            x_train[-args.validation:], y_train[-args.validation:])
    x_train, y_train = data_lib._subset(x_train, y_train, args.subset if args.subset and args.subset < len(y_train) else None, seed)
    if args.test_subset and args.test_subset < len(y_test):
        x_test, y_test = x_test[: args.test_subset], y_test[: args.test_subset]
    size = input_shape(args)[0]
    if size != x_train.shape[1]:
        x_train, x_test = data_lib.pad_images(x_train, size), data_lib.pad_images(x_test, size)
    return (x_train, y_train), (x_test, y_test)


def build(args, seed):
    from tf_sfw._keras import keras
    from tf_sfw.models import build_model

    keras.utils.set_random_seed(seed)  # the same initialization for every run
    kwargs = {"width": args.width} if args.model == "resnet18" else {}
    return build_model(args.model, input_shape(args), 10, **kwargs)


def make_optimizer(args, run, model):
    from tf_sfw import SFW, constraints_for_model
    from tf_sfw.structured_constraints import GroupKSparsePolytope
    from tf_sfw.training import build_optimizer

    if run == "SGD":
        return build_optimizer(model, {"optimizer": "sgd", "learning_rate": args.sgd_lr, "momentum": 0.9})
    sfw = {"optimizer": "sfw", "learning_rate": 1.0, "momentum": 0.9, "rescale": "gradient", "mode": "initialization",
           "value": 15.0}
    if run == "SFW":  # k_sparse K=10 / 5 %, tau 15, lr 1; other fields (e.g. constrain="kernels") the library defaults
        return build_optimizer(model, {**sfw, "constraint": "k_sparse", "k": 10, "k_frac": 0.05})
    if run == "NMSFW":  # every variable in the N:M sparse polytope
        return build_optimizer(model, {**sfw, "constraint": "nm", "nm_n": args.nm[0], "nm_m": args.nm[1]})
    group = GroupKSparsePolytope(k_frac=args.group_k_frac, mode="initialization", value=15.0)
    return SFW(learning_rate=1.0, momentum=0.9, rescale="gradient", constraints=constraints_for_model(model, group))


def train_dataset(args, x, y, seed, epochs):
    from tf_sfw import data as data_lib

    return data_lib.make_train_dataset(x, y, batch_size=args.batch_size, seed=seed, epochs=epochs)


TRAINING_SETTINGS = ("dataset", "model", "width", "epochs", "validation", "subset", "batch_size", "sgd_lr", "group_k_frac")


def training_settings(args):
    """The settings that define a trained network, as recorded beside it in ``--models-dir``."""
    return {k: getattr(args, k) for k in TRAINING_SETTINGS}


def saved_model_paths(args, run, seed):
    stem = os.path.join(args.models_dir, f"{run}_seed{seed}")
    return stem + ".weights.h5", stem + ".json"


def load_trained(args, run, seed, test_ds, log):
    """The network ``--models-dir`` holds for ``run`` and ``seed`` (None when it holds none)."""
    from tf_sfw.pruning.sweep import evaluate_classifier

    weights, meta = saved_model_paths(args, run, seed)
    if not (os.path.exists(weights) and os.path.exists(meta)):
        return None
    with open(meta) as f:
        info = json.load(f)
    settings = training_settings(args)
    if info.get("settings") != settings:
        raise SystemExit(f"--models-dir {args.models_dir}: {os.path.basename(meta)} was trained with "
                         f"{info.get('settings')}, not {settings}; use another directory.")
    model = build(args, seed)
    model.load_weights(weights)
    loss, accuracy = evaluate_classifier(model, test_ds)
    if abs(accuracy - info["test_accuracy"]) > 1e-6:
        raise SystemExit(f"--models-dir {args.models_dir}: {os.path.basename(weights)} evaluates to {accuracy:.6f}, "
                         f"not the saved {info['test_accuracy']:.6f}.")
    log(f"  {run} seed {seed}: loaded from {weights}, dense test acc {100 * accuracy:.2f}%")
    return model, info


def train(args, run, seed, train_arrays, test_ds, log):
    from tf_sfw import data as data_lib
    from tf_sfw.pruning.sweep import evaluate_classifier
    from tf_sfw.schedules import StepDecay
    from tf_sfw.training.config import PAPER_MILESTONES_FRAC

    if args.models_dir:
        loaded = load_trained(args, run, seed, test_ds, log)
        if loaded is not None:
            return loaded
    x, y = train_arrays
    model = build(args, seed)
    model.compile(optimizer=make_optimizer(args, run, model), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    per_epoch = data_lib.steps_per_epoch(len(y), args.batch_size)
    t0 = time.time()
    hist = model.fit(train_dataset(args, x, y, seed, args.epochs), epochs=args.epochs, steps_per_epoch=per_epoch,
                     callbacks=[StepDecay(milestones_frac=PAPER_MILESTONES_FRAC)], verbose=args.verbose)
    info = {"run": run, "seed": seed, "train_seconds": time.time() - t0, "train_steps": per_epoch * args.epochs,
            "train_loss": [float(v) for v in hist.history["loss"]]}
    info["test_loss"], info["test_accuracy"] = evaluate_classifier(model, test_ds)
    log(f"  {run} seed {seed}: {args.epochs} epochs ({info['train_steps']} steps) in {info['train_seconds']:.0f}s, "
        f"dense test acc {100 * info['test_accuracy']:.2f}%")
    if args.models_dir:
        os.makedirs(args.models_dir, exist_ok=True)
        weights, meta = saved_model_paths(args, run, seed)
        model.save_weights(weights)
        with open(meta, "w") as f:
            json.dump({**info, "settings": training_settings(args)}, f, indent=1)
    return model, info


def reload_check(model, x):
    """Export ``model`` as a SavedModel, reload it, compare predictions on ``x`` (floats in [0, 1])."""
    import numpy as np

    from tf_sfw.pruning.export import export_model, load_exported, predict_exported

    expected = model.predict(x, verbose=0)
    with tempfile.TemporaryDirectory() as tmp:
        loaded = load_exported(export_model(model, os.path.join(tmp, "model"), keras_copy=False))
        got = predict_exported(loaded, x)
    return {"reload_max_abs_diff": float(np.max(np.abs(got - expected))),
            "reload_same_argmax": bool(np.array_equal(got.argmax(-1), expected.argmax(-1)))}


def calibration_data(args, x, y, seed):
    """``--reestimate-bn`` training batches (seeded order, the same for every fraction) on which
    the BatchNorm statistics of the shrunken models are re-estimated; None when off."""
    if not args.reestimate_bn:
        return None
    return train_dataset(args, x, y, seed + 2, 1).take(args.reestimate_bn).cache()


def fine_tune_steps(args, train_steps):
    """``max(1, floor(ft_fraction · train_steps))``: at most 2% of the training steps (for >= 50 steps)."""
    return max(1, int(math.floor(args.ft_fraction * train_steps)))


def refit_then_reestimate(refit, calibration):
    """``refit`` followed by the BatchNorm re-estimation of the refit model on ``calibration``."""
    from tf_sfw.pruning.batchnorm import reestimate_batchnorm

    def run(model, shrunk, plan):
        refit_model = refit(model, shrunk, plan)
        reestimate_batchnorm(refit_model, calibration)
        return refit_model

    return run


def sweep_run(args, model, info, train_arrays, test_ds, x_reload, log):
    """Structured sweep of one trained model: accuracy, sizes, latency, reload, fine-tune."""
    from tf_sfw import data as data_lib
    from tf_sfw._keras import keras
    from tf_sfw.pruning.reconstruction import refit_shrunk
    from tf_sfw.pruning.shrink import shrink_model, structured_metrics, structured_sweep
    from tf_sfw.pruning.shrunk_fine_tune import fine_tune_shrunk
    from tf_sfw.pruning.sweep import evaluate_classifier

    x, y = train_arrays
    ft_steps = fine_tune_steps(args, info["train_steps"])
    ft_epochs = -(-ft_steps // data_lib.steps_per_epoch(len(y), args.batch_size))
    # The dense reference: the trained model rebuilt through the same path with nothing removed
    # (identical function, uncompiled), so that its SavedModel holds no optimizer slots and
    # its latency is measured on the same kind of object as the shrunken models'.
    dense = shrink_model(model, {}, name=f"{model.name}_dense")

    calibration = calibration_data(args, x, y, info["seed"])
    dense_sizes = {}

    def evaluate(shrunk):  # after the BatchNorm re-estimation, when there is one; the refit model with --reconstruct
        row = structured_metrics(shrunk, dense, repeats=args.latency_repeats, dense_sizes=dense_sizes)
        dense_sizes.update({key: row[f"dense_{key}"] for key in ("params", "flops", "saved_model_bytes")})
        row.update(reload_check(shrunk, x_reload))
        ds = train_dataset(args, x, y, info["seed"] + 1, ft_epochs)
        fine_tune_shrunk(shrunk, ds, ft_steps, optimizer=keras.optimizers.SGD(learning_rate=args.ft_lr, momentum=0.9),
                         teacher=dense if args.ft_teacher else None, freeze_batchnorm=args.ft_freeze_bn)
        row["ft_loss"], row["ft_accuracy"] = evaluate_classifier(shrunk, test_ds)
        row["ft_steps"] = ft_steps
        return row

    refit = None
    if args.reconstruct:
        refit = functools.partial(refit_shrunk, calibration_x=x[: args.reconstruct].astype("float32") / 255.0,
                                  intercept=args.reconstruct_intercept)
        if args.refit_reestimate_bn:
            refit = refit_then_reestimate(refit, calibration)
    t0 = time.time()
    scored_on = x[: args.score_calibration].astype("float32") / 255.0 if args.score in CALIBRATED_SCORES else None
    rows = structured_sweep(model, args.fractions, mode=args.mode, data=test_ds, evaluate=evaluate,
                            reestimate_bn=calibration, compensate=args.compensate, score=args.score, refit=refit,
                            calibration_x=scored_on, cost=args.cost)
    info["sweep_seconds"] = time.time() - t0
    for r in rows:
        r["widths"] = json.dumps(r["widths"], separators=(",", ":"))
        bn = f" bn {100 * r['bn_accuracy']:.2f}" if "bn_accuracy" in r else ""
        bn += f" refit {100 * r['refit_accuracy']:.2f}" if "refit_accuracy" in r else ""
        log(f"    {info['run']} {100 * r['fraction']:4.0f}%: acc {100 * r['accuracy']:.2f}{bn} ft {100 * r['ft_accuracy']:.2f} "
            f"params {r['params_ratio']:.3f} flops {r['flops_ratio']:.3f} lat128 {r['latency_ratio_b128']:.3f} "
            f"lat1 {r['latency_ratio_b1']:.3f} reload diff {r['reload_max_abs_diff']:.1e}")
    return rows


# ------------------------------------------------------------------------------------------
# Outputs.


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})


def read_csv(path):
    """The rows of ``results.csv`` with numbers parsed (the inverse of :func:`write_csv` for plotting)."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for row in rows:
        for key, value in row.items():
            if key not in ("dataset", "model", "run", "reload_same_argmax", "widths"):
                row[key] = float(value) if value not in ("", None) else None
        row["seed"] = int(row["seed"])
    return rows


def plot_title(args):
    return f"{args.dataset} / {args.model}" + (f" (width {args.width:g})" if args.model == "resnet18" else "")


def plot(rows, out, title_prefix):
    """Accuracy vs measured latency ratio at batch 128, and accuracy vs fraction (no retrain / fine-tuned)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    key = f"{rows[0]['dataset']}_{rows[0]['model']}"
    runs = [r for r in RUNS if any(row["run"] == r for row in rows)]
    paths = []
    for xkey, xlabel, name in (("latency_ratio_b128", "CPU latency at batch 128, shrunken / dense (measured)", "latency"),
                               ("fraction", "fraction of filters / units removed", "fraction")):
        fig, ax = plt.subplots(figsize=(7, 4.5))
        for i, run in enumerate(runs):
            sel = sorted((r for r in rows if r["run"] == run and r["seed"] == rows[0]["seed"]), key=lambda r: r["fraction"])
            xs = [r[xkey] for r in sel]
            # Measured latencies are noisy and not monotone in the fraction: markers only there.
            solid, dashed = ("o", "s") if name == "latency" else ("o-", "s--")
            ax.plot(xs, [100 * r["accuracy"] for r in sel], solid, color=f"C{i}", label=f"{run}, no retraining")
            if any(r.get("bn_accuracy") is not None for r in sel):
                ax.plot(xs, [100 * r["bn_accuracy"] for r in sel], "^:" if name == "fraction" else "^", color=f"C{i}",
                        label=f"{run}, BN re-estimated")
            ax.plot(xs, [100 * r["ft_accuracy"] for r in sel], dashed, color=f"C{i}", mfc="none", label=f"{run}, fine-tuned")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test accuracy (%)")
        ax.set_title(f"{title_prefix}: structured pruning", fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = os.path.join(out, f"accuracy_vs_{name}_{key}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def summary_markdown(args, rows, infos, total):
    lines = ["# Measured numbers (generated by scripts/reproduce_structured.py)", "",
             "Command: `python " + " ".join(sys.argv) + "`", "", f"Total wall time: {total:.0f} s", "",
             "| run | seed | train s | steps | dense acc % | sweep s |", "|---|---|---|---|---|---|"]
    for i in infos:
        lines.append(f"| {i['run']} | {i['seed']} | {i['train_seconds']:.0f} | {i['train_steps']} | "
                     f"{100 * i['test_accuracy']:.2f} | {i.get('sweep_seconds', 0):.0f} |")
    lines += ["", "| run | removed | acc % | BN re-estimated acc % | refit acc % | fine-tuned acc % | params | FLOPs | "
              "SavedModel | latency b1 | latency b128 | reload max diff |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        bn = f"{100 * r['bn_accuracy']:.2f}" if r.get("bn_accuracy") is not None else "-"
        refit = f"{100 * r['refit_accuracy']:.2f}" if r.get("refit_accuracy") is not None else "-"
        lines.append(f"| {r['run']} | {100 * r['fraction']:.0f}% | {100 * r['accuracy']:.2f} | {bn} | {refit} | "
                     f"{100 * r['ft_accuracy']:.2f} | "
                     f"{r['params_ratio']:.3f} | {r['flops_ratio']:.3f} | {r['saved_model_ratio']:.3f} | "
                     f"{r['latency_ratio_b1']:.3f} | {r['latency_ratio_b128']:.3f} | {r['reload_max_abs_diff']:.1e} |")
    if args.score == "activation":
        lines += ["", f"Filters scored by --score activation (input RMS x consumer weights, on {args.score_calibration} "
                  "training images) instead of their kernel norm."]
    elif args.score == "greedy_least_squares":
        lines += ["", "Filters chosen by --score greedy_least_squares (greedy least-squares removal over the consumers' "
                  f"input Gram matrices on {args.score_calibration} training images) instead of their kernel norm."]
    elif args.score != "kernel":
        lines += ["", f"Filters scored by --score {args.score} (BatchNorm-aware) instead of their kernel norm."]
    if args.validation:
        lines += ["", f"Evaluated on the last {args.validation} training images (held out from training), "
                  "not on the test set: every accuracy above is a validation accuracy."]
    if args.compensate:
        lines += ["", f"Compensated (--compensate {args.compensate}): removed channels' constants carried into the "
                  "consumers' biases."]
    if args.reconstruct:
        lines += ["", f"Refit: every layer of the shrunken model refit by least squares to the dense layer outputs of "
                  f"its kept channels on {args.reconstruct} training images (no gradient step); the fine-tune, "
                  "sizes, latency and reload check use the refit model."]
    if args.ft_teacher or args.ft_freeze_bn:
        lines += ["", "Fine-tune: " + ", ".join(
            (["targets = the dense model's predicted probabilities (distillation)"] if args.ft_teacher else [])
            + (["BatchNorm frozen (inference mode, statistics and gamma/beta fixed)"] if args.ft_freeze_bn else []))
            + f"; SGD lr {args.ft_lr}, momentum 0.9."]
    if args.reconstruct_intercept:
        lines += ["", "Refit with an intercept per output of each bias-free layer, moved into its BatchNorm's moving mean."]
    if args.refit_reestimate_bn:
        lines += ["", f"After the refit, its BatchNorm statistics re-estimated on {args.reestimate_bn} training batches "
                  "(refit acc % is measured after it)."]
    if args.reestimate_bn:
        lines += ["", f"BN re-estimated: moving statistics recomputed on {args.reestimate_bn} training batches "
                  "(forward passes only)" + ("." if args.reconstruct else "; the fine-tune starts from that model.")]
    lines += ["", "Ratios are shrunken / dense (the trained model of the same run); latency per example, "
              f"median of {args.latency_repeats} alternating timings on a shared, loaded CPU.", ""]
    return "\n".join(lines)


def resized(model, widths, name):
    """``model`` built anew from its config with the given output widths (``{layer: filters /
    units}``), freshly initialised: a reference architecture built without the pruning code."""
    from tf_sfw._keras import keras

    config = model.get_config()
    config["name"] = name
    for item in config["layers"]:
        cfg = item["config"]
        if cfg["name"] in widths:
            cfg["filters" if item["class_name"] == "Conv2D" else "units"] = int(widths[cfg["name"]])
    return (keras.Sequential if isinstance(model, keras.Sequential) else keras.Model).from_config(config)


def scaled_widths(model, fraction):
    """Every Conv2D / Dense layer but the classifier (the model's output layer) keeps
    ``max(1, round((1 - fraction) · width))`` of its filters / units, as if built by hand."""
    from tf_sfw._keras import keras

    out = {layer.name for layer in model.layers if any(t is layer.output for t in model.outputs)}
    return {layer.name: max(1, int(round((1 - fraction) * (layer.filters if isinstance(layer, keras.layers.Conv2D) else layer.units))))
            for layer in model.layers if isinstance(layer, (keras.layers.Conv2D, keras.layers.Dense)) and layer.name not in out}


def widths_from_csv(path, run, fraction):
    """The ``widths`` of the results.csv row of ``run`` at ``fraction`` (first seed)."""
    for row in read_csv(path):
        if row["run"] == run and abs(row["fraction"] - fraction) < 1e-9 and row.get("widths"):
            return json.loads(row["widths"])
    raise SystemExit(f"--widths-from {path}: no row of run {run} at fraction {fraction} with a `widths` column.")


def latency_check(args):
    """Latency at ``args.latency_check`` removed, against the dense model, of

    * ``shrunk``: the freshly built model shrunk by the library (``structured_prune``,
      ``--mode``);
    * ``reference``: the same model built by hand with every hidden layer at ``1 - fraction``
      of its width (:func:`scaled_widths`, :func:`resized`), not through the pruning code;
    * ``from_csv`` (with ``--widths-from``): the architecture a trained run's sweep left
      (e.g. ``--mode global``, whose widths depend on the trained weights).

    Latency does not depend on the weights' values, so no training is needed; each
    architecture is timed alternately with the dense model (``structured_metrics``), which
    gives steadier figures than the per-fraction timings of the sweep.
    """
    from tf_sfw.pruning.shrink import kept_widths, shrink_model, structured_metrics, structured_prune

    model = build(args, args.seeds[0])
    dense = shrink_model(model, {}, name=f"{model.name}_dense")
    candidates = {"shrunk": structured_prune(model, args.latency_check, mode=args.mode, cost=args.cost),
                  "reference": resized(model, scaled_widths(model, args.latency_check), f"{model.name}_reference")}
    if args.widths_from:
        widths = widths_from_csv(args.widths_from, args.widths_run, args.latency_check)
        candidates["from_csv"] = resized(model, widths, f"{model.name}_from_csv")
    t0 = time.time()
    result = {"model": args.model, "width": args.width, "input_shape": list(input_shape(args)), "fraction": args.latency_check,
              "mode": args.mode, "cost": args.cost, "repeats": args.latency_repeats, "widths_from": args.widths_from,
              "widths_run": args.widths_run if args.widths_from else None, "dense_widths": kept_widths(dense)}
    dense_sizes = {}
    for key, candidate in candidates.items():
        metrics = structured_metrics(candidate, dense, repeats=args.latency_repeats, dense_sizes=dense_sizes)
        dense_sizes = {k: metrics[f"dense_{k}"] for k in ("params", "flops", "saved_model_bytes")}
        metrics["widths"] = kept_widths(candidate)
        result[key] = metrics
    result.update(result["shrunk"])  # the library's shrunken model at top level (as before)
    result["seconds"] = time.time() - t0
    path = os.path.join(args.out, f"latency_check_{args.model}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps(result, indent=1))
    print("latency ratio at batch 128 (per example, vs dense): "
          + ", ".join(f"{k} {result[k]['latency_ratio_b128']:.3f} (FLOPs {result[k]['flops_ratio']:.3f})" for k in candidates))
    return result


def nm_run(args, model, info, test_ds):
    """Prune every kernel of a trained model to N:M without retraining; tfmot checks the result."""
    import numpy as np
    from tensorflow_model_optimization.python.core.sparsity.keras import pruning_utils

    from tf_sfw.pruning.masks import strip
    from tf_sfw.pruning.nm import prune_nm, tfmot_m_by_n
    from tf_sfw.pruning.sweep import evaluate_classifier

    n, m = args.nm
    pruned = strip(prune_nm(model, n, m))
    kernels = [layer.kernel for layer in pruned.layers if hasattr(layer, "kernel")]
    verdicts = [bool(pruning_utils.is_pruned_m_by_n(k, m_by_n=tfmot_m_by_n(n, m))) for k in kernels]
    _, accuracy = evaluate_classifier(pruned, test_ds)
    zeros = sum(int(np.sum(k.numpy() == 0)) for k in kernels) / sum(int(np.prod(k.shape)) for k in kernels)
    return {"dataset": args.dataset, "model": args.model, "run": info["run"], "seed": info["seed"], "n": n, "m": m,
            "train_steps": info["train_steps"], "dense_accuracy": info["test_accuracy"], "nm_accuracy": accuracy,
            "delta_points": 100 * (accuracy - info["test_accuracy"]), "kernel_zero_fraction": zeros,
            "tfmot_accepts": all(verdicts), "tfmot_checked_kernels": len(verdicts)}


def nm_summary(args, rows):
    import numpy as np

    from tf_sfw.pruning.nm import tfmot_m_by_n

    n, m = args.nm
    lines = ["# N:M pruning without retraining (generated by scripts/reproduce_structured.py --nm)", "",
             "Command: `python " + " ".join(sys.argv) + "`", "",
             f"Every kernel pruned to {n}:{m} ({n} largest magnitudes kept in every block of {m} consecutive weights "
             "along the input axis; `tf_sfw.pruning.nm.prune_nm`), biases untouched, no retraining. `tfmot` = "
             f"`is_pruned_m_by_n(kernel, m_by_n={tfmot_m_by_n(n, m)})` true for every kernel.", "",
             "| run | seed | dense acc % | N:M acc % | Δ points | kernel zeros | tfmot accepts |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | {r['seed']} | {100 * r['dense_accuracy']:.2f} | {100 * r['nm_accuracy']:.2f} | "
                     f"{r['delta_points']:+.2f} | {r['kernel_zero_fraction']:.3f} | {r['tfmot_accepts']} "
                     f"({r['tfmot_checked_kernels']} kernels) |")
    lines += ["", "| run | seeds | dense acc % (mean ± sd) | N:M acc % | Δ points (mean, worst) |", "|---|---|---|---|---|"]
    for run in args.runs:
        sel = [r for r in rows if r["run"] == run]
        if sel:
            d, a, delta = (np.array([r[k] for r in sel]) for k in ("dense_accuracy", "nm_accuracy", "delta_points"))
            lines.append(f"| {run} | {len(sel)} | {100 * d.mean():.2f} ± {100 * d.std():.2f} | {100 * a.mean():.2f} ± "
                         f"{100 * a.std():.2f} | {delta.mean():+.2f}, {delta.min():+.2f} |")
    return "\n".join(lines + [""])


def nm_main(args, log):
    from tf_sfw import data as data_lib

    rows = []
    for seed in args.seeds:
        train_arrays, (x_test, y_test) = load_data(args, seed)
        test_ds = data_lib.make_eval_dataset(x_test, y_test, batch_size=256)
        for run in args.runs:
            model, info = train(args, run, seed, train_arrays, test_ds, log)
            row = nm_run(args, model, info, test_ds)
            log(f"    {run} seed {seed}: dense {100 * row['dense_accuracy']:.2f}% -> {args.nm[0]}:{args.nm[1]} "
                f"{100 * row['nm_accuracy']:.2f}% ({row['delta_points']:+.2f}), tfmot accepts {row['tfmot_accepts']}")
            rows.append(row)
            with open(os.path.join(args.out, "nm_results.csv"), "w", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=NM_FIELDS)
                writer.writeheader()
                writer.writerows({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows)
    with open(os.path.join(args.out, "nm_summary.md"), "w") as f:
        f.write(nm_summary(args, rows))
    return rows


def main(argv=None):
    args = parse_args(argv)
    from tf_sfw import data as data_lib

    os.makedirs(args.out, exist_ok=True)
    if args.latency_check is not None:
        latency_check(args)
        return 0
    if args.replot:
        runs_path = os.path.join(args.out, "runs.json")
        if os.path.exists(runs_path):  # the title from the settings of the run that wrote the CSV
            with open(runs_path) as f:
                args = argparse.Namespace(**{**vars(args), **json.load(f)["args"], "out": args.out})
        print("replotted:", plot(read_csv(os.path.join(args.out, "results.csv")), args.out, plot_title(args)))
        return 0
    log_file = open(os.path.join(args.out, "nm_log.txt" if args.nm else "log.txt"), "w")

    def log(message):
        print(message, flush=True)
        log_file.write(message + "\n")
        log_file.flush()

    start = time.time()
    rows, infos = [], []
    try:
        log("command: python " + " ".join(sys.argv))
        if args.nm:
            nm_main(args, log)
            log(f"total wall time {time.time() - start:.0f}s")
            return 0
        for seed in args.seeds:
            train_arrays, (x_test, y_test) = load_data(args, seed)
            test_ds = data_lib.make_eval_dataset(x_test, y_test, batch_size=256)
            x_reload = x_test[: args.reload_examples].astype("float32") / 255.0
            evaluated = f"validation (last {args.validation} training images)" if args.validation else "test"
            log(f"{args.dataset}/{args.model} seed {seed}: {len(train_arrays[1])} train, {len(y_test)} {evaluated}, "
                f"input {input_shape(args)}, {args.epochs} epochs")
            for run in args.runs:
                model, info = train(args, run, seed, train_arrays, test_ds, log)
                for r in sweep_run(args, model, info, train_arrays, test_ds, x_reload, log):
                    rows.append({"dataset": args.dataset, "model": args.model, "run": run, "seed": seed, **r})
                infos.append(info)
                write_csv(os.path.join(args.out, "results.csv"), rows)
        total = time.time() - start
        plot(rows, args.out, plot_title(args))
        with open(os.path.join(args.out, "runs.json"), "w") as f:
            json.dump({"args": vars(args), "total_seconds": total, "runs": infos}, f, indent=1)
        with open(os.path.join(args.out, "summary.md"), "w") as f:
            f.write(summary_markdown(args, rows, infos, total))
        log(f"total wall time {total:.0f}s")
    finally:
        log_file.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
