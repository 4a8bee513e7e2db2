"""Session 11 diagnostic (test set; nothing chosen from it): SGD and SFW (the recipe's defaults) trained on the
LAST 50 000 Fashion-MNIST training images (indices 10 000-59 999) for 6 epochs, as compare_pruning.py trains its
sgd / sfw rows (same model, data pipeline, batch 128, SGD lr 0.05 momentum 0.9 on the recipe's schedule shape),
evaluated on the test set. Compared with the first 50 000 (diag8) and all 60 000 (final8 + seeds11).

Usage: python results/compare_pruning/diag11/last50k.py {last,first} SEED [SEED ...]   (one line per run;
"first" trains on the first 50 000 instead: a check that this script reproduces diag8's compare_pruning rows)
"""
import sys

import numpy as np

from tf_sfw import data as data_lib
from tf_sfw._keras import keras
from tf_sfw.models import build_model
from tf_sfw.pruning import evaluate_classifier
from tf_sfw.recipe import lr_schedule, sfw_recipe
from tf_sfw.recipe_math import DEFAULTS

EPOCHS, BATCH = 6, 128


def main(part, seeds):
    (x, y), (xt, yt) = data_lib.load_arrays("fashion_mnist", data_dir="../shared/data/keras")
    rows = slice(10000, None) if part == "last" else slice(0, 50000)
    x, y = x[rows], y[rows]
    if x.ndim == 3:
        x, xt = x[..., None], xt[..., None]
    steps = data_lib.steps_per_epoch(len(y), BATCH)
    test = data_lib.make_eval_dataset(xt, yt, batch_size=500)
    for seed in seeds:
        for name in ("sgd", "sfw"):
            keras.utils.set_random_seed(seed)
            model = build_model("simple_cnn", input_shape=x.shape[1:], num_classes=10)
            if name == "sgd":
                schedule = lr_schedule(0.05, EPOCHS * steps, DEFAULTS["schedule"], DEFAULTS["milestones"],
                                       DEFAULTS["factor"], DEFAULTS["warmup"])
                optimizer = keras.optimizers.SGD(learning_rate=schedule, momentum=0.9)
            else:
                optimizer, _, _ = sfw_recipe(model, EPOCHS, steps)
            model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
            history = model.fit(data_lib.make_train_dataset(x, y, batch_size=BATCH, seed=seed, epochs=EPOCHS),
                                epochs=EPOCHS, steps_per_epoch=steps, verbose=0)
            loss, acc = evaluate_classifier(model, test)
            print(f"{name} seed {seed}: {part} 50 000 images, {EPOCHS * steps} steps, final train loss "
                  f"{history.history['loss'][-1]:.4f}, test accuracy {100 * acc:.2f}%", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], [int(s) for s in sys.argv[2:]])
