#!/usr/bin/env python
"""Frank-Wolfe variants at equal gradient evaluations: SFW, one-shot FW, SVRF, SVFW, SAGA-FW.

Every variant trains the same model from the same initial weights in the same K-sparse
polytopes (the sets of ``tf_sfw.recipe.sfw_recipe``) until it has used a budget of
``--budget-epochs`` × n example gradients, counted as: a minibatch step b (SFW, one-shot FW,
SAGA-FW), a corrected step 2b (SVRF, SVFW), a snapshot's full gradient its sample size
(``--snapshot-size``), SAGA-FW's table fill S·b. At log points (every ``--log-every`` steps)
it records the training loss on a fixed training subset and the test accuracy, against
example gradients and training wall time (evaluation excluded). The final model is
one-shot magnitude-pruned (``tf_sfw.pruning.sweep``, global, kernels) at every sparsity.

* ``sfw``: ``sfw_recipe``'s optimizer (momentum, gradient rescale, recipe lr schedule);
* ``one_shot``: ``tf_sfw.optimizers.one_shot_fw`` (ρ_t = 2/(t+3)^{2/3}, η_t = 2/(t+3));
* ``one_shot_rescaled``: one-shot FW's averaging μ_t = 1 − ρ_t with the recipe's step rule
  (gradient rescale, recipe lr schedule) instead of η_t;
* ``svrf``: ``VarianceReducedModel`` + ``svrf_optimizer`` (γ_k = 2/(k+1) restarted at each snapshot);
* ``svfw``: ``VarianceReducedModel`` + the recipe's step rule without momentum (initial lr
  ``--vr-lr``);
* ``saga``: ``SagaFWModel`` (one slot per minibatch) + the recipe's step rule without momentum
  (initial lr ``--vr-lr``).

Output under ``--out``: ``curves.csv`` (log points), ``results.csv`` (final and pruned
accuracies), ``curves_<dataset>.png`` and ``pruning_<dataset>.png``.
"""

import argparse
import csv
import json
import os
import sys
import time

VARIANTS = ("sfw", "one_shot", "one_shot_rescaled", "svrf", "svfw", "saga")
CURVE_FIELDS = ("dataset", "model", "variant", "seed", "step", "gradient_evaluations", "epochs_equivalent",
                "wall_s", "train_loss", "test_accuracy")
RESULT_FIELDS = ("dataset", "model", "variant", "seed", "sparsity", "achieved_sparsity", "test_accuracy", "test_loss",
                 "steps", "gradient_evaluations", "wall_s", "config")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", choices=("mnist", "fashion_mnist"), default="mnist")
    p.add_argument("--model", default="mnist_cnn")
    p.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--budget-epochs", type=float, default=2.0, help="Example gradients / n.")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--snapshot-size", type=int, default=10000, help="SVRF/SVFW full-gradient sample (0: all).")
    p.add_argument("--snapshot-every", type=int, default=200, help="SVRF/SVFW steps between snapshots.")
    p.add_argument("--log-every", type=int, default=100, help="Steps between log points.")
    p.add_argument("--eval-size", type=int, default=5000, help="Training / test examples at log points.")
    p.add_argument("--sparsities", type=float, nargs="+", default=[0, 50, 70, 80, 90, 95, 98])
    p.add_argument("--subset", type=int, default=None, help="Use only this many training (and test) examples.")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--out", default="results/fw_variants")
    p.add_argument("--vr-lr", type=float, default=1.0,
                   help="Initial lr of the recipe's schedule for svfw / saga (the recipe's is 1.0).")
    p.add_argument("--tag", default="", help="Suffix of the variant names in the CSVs (e.g. _lr0.1).")
    p.add_argument("--no-plots", action="store_true")
    return p.parse_args(argv)


def load_split(args):
    import numpy as np

    from tf_sfw import data

    (x, y), (xt, yt) = data.load_arrays(args.dataset, args.data_dir, download=False)
    if args.subset:
        x, y, xt, yt = x[: args.subset], y[: args.subset], xt[: args.subset], yt[: args.subset]
    scale = lambda a: (a.astype(np.float32) / 255.0)  # noqa: E731
    return scale(x), y.astype(np.int32), scale(xt), yt.astype(np.int32)


class _Logger:
    """Callback: log points (loss on a training subset, test accuracy) and the budget stop."""

    def __init__(self, keras, wrapper, counter, budget, every, evals, row):
        self.keras, self.wrapper, self.counter, self.budget, self.every, self.evals, self.row = (
            keras, wrapper, counter, budget, every, evals, row)
        self.rows, self.train_s, self.step = [], 0.0, 0
        self._t = None

    def callback(self):
        logger = self

        class _CB(self.keras.callbacks.Callback):
            def on_train_begin(self, logs=None):  # before the wrappers' first snapshot / table fill
                logger._t = time.perf_counter()

            def on_train_batch_begin(self, batch, logs=None):  # before the wrappers' snapshots
                if logger.step > 0:
                    logger._t = time.perf_counter()

            def on_train_batch_end(self, batch, logs=None):
                logger.train_s += time.perf_counter() - logger._t
                logger.step += 1
                done = logger.counter() >= logger.budget
                if done or logger.step % logger.every == 0:
                    logger.log()
                if done:
                    self.model.stop_training = True

        return _CB()

    def log(self):
        from tf_sfw.pruning.sweep import evaluate_classifier

        (xs, ys), (xt, yt) = self.evals
        model = self.wrapper if not hasattr(self.wrapper, "model") or self.wrapper.model is None else self.wrapper.model
        loss, _ = evaluate_classifier(model, (xs, ys), batch_size=1000)
        _, acc = evaluate_classifier(model, (xt, yt), batch_size=1000)
        self.rows.append({**self.row, "step": self.step, "gradient_evaluations": int(self.counter()),
                          "wall_s": round(self.train_s, 2), "train_loss": loss, "test_accuracy": acc})


def run_variant(args, variant, seed, split):
    """Trains one variant to the budget; returns (curve rows, result rows)."""
    import numpy as np

    from tf_sfw import models, optimizers, pruning, recipe, saga_fw, schedules, variance_reduction
    from tf_sfw._keras import keras

    x, y, xt, yt = split
    n, b = len(x), args.batch_size
    budget = int(args.budget_epochs * n)
    keras.utils.set_random_seed(seed)
    model = models.build_model(args.model, x.shape[1:], 10)
    snap = args.snapshot_size or n
    steps = {  # the steps each variant can take within the budget (for the lr schedules)
        "sfw": budget // b, "one_shot": budget // b, "one_shot_rescaled": budget // b, "saga": max(1, (budget - (n // b) * b) // b),
        "svrf": max(1, int(budget / (snap + 2 * b * args.snapshot_every) * args.snapshot_every)),
    }
    steps["svfw"] = steps["svrf"]
    lr = args.vr_lr if variant in ("svfw", "saga") else 1.0
    sfw_opt, constraints, _ = recipe.sfw_recipe(model, epochs=1, steps_per_epoch=max(1, steps[variant]),
                                                learning_rate=lr)
    if variant == "sfw":
        opt = sfw_opt
    elif variant == "one_shot":
        opt = optimizers.one_shot_fw(constraints)
    elif variant == "one_shot_rescaled":
        config = dict(sfw_opt.get_config(), momentum=keras.optimizers.schedules.serialize(schedules.AveragingMomentum()))
        opt = type(sfw_opt).from_config(config)
    elif variant == "svrf":
        opt = variance_reduction.svrf_optimizer(constraints, period=args.snapshot_every)
    else:
        opt = type(sfw_opt).from_config(dict(sfw_opt.get_config(), momentum=0.0))
    rng = np.random.default_rng(seed)
    sub = rng.choice(n, min(args.eval_size, n), replace=False)
    evals = ((x[sub], y[sub]), (xt[: args.eval_size], yt[: args.eval_size]))
    loss = "sparse_categorical_crossentropy"
    if variant in ("svrf", "svfw"):
        trainer = variance_reduction.VarianceReducedModel(
            model, (x, y), snapshot_every=args.snapshot_every, snapshot_size=None if snap >= n else snap, seed=seed)
        counter = lambda: int(trainer.gradient_evaluations.numpy())  # noqa: E731
        fit_data = dict(x=x, y=y, batch_size=b, shuffle=True)
    elif variant == "saga":
        trainer = saga_fw.SagaFWModel(model, n, batch_size=b, seed=seed)
        counter = lambda: int(trainer.gradient_evaluations.numpy())  # noqa: E731
        fit_data = dict(x=trainer.dataset(x, y).repeat())
        fit_data["steps_per_epoch"] = n // b
    else:
        trainer = model
        counter = None
        fit_data = dict(x=x, y=y, batch_size=b, shuffle=True)
    trainer.compile(opt, loss, jit_compile=False)
    row = {"dataset": args.dataset, "model": args.model, "variant": variant + args.tag, "seed": seed}
    if counter is None:
        counter = lambda: trainer.optimizer.iterations.numpy() * b  # noqa: E731
    logger = _Logger(keras, trainer, counter, budget, args.log_every, evals, row)
    epochs = int(np.ceil(budget / n)) * 4 + 4  # more than enough: the logger stops at the budget
    start = time.perf_counter()
    trainer.fit(**fit_data, epochs=epochs, verbose=0, callbacks=[logger.callback()])
    total_s = time.perf_counter() - start
    if not logger.rows or logger.rows[-1]["step"] != logger.step:
        logger.log()
    sweep = pruning.sweep(model, (xt, yt), sparsities=[s / 100.0 for s in args.sparsities])
    config = json.dumps({"optimizer": type(opt).__name__, "budget": budget, "batch_size": b,
                         "snapshot_size": snap, "snapshot_every": args.snapshot_every,
                         "fit_wall_s_incl_snapshots_and_logging": round(total_s, 1),
                         "lr": opt.get_config()["learning_rate"], "momentum": opt.get_config()["momentum"],
                         "sets": constraints.get_config(),
                         "rescale": opt.rescale})
    results = [{**row, "sparsity": r["sparsity"], "achieved_sparsity": r["achieved_sparsity"],
                "test_accuracy": r["accuracy"], "test_loss": r["loss"], "steps": logger.step,
                "gradient_evaluations": int(counter()), "wall_s": round(logger.train_s, 2), "config": config}
               for r in sweep]
    return logger.rows, results


def _append(path, fields, rows):
    new = not os.path.exists(path)
    with open(path, "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        if new:
            w.writeheader()
        w.writerows(rows)


def plot(out, dataset):
    """curves_<dataset>.png (loss / accuracy vs gradient evaluations and wall time) and pruning_<dataset>.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with open(os.path.join(out, "curves.csv"), newline="") as f:
        curves = [r for r in csv.DictReader(f) if r["dataset"] == dataset]
    with open(os.path.join(out, "results.csv"), newline="") as f:
        results = [r for r in csv.DictReader(f) if r["dataset"] == dataset]
    variants = list(dict.fromkeys(r["variant"] for r in curves))
    colors = {v: plt.get_cmap("tab10")(i % 10) for i, v in enumerate(variants)}
    seeds = sorted({r["seed"] for r in curves})
    styles = {s: ("-", "--", ":", "-.")[i % 4] for i, s in enumerate(seeds)}
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    for variant in variants:
        for seed in sorted({r["seed"] for r in curves if r["variant"] == variant}):
            rows = [r for r in curves if r["variant"] == variant and r["seed"] == seed]
            style = dict(marker=".", color=colors[variant], linestyle=styles[seed], label=f"{variant} (seed {seed})")
            for i, xkey in enumerate(("epochs_equivalent", "wall_s")):
                xs = [float(r[xkey]) for r in rows]
                axes[0, i].plot(xs, [float(r["train_loss"]) for r in rows], **style)
                axes[1, i].plot(xs, [float(r["test_accuracy"]) for r in rows], **style)
    for i, xlabel in enumerate(("example gradients / n", "training wall time (s)")):
        axes[0, i].set(xlabel=xlabel, ylabel="training loss", yscale="log")
        axes[1, i].set(xlabel=xlabel, ylabel="test accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle(f"{dataset}: Frank-Wolfe variants at equal gradient evaluations")
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"curves_{dataset}.png"), dpi=90)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(8, 5))
    for variant in variants:
        for seed in sorted({r["seed"] for r in results if r["variant"] == variant}):
            rows = [r for r in results if r["variant"] == variant and r["seed"] == seed]
            ax.plot([100 * float(r["sparsity"]) for r in rows], [float(r["test_accuracy"]) for r in rows], marker="o",
                    color=colors[variant], linestyle=styles.get(seed, "-"), label=f"{variant} (seed {seed})")
    ax.set(xlabel="sparsity (%), one-shot global magnitude, no retraining", ylabel="test accuracy")
    ax.legend(fontsize=6, ncol=2)
    fig.tight_layout()
    fig.savefig(os.path.join(out, f"pruning_{dataset}.png"), dpi=90)
    plt.close(fig)


def main(argv=None):
    args = parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    split = load_split(args)
    n = len(split[0])
    for seed in args.seeds:
        for variant in args.variants:
            t = time.perf_counter()
            curves, results = run_variant(args, variant, seed, split)
            for r in curves:
                r["epochs_equivalent"] = round(r["gradient_evaluations"] / n, 4)
            _append(os.path.join(args.out, "curves.csv"), CURVE_FIELDS, curves)
            _append(os.path.join(args.out, "results.csv"), RESULT_FIELDS, results)
            print(f"{args.dataset} {variant} seed {seed}: acc {results[0]['test_accuracy']:.4f} "
                  f"evals {results[0]['gradient_evaluations']} train {results[0]['wall_s']} s "
                  f"(run {time.perf_counter() - t:.0f} s)", flush=True)
    if not args.no_plots:
        plot(args.out, args.dataset)
    return 0


if __name__ == "__main__":
    sys.exit(main())
