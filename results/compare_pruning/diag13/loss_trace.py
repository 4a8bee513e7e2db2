"""Session 13 diagnostic on TRAINING data only (nothing is chosen from it): the training loss of simple_cnn's SFW
run (recipe defaults) in windows of 94 steps (1/5 epoch), trained exactly as dead_units.py (compare_pruning.py's
`sfw` rows on the test protocol: all 60 000 Fashion-MNIST training images, 6 epochs, batch 128), with the recipe's
phase boundaries marked, to see when a poor seed falls behind: at once, at a K-annealing boundary, or slowly.

Usage: python results/compare_pruning/diag13/loss_trace.py SEED [SEED ...] [--sgd]
"""
import argparse
import pathlib
import sys

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "diag12"))
from dead_units import BATCH, EPOCHS, compiled_model, training_images  # noqa: E402

from tf_sfw import data as data_lib  # noqa: E402
from tf_sfw import recipe_math  # noqa: E402
from tf_sfw._keras import keras  # noqa: E402
from tf_sfw.k_annealing import k_annealing_for_run  # noqa: E402

WINDOW = 94


class LossTrace(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def per_batch_losses(running, steps):
    """Per-batch losses from Keras' ``logs['loss']``, the running mean within each epoch of ``steps`` batches."""
    run = np.array(running).reshape(EPOCHS, steps)
    sums = run * np.arange(1, steps + 1)
    return np.concatenate([np.diff(np.concatenate([[0.0], s])) for s in sums])


def recipe_boundaries(total):
    """The steps at which the recipe's defaults change in a run of ``total`` steps: the end of the warm-up, each
    K-annealing boundary where K changes (named by the K fraction that starts there), each lr milestone."""
    defaults = recipe_math.DEFAULTS
    annealing = k_annealing_for_run(defaults["k_annealing"], total, defaults["k_annealing_until"])
    marks = {"warm-up end": recipe_math.warmup_steps(total, defaults["warmup"])}
    fractions = list(annealing.k_fracs) + [defaults["k_frac"]]  # the fraction before / after each boundary
    for boundary, before, after in zip(annealing.boundaries, fractions, fractions[1:]):
        if after != before:
            marks[f"K {100 * after:g}%"] = boundary
    for i, step in enumerate(recipe_math.milestone_steps(total, defaults["milestones"])):
        marks[f"lr /{round(1 / defaults['factor'] ** (i + 1)):g}"] = step
    return marks


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--sgd", action="store_true")
    args = p.parse_args()
    x, y, steps = training_images()
    total = EPOCHS * steps
    marks = recipe_boundaries(total)
    print(f"steps per epoch {steps}; boundaries {marks}")
    for seed in args.seeds:
        model, _ = compiled_model(seed, x.shape[1:], steps, args.sgd)
        trace = LossTrace()
        model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                  epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[trace])
        per_batch = per_batch_losses(trace.losses, steps)
        windows = per_batch[: len(per_batch) // WINDOW * WINDOW].reshape(-1, WINDOW).mean(axis=1)
        name = "SGD" if args.sgd else "SFW"
        print(f"seed {seed} {name}: window means (every {WINDOW} steps)")
        print("  " + " ".join(f"{w:.3f}" for w in windows), flush=True)


if __name__ == "__main__":
    main()
