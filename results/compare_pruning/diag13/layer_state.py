"""Session 13 diagnostic on TRAINING data only (nothing is chosen from it): where each constrained kernel of
simple_cnn sits in its set during an SFW run with the recipe's defaults, trained as dead_units.py (compare_pruning.py's
`sfw` rows on the test protocol: all 60 000 Fashion-MNIST training images, 6 epochs, batch 128). At the end of each
K phase and of the run: per kernel ‖θ‖₂ / r (r: the K-support ball's radius) and the share of ‖θ‖₂² held by the
largest 10 % and 5 % of its entries (how much of the kernel a 90 % / 95 % magnitude cut keeps), with the running
training loss of the epoch.

Usage: python results/compare_pruning/diag13/layer_state.py SEED [SEED ...]
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


def top_share(w, frac):
    a = np.sort(np.abs(w).ravel())[::-1] ** 2
    return a[: max(1, int(frac * a.size))].sum() / a.sum()


class State(keras.callbacks.Callback):
    def __init__(self, constraints, checkpoints):
        super().__init__()
        self.constraints, self.checkpoints, self.lines = constraints, checkpoints, []

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step not in self.checkpoints:
            return
        parts = []
        for var in self.model.trainable_variables:
            path = var.name.split(":")[0]
            c = self.constraints.constraints.get(path)
            if c is None or not c.is_constrained:
                continue
            w = var.numpy()
            parts.append(f"{path.split('/')[0]} |θ|/r {np.linalg.norm(w) / c.radius(w.size):.3f} top10% {top_share(w, 0.1):.2f} "
                         f"top5% {top_share(w, 0.05):.2f}")
        self.lines.append(f"  step {step:5d} (loss so far this epoch {logs['loss']:.3f}): " + "; ".join(parts))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    args = p.parse_args()
    x, y, steps = training_images()
    total = EPOCHS * steps
    defaults = recipe_math.DEFAULTS  # the end of each K phase, the first lr milestone, the end of the run
    annealing = k_annealing_for_run(defaults["k_annealing"], total, defaults["k_annealing_until"])
    checkpoints = {*annealing.boundaries, recipe_math.milestone_steps(total, defaults["milestones"])[0], total}
    for seed in args.seeds:
        model, constraints = compiled_model(seed, x.shape[1:], steps)
        cb = State(constraints, checkpoints)
        history = model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                            epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[cb])
        print(f"seed {seed}: final train loss {history.history['loss'][-1]:.4f}")
        print("\n".join(cb.lines), flush=True)


if __name__ == "__main__":
    main()
