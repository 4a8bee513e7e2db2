"""Issue-2 acceptance check: seed-003 CNN, 2 SFW epochs on MNIST, then 90% global pruning.

Trains `tf_sfw.models.mnist_cnn` with the paper's SFW setting and evaluates it dense and
with the smallest 90% of conv/dense kernel weights zeroed (one global threshold, no
retraining; `tf_sfw.pruning.sweep`, which restores the weights afterwards).

Usage: python scripts/foundation_check.py --data-dir ../shared/data/keras
"""

import argparse
import json
import os
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("TF_SFW_DATA_DIR"), help="folder holding datasets/mnist.npz")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--sparsity", type=float, default=0.9)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import tf_sfw
    from tf_sfw._keras import keras
    from tf_sfw.training import build_optimizer

    (x_train, y_train), (x_test, y_test) = tf_sfw.data.load_arrays("mnist", args.data_dir)
    x_train = x_train.astype("float32") / 255.0
    x_test = x_test.astype("float32") / 255.0

    keras.utils.set_random_seed(args.seed)
    model = tf_sfw.models.mnist_cnn()
    # the paper's SFW: lr 1.0, momentum 0.9, gradient rescaling, K-sparse polytopes (K = max(10, 5%), tau = 15)
    optimizer = build_optimizer(model, {"optimizer": "sfw"})
    model.compile(optimizer, "sparse_categorical_crossentropy", ["accuracy"])
    start = time.time()
    model.fit(x_train, y_train, batch_size=128, epochs=args.epochs, verbose=2)
    seconds = time.time() - start

    dense, pruned = tf_sfw.pruning.sweep(model, (x_test, y_test), sparsities=[0.0, args.sparsity])
    print(json.dumps({"epochs": args.epochs, "train_seconds": round(seconds, 1), "dense_accuracy": dense["accuracy"],
                      "sparsity": args.sparsity, "pruned_accuracy": pruned["accuracy"],
                      "nonzero_kernel_weights": pruned["nonzero"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
