#!/usr/bin/env python
"""Head-to-head at equal training budget: SFW + one-shot pruning against SGD + one-shot
pruning and tfmot's gradual magnitude pruning (GMP).

Every method trains the same model from the same initial weights (per seed), on the same
batches (batch 128), for the same number of epochs, with the same lr schedule family
(``tf_sfw.recipe.lr_schedule``: step decay ÷10 at 75 % and 90 % of the steps by default):

* ``sgd`` / ``sfw``: one dense run (SGD with momentum / ``tf_sfw.recipe.sfw_recipe``), then
  one-shot global magnitude pruning of the kernels at every target, no retraining;
* ``sgd+ft`` / ``sfw+ft``: the same masks + a fixed-mask SGD fine-tune of at most 2 % of the
  training steps per target (``tf_sfw.pruning.fine_tune``);
* ``sgd+wanda`` / ``sfw+wanda`` (``_lw``: layer-wise): the activation-aware criterion
  (``tf_sfw.pruning.activation``) on a calibration batch of training images;
* ``sgd+bn`` / ``sfw+bn``: one-shot magnitude + BatchNorm re-estimation
  (``tf_sfw.pruning.batchnorm``; only models with BatchNorm);
* ``sgd+rec`` / ``sfw+rec``: the one-shot magnitude masks, then the kept weights and biases refit
  layer by layer by least squares to the dense network's layer outputs on calibration images
  (``tf_sfw.pruning.reconstruct``; forward passes and linear solves, no gradient step);
  ``+rec+ft``: that refit model + the fixed-mask fine-tune of ``+ft``;
* ``sgd+lw`` / ``sfw+lw``: one-shot *layer-wise* magnitude pruning (every kernel at the target,
  as GMP prunes), no retraining; ``+lw_bn``: the same + BatchNorm re-estimation (BatchNorm models);
* ``gmp``: ``tf_sfw.pruning.gmp.gmp_train`` (tfmot), one full run per target;
* ``gmp_equal_total``: GMP with the dense run's steps shared among the targets (each target
  gets ``train_steps / n_targets`` steps): the same TOTAL compute as one SFW run serving all.

``--validation N`` holds out the last N training examples and evaluates on them instead of
the test set (for tuning). Output: ``results.csv`` (one row per method, target and seed) and
``accuracy_<dataset>_<model>_<epochs>ep.png`` (mean ± std over seeds; not in tuning mode).
``--summarize-tuning RAW_CSV OUT_CSV`` turns the rows of tuning runs into one line per
configuration note and method.
"""

import argparse
import csv
import json
import math
import os
import sys
import time

DATASETS = ("mnist", "fashion_mnist")
MODELS = ("mnist_cnn", "simple_cnn", "resnet18")
METHODS = (
    "sgd", "sfw", "sgd+ft", "sfw+ft", "gmp", "gmp_equal_total",
    "sgd+wanda", "sfw+wanda", "sgd+wanda_lw", "sfw+wanda_lw", "sgd+bn", "sfw+bn",
    "sgd+lw", "sfw+lw", "sgd+lw_bn", "sfw+lw_bn", "sgd+rec", "sfw+rec", "sgd+rec+ft", "sfw+rec+ft",
)
FIELDS = (
    "dataset", "model", "epochs", "method", "target_sparsity", "achieved_sparsity", "seed",
    "test_accuracy", "test_loss", "train_steps", "fine_tune_steps", "wall_s", "eval_split", "config",
)


def parse_args(argv=None):
    from tf_sfw import recipe_math

    D = recipe_math.DEFAULTS
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=DATASETS, default="mnist")
    p.add_argument("--model", default="mnist_cnn", choices=MODELS)
    p.add_argument("--width", type=float, default=None,
                   help="resnet18 only: width multiplier (e.g. 0.25); images are zero-padded to 32x32 for resnet18.")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--sparsities", type=float, nargs="+", default=[0, 50, 70, 80, 90, 95, 98],
                   help="Target sparsities in percent.")
    p.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--subset", type=int, default=None, help="Use only this many training (and test) examples.")
    p.add_argument("--validation", type=int, default=0,
                   help="Hold out the last N training examples and evaluate on them (tuning mode).")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--out", default="results/compare_pruning")
    p.add_argument("--csv-name", default="results.csv")
    # SFW recipe (tf_sfw.recipe.sfw_recipe; defaults: tf_sfw.recipe_math.DEFAULTS)
    p.add_argument("--sfw-lr", type=float, default=D["learning_rate"])
    p.add_argument("--momentum", type=float, default=D["momentum"], help="SFW momentum.")
    p.add_argument("--tau", type=float, default=D["tau"])
    p.add_argument("--k", type=int, default=D["k"])
    p.add_argument("--k-frac", type=float, default=D["k_frac"])
    p.add_argument("--ball", choices=recipe_math.BALLS, default=D["ball"])
    p.add_argument("--rescale", choices=("gradient", "diameter", "none"), default=D["rescale"])
    p.add_argument("--schedule", choices=recipe_math.SCHEDULES, default=D["schedule"], help="(all methods)")
    p.add_argument("--milestones", type=float, nargs="*", default=list(D["milestones"]), help="(all methods)")
    p.add_argument("--bias-norm", choices=recipe_math.BIAS_NORMS, default=D["bias_norm"])
    p.add_argument("--constrain", choices=recipe_math.CONSTRAIN, default=D["constrain"],
                   help="Variables in a set: all, or kernels only (the rest trained by SGD).")
    p.add_argument("--unconstrained-lr", type=float, default=D["unconstrained_learning_rate"],
                   help="SFW's SGD rate for unconstrained variables (same schedule shape).")
    p.add_argument("--factor", type=float, default=D["factor"], help="lr multiplier at each milestone (all methods).")
    p.add_argument("--warmup", type=float, default=D["warmup"],
                   help="Linear lr warm-up, fraction of the run (all methods).")
    p.add_argument("--k-annealing", nargs="+", default=None, metavar="K_FRAC",
                   help="SFW only: k_frac of each phase, equal phases over the first --k-annealing-until of "
                   "the run (tf_sfw.KAnnealing), e.g. 1.0 0.3 0.1; 'none': off (default: the recipe's).")
    p.add_argument("--k-annealing-until", type=float, default=D["k_annealing_until"],
                   help="SFW only: fraction of the run the --k-annealing phases share.")
    p.add_argument("--sfw-ema", type=float, default=0.0, metavar="MOMENTUM",
                   help="SFW only (exploration): keep an exponential moving average of the weights with this momentum "
                   "and end training on it (the optimizer's use_ema; the average of feasible iterates is feasible); "
                   "0: off.")
    p.add_argument("--sfw-sgd-start", type=float, default=D["sgd_start"], metavar="FRACTION",
                   help="SFW: the recipe's sgd_start, the first FRACTION of the run's steps train every variable by "
                   "SGD at --unconstrained-lr (as GMP's dense start), then Frank-Wolfe steps "
                   "(tf_sfw.fw.sgd_start_step).")
    p.add_argument("--sfw-unconstrained", nargs="+", default=list(D["unconstrained"]), metavar="REGEX",
                   help="SFW: the recipe's unconstrained patterns, variables trained by SGD at --unconstrained-lr "
                   "(re.search in the variable's name or layer path, e.g. conv1/kernel).")
    # baselines and pruning tools
    p.add_argument("--sgd-lr", type=float, default=0.05, help="SGD lr (also GMP's).")
    p.add_argument("--sgd-momentum", type=float, default=0.9, help="SGD momentum (also GMP's).")
    p.add_argument("--ft-frac", type=float, default=0.02, help="Fine-tune steps per target / training steps (<= 0.02).")
    p.add_argument("--ft-lr", type=float, nargs="+", default=[0.003],
                   help="Fine-tune SGD lr; several values (tuning) give methods '<name>+ft@<lr>'.")
    p.add_argument("--ft-teacher", action="store_true",
                   help="Fine-tune (+ft, +rec+ft) on the dense network's predicted probabilities instead of the labels "
                        "(distillation; the same batches).")
    p.add_argument("--gmp-begin", type=float, default=0.2)
    p.add_argument("--gmp-end", type=float, default=0.6)
    p.add_argument("--calibration", type=int, default=256, help="Calibration images (wanda, bn).")
    p.add_argument("--rec-calibration", type=int, default=1024,
                   help="Calibration images of the least-squares reconstruction (+rec).")
    p.add_argument("--note", default="")
    p.add_argument("--reuse-from", default=None, metavar="CSV",
                   help="Copy the rows of --reuse-methods for this dataset/model/epochs/seeds from an earlier results "
                   "CSV (their own config column kept) instead of training them again.")
    p.add_argument("--reuse-methods", nargs="*", choices=METHODS, default=[])
    args = p.parse_args(argv)
    if any(not 0 <= s < 100 for s in args.sparsities):
        p.error("--sparsities must be percentages in [0, 100).")
    if args.width is not None and (args.model != "resnet18" or not args.width > 0):
        p.error(f"--width needs --model resnet18 and a positive multiplier. Received: --model {args.model} "
                f"--width {args.width}")
    if not 0 <= args.sfw_ema < 1:
        p.error(f"--sfw-ema must be in [0, 1). Received: --sfw-ema {args.sfw_ema}")
    if not 0 <= args.sfw_sgd_start < 1:
        p.error(f"--sfw-sgd-start must be in [0, 1). Received: --sfw-sgd-start {args.sfw_sgd_start}")
    if not 0 < args.ft_frac <= 0.02:
        p.error("--ft-frac must be in (0, 0.02].")
    if args.k_annealing is None:
        args.k_annealing = None if D["k_annealing"] is None else list(D["k_annealing"])
    elif [v.lower() for v in args.k_annealing] == ["none"]:
        args.k_annealing = None
    else:
        try:
            args.k_annealing = [float(v) for v in args.k_annealing]
        except ValueError:
            p.error(f"--k-annealing takes k_frac values or 'none'. Received: {' '.join(args.k_annealing)}")
    return args


def config_string(args):
    """The recipe and baseline settings of this run, as a compact JSON string (results.csv)."""
    keys = ("sfw_lr", "momentum", "tau", "k", "k_frac", "ball", "rescale", "schedule", "milestones", "warmup",
            "bias_norm", "constrain", "unconstrained_lr", "factor", "k_annealing", "k_annealing_until", "sfw_ema",
            "sfw_sgd_start", "sfw_unconstrained", "sgd_lr", "sgd_momentum", "ft_lr", "ft_teacher", "gmp_begin", "gmp_end", "batch_size", "validation", "note")
    return json.dumps({k: getattr(args, k) for k in keys}, separators=(",", ":"))


def load_split(args):
    """((x_train, y_train), (x_eval, y_eval), eval split name)."""
    from tf_sfw import data as data_lib

    (x_train, y_train), (x_test, y_test) = data_lib.load_arrays(args.dataset, data_dir=args.data_dir)
    split = "test"
    if args.validation:
        x_test, y_test = x_train[-args.validation:], y_train[-args.validation:]
        x_train, y_train = x_train[: -args.validation], y_train[: -args.validation]
        split = f"validation_last_{args.validation}"
    if args.subset:
        x_train, y_train = x_train[: args.subset], y_train[: args.subset]
        x_test, y_test = x_test[: args.subset], y_test[: args.subset]
    if x_train.ndim == 3:
        x_train, x_test = x_train[..., None], x_test[..., None]
    if args.model == "resnet18":  # four stride-2-friendly sizes
        x_train, x_test = data_lib.pad_images(x_train, 32), data_lib.pad_images(x_test, 32)
    return (x_train, y_train), (x_test, y_test), split


def model_name(args):
    """The ``model`` column: the model name, with ``_w<width>`` for a width multiplier."""
    return args.model if args.width is None else f"{args.model}_w{args.width:g}"


class Setting:
    """Data, model builder and step counts shared by every method of one run."""

    def __init__(self, args):
        from tf_sfw import data as data_lib

        self.args = args
        self.train, self.eval, self.split = load_split(args)
        self.steps_per_epoch = data_lib.steps_per_epoch(len(self.train[1]), args.batch_size)
        self.total_steps = args.epochs * self.steps_per_epoch
        self.eval_ds = data_lib.make_eval_dataset(*self.eval, batch_size=500)
        self.calibration_x = self.train[0][: args.calibration].astype("float32") / 255.0
        self.rec_calibration_x = self.train[0][: args.rec_calibration].astype("float32") / 255.0

    def dataset(self, seed, epochs=None):
        from tf_sfw import data as data_lib

        return data_lib.make_train_dataset(*self.train, batch_size=self.args.batch_size, seed=seed,
                                           epochs=epochs or self.args.epochs)

    def build(self, seed):
        from tf_sfw._keras import keras
        from tf_sfw.models import build_model

        keras.utils.set_random_seed(seed)
        kwargs = {} if self.args.width is None else {"width": self.args.width}
        return build_model(self.args.model, input_shape=self.train[0].shape[1:], num_classes=10, **kwargs)

    def schedule(self, lr, total_steps=None):
        from tf_sfw.recipe import lr_schedule

        a = self.args
        return lr_schedule(lr, total_steps or self.total_steps, a.schedule, tuple(a.milestones), a.factor, warmup=a.warmup)

    def sgd(self, lr, total_steps=None):
        from tf_sfw._keras import keras

        return keras.optimizers.SGD(learning_rate=self.schedule(lr, total_steps), momentum=self.args.sgd_momentum)

    def evaluate(self, model):
        from tf_sfw.pruning import evaluate_classifier

        return evaluate_classifier(model, self.eval_ds)


def train_dense(setting, optimizer_name, seed, log):
    """One dense run (SGD or the SFW recipe); returns (model, wall seconds)."""
    from tf_sfw.recipe import sfw_recipe

    a = setting.args
    model = setting.build(seed)
    if optimizer_name == "sgd":
        optimizer = setting.sgd(a.sgd_lr)
    else:
        optimizer, _, _ = sfw_recipe(
            model, a.epochs, setting.steps_per_epoch, learning_rate=a.sfw_lr, momentum=a.momentum, tau=a.tau,
            k=a.k, k_frac=a.k_frac, ball=a.ball, rescale=None if a.rescale == "none" else a.rescale,
            schedule=a.schedule, milestones=tuple(a.milestones), factor=a.factor, warmup=a.warmup,
            bias_norm=a.bias_norm, constrain=a.constrain, unconstrained_learning_rate=a.unconstrained_lr,
            k_annealing=a.k_annealing,
            k_annealing_until=a.k_annealing_until, sgd_start=a.sfw_sgd_start, unconstrained=a.sfw_unconstrained,
        )
        if a.sfw_ema:  # set before the optimizer is built (the first step), which creates the averages
            optimizer.use_ema, optimizer.ema_momentum = True, a.sfw_ema
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    t0 = time.time()
    history = model.fit(setting.dataset(seed), epochs=a.epochs, steps_per_epoch=setting.steps_per_epoch, verbose=0)
    wall = time.time() - t0
    log(f"  {optimizer_name} seed {seed}: {wall:.0f}s, final train loss {history.history['loss'][-1]:.4f}")
    return model, wall


def kernel_sparsity(model):
    """Fraction of zeros over the prunable kernels."""
    from tf_sfw.pruning import prunable_weights

    weights = [v.numpy() for v in prunable_weights(model).values()]
    return float(sum((w == 0).sum() for w in weights) / sum(w.size for w in weights))


def evaluate_masked(setting, model, masks):
    """(loss, accuracy, achieved sparsity) of ``model`` with ``masks`` applied in place, then restored."""
    from tf_sfw.pruning import prunable_weights

    variables = prunable_weights(model)
    original = {k: v.numpy().copy() for k, v in variables.items()}
    try:
        for k, m in masks.items():
            variables[k].assign(original[k] * m)
        achieved = kernel_sparsity(model)
        loss, acc = setting.evaluate(model)
    finally:
        for k, v in variables.items():
            v.assign(original[k])
    return loss, acc, achieved


def fine_tuned_row(setting, model, masks, seed, ft_lr, ft_steps, teacher=None):
    """``model`` with ``masks`` fixed, fine-tuned by SGD for ``ft_steps`` steps: the row's accuracy entries.

    The batches come from one shuffled stream (seed ``seed + 1000``) of as many epochs as ``ft_steps`` needs
    (one for every row of this script, whose fine-tunes are at most 2 % of a run; more for longer budgets,
    ``results/compare_pruning/diag14``). With ``teacher`` (``--ft-teacher``: the dense network) the same batches are trained on the
    teacher's predicted probabilities instead of the labels (distillation)."""
    import numpy as np
    import tensorflow as tf

    from tf_sfw._keras import keras
    from tf_sfw.pruning import apply_masks, fine_tune, strip
    from tf_sfw.pruning.shrunk_fine_tune import fine_tune_batches

    pruned = apply_masks(model, masks)
    data = setting.dataset(seed + 1000, epochs=math.ceil(ft_steps / setting.steps_per_epoch))
    loss = "sparse_categorical_crossentropy"
    if teacher is not None:
        x, targets = (np.concatenate(v) for v in zip(*fine_tune_batches(data, ft_steps, teacher)))
        data = tf.data.Dataset.from_tensor_slices((x, targets)).batch(setting.args.batch_size)
        loss = "categorical_crossentropy"
    fine_tune(pruned, data, epochs=1, steps_per_epoch=ft_steps, loss=loss,
              optimizer=keras.optimizers.SGD(learning_rate=ft_lr, momentum=0.9))
    stripped = strip(pruned)
    loss, acc = setting.evaluate(stripped)
    return dict(achieved_sparsity=kernel_sparsity(stripped), test_accuracy=acc, test_loss=loss, fine_tune_steps=ft_steps)


def one_shot_rows(setting, name, model, seed, wall, methods, log):
    """Rows of every one-shot method applied to the dense model ``name`` ("sgd" or "sfw")."""
    import numpy as np

    from tf_sfw.pruning import apply_masks, magnitude_masks, reconstruct, strip
    from tf_sfw.pruning.activation import activation_masks
    from tf_sfw.pruning.batchnorm import batchnorm_layers, reestimate_batchnorm

    a = setting.args
    rows = []
    base = dict(train_steps=setting.total_steps, seed=seed)
    targets = [s / 100.0 for s in a.sparsities]
    ft_steps = max(1, int(math.floor(a.ft_frac * setting.total_steps)))
    has_bn = bool(batchnorm_layers(model))
    teacher = model if a.ft_teacher else None  # the dense network, for distilled fine-tunes
    for s in targets:
        masks = magnitude_masks(model, s)
        if name in methods:
            t0 = time.time()
            loss, acc, achieved = evaluate_masked(setting, model, masks)
            rows.append(dict(base, method=name, target_sparsity=s, achieved_sparsity=achieved, test_accuracy=acc,
                             test_loss=loss, fine_tune_steps=0, wall_s=wall + time.time() - t0))
        for ft_lr in a.ft_lr if f"{name}+ft" in methods and s > 0 else ():
            t0 = time.time()
            method = f"{name}+ft" if len(a.ft_lr) == 1 else f"{name}+ft@{ft_lr:g}"
            rows.append(dict(base, **fine_tuned_row(setting, model, masks, seed, ft_lr, ft_steps, teacher), method=method,
                             target_sparsity=s, wall_s=wall + time.time() - t0))
        for suffix, scope in (("wanda", "global"), ("wanda_lw", "layerwise")):
            if f"{name}+{suffix}" in methods:
                t0 = time.time()
                wmasks = activation_masks(model, setting.calibration_x, s, scope=scope)
                loss, acc, achieved = evaluate_masked(setting, model, wmasks)
                rows.append(dict(base, method=f"{name}+{suffix}", target_sparsity=s, achieved_sparsity=achieved,
                                 test_accuracy=acc, test_loss=loss, fine_tune_steps=0, wall_s=wall + time.time() - t0))
        if f"{name}+rec" in methods or (f"{name}+rec+ft" in methods and s > 0):
            t0 = time.time()
            rebuilt = reconstruct(model, masks, setting.rec_calibration_x)
            if f"{name}+rec" in methods:
                loss, acc = setting.evaluate(rebuilt)
                rows.append(dict(base, method=f"{name}+rec", target_sparsity=s,
                                 achieved_sparsity=kernel_sparsity(rebuilt), test_accuracy=acc, test_loss=loss,
                                 fine_tune_steps=0, wall_s=wall + time.time() - t0))
            if f"{name}+rec+ft" in methods and s > 0:
                rows.append(dict(base, **fine_tuned_row(setting, rebuilt, masks, seed, a.ft_lr[0], ft_steps, teacher),
                                 method=f"{name}+rec+ft", target_sparsity=s, wall_s=wall + time.time() - t0))
        if f"{name}+lw" in methods:
            t0 = time.time()
            loss, acc, achieved = evaluate_masked(setting, model, magnitude_masks(model, s, scope="layerwise"))
            rows.append(dict(base, method=f"{name}+lw", target_sparsity=s, achieved_sparsity=achieved,
                             test_accuracy=acc, test_loss=loss, fine_tune_steps=0, wall_s=wall + time.time() - t0))
        for suffix, scope in (("bn", "global"), ("lw_bn", "layerwise")):
            if f"{name}+{suffix}" in methods and has_bn:
                t0 = time.time()
                bn_masks = masks if scope == "global" else magnitude_masks(model, s, scope=scope)
                pruned = strip(apply_masks(model, bn_masks))
                calib = setting.dataset(seed + 2000, epochs=1).take(max(1, a.calibration // a.batch_size))
                reestimate_batchnorm(pruned, calib)
                loss, acc = setting.evaluate(pruned)
                rows.append(dict(base, method=f"{name}+{suffix}", target_sparsity=s,
                                 achieved_sparsity=kernel_sparsity(pruned), test_accuracy=acc, test_loss=loss,
                                 fine_tune_steps=0, wall_s=wall + time.time() - t0))
    for r in rows:
        if r["method"] in (name,) and np.isclose(r["target_sparsity"], 0.0):
            log(f"  {name} seed {seed} dense: {100 * r['test_accuracy']:.2f}%")
    return rows


def gmp_rows(setting, seed, methods, log):
    """GMP rows: one full run per target (``gmp``) and/or equal total compute (``gmp_equal_total``)."""
    from tf_sfw.pruning.gmp import gmp_train

    a = setting.args
    targets = [s / 100.0 for s in a.sparsities if s > 0]
    rows = []
    for method in ("gmp", "gmp_equal_total"):
        if method not in methods or not targets:
            continue
        if method == "gmp":
            epochs, per_epoch = a.epochs, setting.steps_per_epoch
        else:
            epochs, per_epoch = 1, max(1, setting.total_steps // len(targets))
        steps = epochs * per_epoch
        for s in targets:
            model = setting.build(seed)
            t0 = time.time()
            ds = setting.dataset(seed, epochs=a.epochs)
            stripped, _ = gmp_train(model, ds, s, epochs, per_epoch, setting.sgd(a.sgd_lr, steps),
                                    begin_frac=a.gmp_begin, end_frac=a.gmp_end)
            wall = time.time() - t0
            loss, acc = setting.evaluate(stripped)
            rows.append(dict(method=method, target_sparsity=s, achieved_sparsity=kernel_sparsity(stripped), seed=seed,
                             test_accuracy=acc, test_loss=loss, train_steps=steps, fine_tune_steps=0, wall_s=wall))
            log(f"  {method} {100 * s:.0f}% seed {seed}: {100 * acc:.2f}% ({wall:.0f}s, {steps} steps)")
    return rows


def reused_rows(args, path):
    """Rows of ``args.reuse_methods`` for this dataset, model, epochs and seeds from the CSV ``path``."""
    seeds = {str(s) for s in args.seeds}
    return [r for r in read_rows(path) if r["method"] in args.reuse_methods and r["dataset"] == args.dataset
            and r["model"] == model_name(args) and int(r["epochs"]) == args.epochs and r["seed"] in seeds
            and r.get("eval_split", "test") == ("test" if not args.validation else f"validation_last_{args.validation}")]


def write_rows(path, rows):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, "") for k in FIELDS})


def read_rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def aggregate(rows):
    """{(dataset, model, epochs, eval_split): {method: [(sparsity, mean, std, n)]}} of accuracies (%)."""
    import numpy as np

    groups = {}
    for r in rows:
        key = (r["dataset"], r["model"], int(r["epochs"]), r.get("eval_split", "test"))
        groups.setdefault(key, {}).setdefault(r["method"], {}).setdefault(float(r["target_sparsity"]), []).append(
            100 * float(r["test_accuracy"])
        )
    out = {}
    for key, methods in groups.items():
        out[key] = {
            m: [(s, float(np.mean(v)), float(np.std(v)), len(v)) for s, v in sorted(by_s.items())]
            for m, by_s in methods.items()
        }
    return out


def plot(rows, out):
    """One PNG per setting: accuracy vs target sparsity, a line per method, ± std error bars."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for (dataset, model, epochs, split), methods in aggregate(rows).items():
        fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
        top = max(p[1] for points in methods.values() for p in points)
        colors = plt.get_cmap("tab20").colors  # distinct colours for up to 20 methods (tab10 repeats after 10)
        for ax, zoom in zip(axes, (False, True)):
            for i, (method, points) in enumerate(sorted(methods.items())):
                xs = [100 * p[0] for p in points]
                # a bracketed variant ("sfw+rec[tau10]", results/compare_pruning/current.py) dashed
                ax.errorbar(xs, [p[1] for p in points], yerr=[p[2] for p in points], marker="o", ms=3, capsize=3,
                            label=method, color=colors[i % len(colors)], linestyle="--" if "[" in method else "-")
            ax.set_xlabel("target sparsity of the kernels (%)")
            ax.set_ylabel(f"{split} accuracy (%)")
            if zoom:
                ax.set_ylim(top - 6, top + 0.5)
                ax.set_title("zoom: the top 6 points")
            else:
                ax.set_ylim(bottom=max(0, ax.get_ylim()[0]))
                ax.set_title(f"{dataset} / {model}, {epochs} epochs (mean ± std over seeds)")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, ncol=2)
        suffix = "" if split == "test" else "_val"
        path = os.path.join(out, f"accuracy_{dataset}_{model}_{epochs}ep{suffix}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


def markdown_tables(path):
    """Markdown tables (mean ± std accuracy %, one row per method) of every setting in a results CSV."""
    out = []
    for (dataset, model, epochs, split), methods in aggregate(read_rows(path)).items():
        sparsities = sorted({p[0] for points in methods.values() for p in points})
        out.append(f"{dataset} / {model}, {epochs} epochs ({split}; n = seeds)\n")
        out.append("| method | " + " | ".join(f"{100 * s:g}%" for s in sparsities) + " |")
        out.append("|---" * (len(sparsities) + 1) + "|")
        order = [m for m in METHODS if m in methods] + sorted(set(methods) - set(METHODS))
        for method in order:
            cells = {p[0]: f"{p[1]:.2f} ± {p[2]:.2f}" if p[3] > 1 else f"{p[1]:.2f}" for p in methods[method]}
            out.append(f"| {method} | " + " | ".join(cells.get(s, "") for s in sparsities) + " |")
        out.append("")
    return "\n".join(out)


def write_tuning_csv(raw_path, out_path):
    """One line per (configuration note, method): mean ± std accuracy (%) per sparsity, seeds used."""
    import numpy as np

    table = {}
    for r in read_rows(raw_path):
        config = json.loads(r["config"])
        key = (r["dataset"], r["model"], r["epochs"], r["eval_split"], config.get("note", ""), r["method"])
        entry = table.setdefault(key, {"config": r["config"], "seeds": set(), "acc": {}})
        entry["seeds"].add(int(r["seed"]))
        entry["acc"].setdefault(float(r["target_sparsity"]), []).append(100 * float(r["test_accuracy"]))
    sparsities = sorted({s for e in table.values() for s in e["acc"]})
    fields = ["dataset", "model", "epochs", "eval_split", "note", "method", "seeds"]
    fields += [f"acc_{round(100 * s)}" for s in sparsities] + ["config"]
    with open(out_path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(fields)
        for key, e in table.items():
            cells = []
            for s in sparsities:
                values = e["acc"].get(s)
                cells.append("" if not values else f"{np.mean(values):.2f}" + (
                    f" ± {np.std(values):.2f}" if len(values) > 1 else ""))
            writer.writerow([*key, " ".join(map(str, sorted(e["seeds"]))), *cells, e["config"]])
    return out_path


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv[:1] == ["--markdown"]:
        if len(argv) != 2:
            raise SystemExit("usage: compare_pruning.py --markdown RESULTS_CSV")
        text = markdown_tables(argv[1])
        print(text)
        return text
    if argv[:1] == ["--summarize-tuning"]:
        if len(argv) != 3:
            raise SystemExit("usage: compare_pruning.py --summarize-tuning RAW_CSV OUT_CSV")
        return write_tuning_csv(argv[1], argv[2])
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    csv_path = os.path.join(args.out, args.csv_name)
    log_path = os.path.join(args.out, "log.txt")

    def log(message):
        print(message, flush=True)
        with open(log_path, "a") as f:
            f.write(message + "\n")

    log(f"$ python scripts/compare_pruning.py {' '.join(argv)}")
    setting = Setting(args)
    log(f"{args.dataset}/{args.model} {args.epochs} epochs: {len(setting.train[1])} train, {len(setting.eval[1])} "
        f"{setting.split}, {setting.total_steps} steps")
    common = dict(dataset=args.dataset, model=model_name(args), epochs=args.epochs, eval_split=setting.split,
                  config=config_string(args))
    if args.reuse_from:
        reused = reused_rows(args, args.reuse_from)
        write_rows(csv_path, reused)
        log(f"reused {len(reused)} rows of {' '.join(args.reuse_methods)} from {args.reuse_from}")
    for seed in args.seeds:
        for name in ("sgd", "sfw"):
            if any(m == name or m.startswith(name + "+") for m in args.methods):
                model, wall = train_dense(setting, name, seed, log)
                rows = one_shot_rows(setting, name, model, seed, wall, args.methods, log)
                write_rows(csv_path, [dict(common, **r) for r in rows])
        rows = gmp_rows(setting, seed, args.methods, log)
        write_rows(csv_path, [dict(common, **r) for r in rows])
    if args.validation:
        log("tuning mode: no plot (rows of different configurations would be pooled); see --summarize-tuning")
    else:
        paths = plot(read_rows(csv_path), args.out)
        log("plots: " + ", ".join(paths))
    return csv_path


if __name__ == "__main__":
    main()
