"""Session 14 exploration on TRAINING data only (no test or validation image; nothing is chosen from it): which
recipe setting keeps the poor test-protocol run (seed 5, simple_cnn, all 60 000 Fashion-MNIST training images,
6 epochs, final training loss 0.348 against seed 0's 0.285, diag13/) from falling behind?

Trains exactly as diag12/dead_units.py (compare_pruning's `sfw` rows on the test protocol) with one recipe setting
changed per variant, and prints the mean training loss over steps 188-282 (where seed 5 falls behind) and over the
last epoch.

Usage: python results/compare_pruning/diag14/seed5_loss.py > seed5_loss.csv
"""
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "diag12"))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "diag13"))
from dead_units import BATCH, EPOCHS, compiled_model, training_images  # noqa: E402
from loss_trace import LossTrace, per_batch_losses  # noqa: E402

from tf_sfw import data as data_lib  # noqa: E402

VARIANTS = {
    "defaults": {},
    "warmup 0.05": {"warmup": 0.05},
    "sfw lr 0.7": {"learning_rate": 0.7},
    "k_annealing 0.5 0.3 0.1": {"k_annealing": (0.5, 0.3, 0.1)},
    "unconstrained lr 0.25": {"unconstrained_learning_rate": 0.25},
    "tau 30": {"tau": 30.0},
}
SEEDS = (5, 0)


def main():
    x, y, steps = training_images()
    print("variant,seed,loss_steps_188_282,loss_last_epoch", flush=True)
    for name, settings in VARIANTS.items():
        for seed in SEEDS:
            model, _ = compiled_model(seed, x.shape[1:], steps, settings=settings)
            trace = LossTrace()
            model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                      epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[trace])
            losses = per_batch_losses(trace.losses, steps)
            print(f"{name},{seed},{losses[188:282].mean():.4f},{losses[-steps:].mean():.4f}", flush=True)


if __name__ == "__main__":
    main()
