"""Issue-2 acceptance check: seed-003 CNN, 2 SFW epochs on MNIST, then 90% global pruning.

Usage: python scripts/foundation_check.py --data-dir ../shared/data/keras
"""

import argparse
import json
import os
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data-dir", default=os.environ.get("TF_SFW_DATA_DIR"), help="folder holding datasets/mnist.npz")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import tf_sfw
    from tf_sfw._keras import keras

    if args.data_dir is None:
        parser.error("--data-dir (or TF_SFW_DATA_DIR) is required: the folder holding datasets/mnist.npz")
    path = os.path.join(args.data_dir, "datasets", "mnist.npz")
    if not os.path.isfile(path):
        parser.error(f"MNIST not found at {path!r}; pass --data-dir pointing at the folder that holds datasets/mnist.npz")
    with np.load(path) as data:
        x_train = data["x_train"][..., None].astype("float32") / 255.0
        x_test = data["x_test"][..., None].astype("float32") / 255.0
        y_train, y_test = data["y_train"], data["y_test"]

    keras.utils.set_random_seed(args.seed)
    model = keras.Sequential(
        [
            keras.layers.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Conv2D(64, 3, activation="relu"),
            keras.layers.MaxPooling2D(2),
            keras.layers.Flatten(),
            keras.layers.Dropout(0.5),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    constraints = tf_sfw.constraints_for_model(model, tf_sfw.KSparsePolytope(k=10, k_frac=0.05, mode="initialization", value=15.0))
    model.compile(tf_sfw.SFW(1.0, 0.9, "gradient", constraints=constraints), "sparse_categorical_crossentropy", ["accuracy"])
    start = time.time()
    model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, verbose=2)
    seconds = time.time() - start
    _, dense_accuracy = model.evaluate(x_test, y_test, verbose=0)

    kernels = [v for v in model.trainable_variables if v.name.endswith("kernel:0")]
    magnitudes = np.concatenate([np.abs(v.numpy()).ravel() for v in kernels])
    n_prune = int(round(args.sparsity * magnitudes.size))
    order = np.argsort(magnitudes, kind="stable")
    keep = np.ones(magnitudes.size, bool)
    keep[order[:n_prune]] = False  # exactly n_prune zeros, ties broken by position
    offset = 0
    for v in kernels:
        size = int(np.prod(v.shape))
        v.assign(np.where(keep[offset : offset + size].reshape(v.shape), v.numpy(), 0.0))
        offset += size
    _, pruned_accuracy = model.evaluate(x_test, y_test, verbose=0)
    print(json.dumps({"epochs": args.epochs, "train_seconds": round(seconds, 1), "dense_accuracy": dense_accuracy,
                      "sparsity": args.sparsity, "pruned_accuracy": pruned_accuracy}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
