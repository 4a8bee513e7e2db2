"""Session 12 diagnostic on TRAINING data only (nothing chosen from it): what the first steps do to the kernels.

For the run of `dead_units.py` (simple_cnn, all 60 000 Fashion-MNIST training images, the test protocol's sfw or
sgd training), at every one of the first 60 steps and per kernel: the relative change ‖θ_{t+1} − θ_t‖ / ‖θ_t‖ and
the norm ratio ‖θ_t‖ / ‖θ_0‖; at steps 0, 20, 40, 60 the mean |cosine| between the weight vectors of the layer's
units (output channels), a measure of how alike the units have become.

Usage: python results/compare_pruning/diag12/early_steps.py SEED [--sgd]
"""
import argparse

import numpy as np

from dead_units import BATCH, EPOCHS, compiled_model, training_images  # this folder: the same training runs
from tf_sfw import data as data_lib
from tf_sfw._keras import keras

STEPS = 60
KERNELS = ("conv1", "conv2", "fc1", "fc2")


def mean_abs_cosine(kernel):
    units = kernel.reshape(-1, kernel.shape[-1]).T
    units = units / np.maximum(np.linalg.norm(units, axis=1, keepdims=True), 1e-12)
    cos = np.abs(units @ units.T)
    n = len(units)
    return float((cos.sum() - n) / (n * (n - 1)))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seed", type=int)
    p.add_argument("--sgd", action="store_true")
    args = p.parse_args()
    x, y, steps = training_images()
    model, _ = compiled_model(args.seed, x.shape[1:], steps, args.sgd)
    kernels = [model.get_layer(name).kernel for name in KERNELS]
    start = [k.numpy() for k in kernels]
    history = {name: [] for name in KERNELS}

    class Record(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self.before = [k.numpy() for k in kernels]

        def on_train_batch_end(self, batch, logs=None):
            for name, kernel, before, first in zip(KERNELS, kernels, self.before, start):
                after = kernel.numpy()
                history[name].append((np.linalg.norm(after - before) / np.linalg.norm(before),
                                      np.linalg.norm(after) / np.linalg.norm(first), mean_abs_cosine(after)))

    dataset = data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=args.seed, epochs=EPOCHS).take(STEPS)
    model.fit(dataset, epochs=1, steps_per_epoch=STEPS, verbose=0, callbacks=[Record()])
    print(f"seed {args.seed}, {'SGD baseline' if args.sgd else 'SFW (recipe defaults)'}, first {STEPS} steps")
    print("kernel | max relative step (step) | mean relative step, steps 0-19 / 20-39 / 40-59 | norm / initial at "
          "20 / 40 / 60 | mean |cos| between units at 0 / 20 / 40 / 60")
    for name, first in zip(KERNELS, start):
        h = np.array(history[name])
        rel, ratio, cos = h[:, 0], h[:, 1], h[:, 2]
        print(f"{name} | {rel.max():.3f} ({rel.argmax()}) | " + " / ".join(f"{rel[i:i + 20].mean():.3f}" for i in (0, 20, 40))
              + " | " + " / ".join(f"{ratio[i]:.2f}" for i in (19, 39, 59))
              + f" | {mean_abs_cosine(first):.2f} / " + " / ".join(f"{cos[i]:.2f}" for i in (19, 39, 59)))


if __name__ == "__main__":
    main()
