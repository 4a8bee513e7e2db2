"""Sparsity, size and latency metrics of (pruned) models.

- Sparsity: fraction of exact zeros, globally over the counted weights (see
  :func:`tf_sfw.pruning.masks.prunable_weights`) and per counted tensor.
- Non-zero parameters: exact non-zero entries over the counted weights and over all
  weights of the model.
- Compressed size: bytes of ``gzip`` (level 9, fixed header) of all the model's weights
  serialised in order with ``numpy.save`` -- a proxy for the storage a sparse model
  saves, since runs of zeros compress well.
- Latency: per-example inference time of ``model(x, training=False)`` compiled with
  ``tf.function`` on a fixed batch, median over repeats. Unstructured sparsity does not
  speed up dense kernels, so expect a ratio near 1 against the dense model.
"""

import gzip
import io
import time

import numpy as np
import tensorflow as tf

from tf_sfw import validation
from tf_sfw.pruning.masks import is_pruned, prunable_weights, strip

__all__ = [
    "sparsity_report",
    "compressed_size",
    "inference_latency",
    "relative_latency",
    "pruning_metrics",
]


def _plain(model):
    return strip(model) if is_pruned(model) else model


def sparsity_report(model, include_bias=False, include_batchnorm=False, layers=None):
    """Global and per-tensor sparsity of the counted weights, and non-zero counts.

    Args:
        model: A ``keras.Model`` (wrapped models are measured on their weights).
        include_bias: Also count biases.
        include_batchnorm: Also count BatchNorm gamma/beta.
        layers: Optional list of layer names to restrict to.

    Returns:
        Dict with ``global_sparsity`` (zeros / counted), ``counted``,
        ``nonzero`` (counted non-zeros), ``total_params`` and ``total_nonzero`` (all
        weights of the plain model, trainable or not), and ``per_layer``:
        ``{key: {"size", "nonzero", "sparsity"}}``.
    """
    weights = prunable_weights(model, include_bias=include_bias, include_batchnorm=include_batchnorm, layers=layers)
    per_layer, counted, nonzero = {}, 0, 0
    for key, variable in weights.items():
        value = variable.numpy()
        nz = int(np.count_nonzero(value))
        per_layer[key] = {"size": int(value.size), "nonzero": nz, "sparsity": 1.0 - nz / value.size}
        counted += int(value.size)
        nonzero += nz
    all_weights = _plain(model).get_weights()
    return {
        "global_sparsity": 1.0 - nonzero / counted,
        "counted": counted,
        "nonzero": nonzero,
        "total_params": int(sum(w.size for w in all_weights)),
        "total_nonzero": int(sum(int(np.count_nonzero(w)) for w in all_weights)),
        "per_layer": per_layer,
    }


def compressed_size(model):
    """Size in bytes of the gzip-compressed weights of ``model``.

    All weights (``model.get_weights()`` of the plain model, in order) are written with
    ``numpy.save`` into one buffer, which is compressed with ``gzip`` level 9 and
    ``mtime=0`` (so the result is deterministic).
    """
    buffer = io.BytesIO()
    for w in _plain(model).get_weights():
        np.save(buffer, w, allow_pickle=False)
    return len(gzip.compress(buffer.getvalue(), compresslevel=9, mtime=0))


def _timed_fn(model, x, warmup):
    fn = tf.function(lambda inputs: model(inputs, training=False))
    for _ in range(max(1, int(warmup))):
        fn(x).numpy()

    def timed():
        start = time.perf_counter()
        fn(x).numpy()
        return time.perf_counter() - start

    return timed


def _check_latency_args(x, repeats, warmup):
    repeats = validation.check_positive_int(repeats, "repeats")
    validation.check_int(warmup, "warmup", minimum=0)
    x = tf.convert_to_tensor(x)
    if x.shape.rank is None or x.shape.rank < 1 or x.shape[0] == 0:
        raise ValueError(f"`x` must be a non-empty batch. Received: x with shape {x.shape}")
    return x, repeats


def inference_latency(model, x, repeats=20, warmup=3):
    """Median per-example inference time (seconds) of ``model`` on the fixed batch ``x``.

    Args:
        model: A ``keras.Model``.
        x: One input batch (array or tensor); its first dimension is the batch size.
        repeats: Timed calls; the median is taken.
        warmup: Untimed calls first (tracing, caches; at least one).

    Returns:
        ``median(call time) / batch size``.
    """
    x, repeats = _check_latency_args(x, repeats, warmup)
    timed = _timed_fn(model, x, warmup)
    return float(np.median([timed() for _ in range(repeats)])) / int(x.shape[0])


def relative_latency(model, dense_model, x, repeats=20, warmup=3, block=10):
    """Per-example latency of ``model`` divided by that of ``dense_model`` (same batch).

    The two models are timed in alternating blocks -- one untimed call, then ``block`` timed
    calls of the dense model, the same for ``model``, and again -- until each has ``repeats``
    timed calls; medians are compared. Alternating blocks let load changes on a shared machine
    affect both alike, while every timed call finds the caches as a model served on its own
    does. Timing the two call by call in turn (no settling call, blocks of one) starts every call
    of the smaller model with the caches full of the larger one's data and overstates its time:
    on 2 CPU cores mnist_cnn with half its filters measured 2.2 ms per batch of 128 that way,
    1.6 ms in blocks, against 3.4 ms for the dense model either way.

    Args:
        model, dense_model: The two models (inference mode).
        x: One input batch; its first dimension is the batch size.
        repeats: Timed calls of each model.
        warmup: Untimed calls of each model first (tracing; at least one).
        block: Timed calls of one model in a row.

    Returns:
        ``(ratio, latency_model, latency_dense)`` in seconds per example.
    """
    x, repeats = _check_latency_args(x, repeats, warmup)
    block = validation.check_positive_int(block, "block")
    timed_dense, timed_model = _timed_fn(dense_model, x, warmup), _timed_fn(model, x, warmup)
    dense_times, model_times = [], []
    while len(model_times) < repeats:
        count = min(block, repeats - len(model_times))
        for timed, times in ((timed_dense, dense_times), (timed_model, model_times)):
            timed()  # settles the caches after the other model ran
            times.extend(timed() for _ in range(count))
    n = int(x.shape[0])
    dense, pruned = float(np.median(dense_times)) / n, float(np.median(model_times)) / n
    return pruned / dense, pruned, dense


def pruning_metrics(model, dense_model=None, latency_batch=None, include_bias=False, include_batchnorm=False, repeats=20):
    """All metrics of a pruned model in one JSON-serialisable dict.

    Args:
        model: The (pruned) model.
        dense_model: The unpruned model, for size and latency ratios (optional).
        latency_batch: Input batch for latency (optional; latency skipped without it).
        include_bias: Also count biases in the sparsity figures.
        include_batchnorm: Also count BatchNorm gamma/beta.
        repeats: Timed repeats for latency.

    Returns:
        Dict: the :func:`sparsity_report` keys, ``compressed_bytes`` and, with a
        ``dense_model``, ``dense_compressed_bytes`` and ``compression_ratio``
        (dense / pruned); with a ``latency_batch`` also ``latency_per_example_s`` and,
        with a ``dense_model``, ``dense_latency_per_example_s`` and
        ``relative_latency`` (pruned / dense).
    """
    out = sparsity_report(model, include_bias=include_bias, include_batchnorm=include_batchnorm)
    out["compressed_bytes"] = compressed_size(model)
    if dense_model is not None:
        out["dense_compressed_bytes"] = compressed_size(dense_model)
        out["compression_ratio"] = out["dense_compressed_bytes"] / out["compressed_bytes"]
    if latency_batch is not None:
        plain = _plain(model)
        if dense_model is not None:
            ratio, pruned, dense = relative_latency(plain, _plain(dense_model), latency_batch, repeats=repeats)
            out.update(latency_per_example_s=pruned, dense_latency_per_example_s=dense, relative_latency=ratio)
        else:
            out["latency_per_example_s"] = inference_latency(plain, latency_batch, repeats=repeats)
    return out
