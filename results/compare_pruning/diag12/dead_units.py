"""Session 12 diagnostic on TRAINING data only (nothing is chosen from it): how many ReLU units of simple_cnn stop
firing during an SFW run with the recipe's defaults, trained as compare_pruning.py trains its `sfw` rows on the
test protocol (all 60 000 Fashion-MNIST training images, 6 epochs, batch 128).

A unit is dead at a step when it is zero on every one of the first 2 048 training images (a filter: at every
position of every image). Printed at steps 0, 20, 40, 80, 160, 400, 800, 1600 and the end, with the final training
loss. Optional `--constrain kernels` gives the previous default for comparison; `--sgd` trains the SGD baseline
instead (lr 0.05, momentum 0.9, the recipe's schedule shape, as compare_pruning.py's `sgd` rows).

Usage: python results/compare_pruning/diag12/dead_units.py SEED [SEED ...] [--constrain kernels | --sgd]
"""
import argparse

import numpy as np

from tf_sfw import data as data_lib
from tf_sfw._keras import keras
from tf_sfw.models import build_model
from tf_sfw.recipe import lr_schedule, sfw_recipe
from tf_sfw.recipe_math import DEFAULTS

EPOCHS, BATCH, PROBE = 6, 128, 2048
LAYERS = ("conv1", "conv2", "fc1", "fc2")
CHECKPOINTS = (0, 20, 40, 80, 160, 400, 800, 1600)


def dead_counts(model, x):
    probe = keras.Model(model.input, [model.get_layer(name).output for name in LAYERS])
    outputs = probe.predict(x, batch_size=512, verbose=0)
    return {name: int(np.sum(np.all(out.reshape(-1, out.shape[-1]) <= 0, axis=0))) for name, out in zip(LAYERS, outputs)}


class Probe(keras.callbacks.Callback):
    def __init__(self, x):
        super().__init__()
        self.x, self.lines = x, []

    def record(self, step):
        counts = dead_counts(self.model, self.x)
        self.lines.append(f"    step {step:5d}: dead " + ", ".join(f"{k} {v}" for k, v in counts.items()))

    def on_train_begin(self, logs=None):
        self.record(0)

    def on_train_batch_end(self, batch, logs=None):
        step = int(self.model.optimizer.iterations.numpy())
        if step in CHECKPOINTS[1:]:
            self.record(step)


def training_images():
    """All 60 000 Fashion-MNIST training images (with a channel axis), labels, and steps per epoch."""
    (x, y), _ = data_lib.load_arrays("fashion_mnist", data_dir="../shared/data/keras")
    x = x[..., None] if x.ndim == 3 else x
    return x, y, data_lib.steps_per_epoch(len(y), BATCH)


def compiled_model(seed, input_shape, steps, sgd=False, settings=None):
    """simple_cnn built with ``seed`` and compiled as compare_pruning.py trains its rows: the SFW recipe
    (``settings`` override its defaults) or, with ``sgd``, the SGD baseline. Returns (model, SFW constraints)."""
    keras.utils.set_random_seed(seed)
    model = build_model("simple_cnn", input_shape=input_shape, num_classes=10)
    optimizer, constraints, _ = sfw_recipe(model, EPOCHS, steps, **(settings or {}))
    if sgd:
        schedule = lr_schedule(0.05, EPOCHS * steps, DEFAULTS["schedule"], DEFAULTS["milestones"], DEFAULTS["factor"],
                               DEFAULTS["warmup"])
        optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    return model, constraints


def main():
    p = argparse.ArgumentParser()
    p.add_argument("seeds", type=int, nargs="+")
    p.add_argument("--constrain", default=None)
    p.add_argument("--sgd", action="store_true")
    args = p.parse_args()
    x, y, steps = training_images()
    probe_x = x[:PROBE].astype("float32") / 255.0
    widths = {"conv1": 6, "conv2": 16, "fc1": 120, "fc2": 84}
    for seed in args.seeds:
        settings = {} if args.constrain is None else {"constrain": args.constrain}
        model, constraints = compiled_model(seed, x.shape[1:], steps, args.sgd, settings)
        callback = Probe(probe_x)
        history = model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                            epochs=EPOCHS, steps_per_epoch=steps, verbose=0, callbacks=[callback])
        callback.record(EPOCHS * steps)
        free = [path for path, c in constraints.constraints.items() if "kernel" in path and not c.is_constrained]
        what = "SGD baseline" if args.sgd else f"SFW, constrain={settings.get('constrain', 'default')}"
        print(f"seed {seed} ({what}; kernels trained by SGD: {'all' if args.sgd else free}; "
              f"widths {widths}): final train loss {history.history['loss'][-1]:.4f}", flush=True)
        print("\n".join(callback.lines), flush=True)


if __name__ == "__main__":
    main()
