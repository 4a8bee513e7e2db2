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
from tf_sfw._keras import keras  # noqa: E402

WINDOW = 94


class LossTrace(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.losses.append(float(logs["loss"]))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--sgd", action="store_true")
    args = p.parse_args()
    x, y, steps = training_images()
    total = EPOCHS * steps
    marks = {"warm-up end": int(0.02 * total), "K 30%": total // 6, "K 10%": total // 3,
             "lr /10": int(0.75 * total), "lr /100": int(0.9 * total)}
    print(f"steps per epoch {steps}; boundaries {marks}")
    for seed in args.seeds:
        model, _ = compiled_model(seed, x.shape[1:], steps, args.sgd)
        trace = LossTrace()
        model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                  epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[trace])
        # logs['loss'] is the running mean within the epoch: recover per-batch losses
        run = np.array(trace.losses).reshape(EPOCHS, steps)
        counts = np.arange(1, steps + 1)
        sums = run * counts
        per_batch = np.concatenate([np.diff(np.concatenate([[0.0], s])) for s in sums])
        windows = per_batch[: len(per_batch) // WINDOW * WINDOW].reshape(-1, WINDOW).mean(axis=1)
        name = "SGD" if args.sgd else "SFW"
        print(f"seed {seed} {name}: window means (every {WINDOW} steps)")
        print("  " + " ".join(f"{w:.3f}" for w in windows), flush=True)


if __name__ == "__main__":
    main()
