"""How the timing protocol changes the measured latency ratio of a shrunken mnist_cnn (session 11).

For three 50 %-filter architectures of mnist_cnn (the hand-halved (16, 32), (8, 40) and (15, 33)
filters), the dense and the smaller model are timed in alternating blocks of B consecutive calls
(200 calls each, tf.function, inference mode, batch 128, medians; every call timed). B = 1 is the
protocol `tf_sfw.pruning.metrics.relative_latency` used until session 10. Then the library's
protocol since session 11 (`relative_latency`: blocks of 10 timed calls after one untimed call,
200 timed calls each), three times.

Usage: python results/structured/latency_protocol/protocol.py  (idle machine; prints ms and ratios)
"""
import time

import numpy as np
import tensorflow as tf

from tf_sfw.models import mnist_cnn
from tf_sfw.pruning.metrics import relative_latency
from tf_sfw.pruning.shrink import shrink_model


def compiled(model, x):
    fn = tf.function(lambda t: model(t, training=False))
    for _ in range(5):
        fn(x).numpy()
    return fn


def main():
    dense = mnist_cnn()
    x = tf.constant(np.random.default_rng(0).standard_normal((128, 28, 28, 1)).astype("float32"))
    dense_fn = compiled(dense, x)
    for widths in [(16, 32), (8, 40), (15, 33)]:
        small = shrink_model(dense, {"conv2d": np.arange(widths[0]), "conv2d_1": np.arange(widths[1])})
        small_fn = compiled(small, x)
        cells = []
        for block in (1, 2, 5, 10, 25):
            times = {"dense": [], "small": []}
            for _ in range(200 // block):
                for key, fn in (("dense", dense_fn), ("small", small_fn)):
                    for _ in range(block):
                        start = time.perf_counter()
                        fn(x).numpy()
                        times[key].append(time.perf_counter() - start)
            d, s = np.median(times["dense"]), np.median(times["small"])
            cells.append(f"B={block}: {s / d:.3f} ({1e3 * d:.2f} / {1e3 * s:.2f} ms)")
        library = [relative_latency(small, dense, x, repeats=200)[0] for _ in range(3)]
        print(f"filters {widths}: " + "; ".join(cells) + " | relative_latency: " + " ".join(f"{r:.3f}" for r in library),
              flush=True)


if __name__ == "__main__":
    main()
