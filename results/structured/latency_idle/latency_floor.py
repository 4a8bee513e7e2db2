"""Where the batch-128 latency of mnist_cnn goes (session 10): the dense model, every hidden layer halved,
the global-mode SFW architecture, and models with 1 filter in a convolution, timed alternately
(tf.function, inference mode, median of 200 rounds; the same timing as tf_sfw.pruning.metrics).

Usage: python results/structured/latency_idle/latency_floor.py  (idle machine; prints ms and ratios)
"""
import time

import numpy as np
import tensorflow as tf

from tf_sfw._keras import keras


def build(c1, c2):
    inputs = keras.Input((28, 28, 1))
    h = keras.layers.MaxPooling2D()(keras.layers.Conv2D(c1, 3, activation="relu")(inputs))
    h = keras.layers.MaxPooling2D()(keras.layers.Conv2D(c2, 3, activation="relu")(h))
    return keras.Model(inputs, keras.layers.Dense(10, activation="softmax")(keras.layers.Flatten()(h)))


def main():
    x = tf.constant(np.random.default_rng(0).uniform(size=(128, 28, 28, 1)).astype("float32"))
    widths = [(32, 64), (16, 32), (7, 41), (1, 1), (32, 1), (1, 64)]
    fns = {w: tf.function(lambda t, m=build(*w): m(t, training=False)) for w in widths}
    for f in fns.values():
        for _ in range(5):
            f(x).numpy()
    times = {w: [] for w in widths}
    for _ in range(200):
        for w, f in fns.items():
            start = time.perf_counter()
            f(x).numpy()
            times[w].append(time.perf_counter() - start)
    dense = np.median(times[(32, 64)])
    for w in widths:
        print(f"conv filters {w}: median {1e3 * np.median(times[w]):.3f} ms per batch of 128, ratio {np.median(times[w]) / dense:.3f}")


if __name__ == "__main__":
    main()
