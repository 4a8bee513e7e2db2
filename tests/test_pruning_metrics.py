"""Tests for tf_sfw.pruning.metrics."""

import numpy as np
import pytest

from tf_sfw._keras import keras
from tf_sfw.pruning.magnitude import magnitude_masks
from tf_sfw.pruning import metrics as metrics_module
from tf_sfw.pruning.masks import apply_masks, strip
from tf_sfw.pruning.metrics import (
    compressed_size,
    inference_latency,
    pruning_metrics,
    relative_latency,
    sparsity_report,
)


def tiny_model(seed=0):
    keras.utils.set_random_seed(seed)
    inp = keras.Input((6, 6, 1))
    x = keras.layers.Conv2D(4, 3, name="conv")(inp)
    x = keras.layers.Flatten()(x)
    out = keras.layers.Dense(5, name="head")(x)
    return keras.Model(inp, out)


@pytest.mark.parametrize("scope", ["global", "layerwise"])
@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.9])
def test_sparsity_report_counts(scope, sparsity):
    model = tiny_model()
    pruned = strip(apply_masks(model, magnitude_masks(model, sparsity, scope=scope)))
    report = sparsity_report(pruned)
    sizes = {"conv/kernel": 36, "head/kernel": 16 * 4 * 5}
    assert report["counted"] == sum(sizes.values())
    assert report["nonzero"] == report["counted"] - int(np.floor(sparsity * report["counted"] + 0.5)) or scope == "layerwise"
    assert report["global_sparsity"] == pytest.approx(1 - report["nonzero"] / report["counted"])
    assert set(report["per_layer"]) == set(sizes)
    for key, entry in report["per_layer"].items():
        assert entry["size"] == sizes[key]
        if scope == "layerwise":
            assert entry["size"] - entry["nonzero"] == int(np.floor(sparsity * sizes[key] + 0.5))
    # biases (zeros-initialised) are in the totals but not in the counted weights
    assert report["total_params"] == 36 + 4 + 320 + 5
    assert report["total_nonzero"] == report["nonzero"]


def test_sparsity_report_on_wrapped_model_equals_stripped():
    model = tiny_model()
    wrapped = apply_masks(model, magnitude_masks(model, 0.7))
    assert sparsity_report(wrapped) == sparsity_report(strip(wrapped))


def test_compressed_size_shrinks_with_sparsity_and_is_deterministic():
    model = tiny_model()
    sizes = [compressed_size(strip(apply_masks(model, magnitude_masks(model, s)))) for s in (0.0, 0.5, 0.95)]
    assert sizes[0] > sizes[1] > sizes[2]
    assert compressed_size(model) == compressed_size(model)


def test_latency_positive_and_relative_latency_of_same_model_is_one_ish():
    model = tiny_model()
    x = np.random.default_rng(0).random((32, 6, 6, 1), dtype=np.float32)
    assert inference_latency(model, x, repeats=3, warmup=1) > 0
    ratio, a, b = relative_latency(model, model, x, repeats=5)
    assert ratio == pytest.approx(a / b) and a > 0 and b > 0


@pytest.mark.parametrize("repeats, block, calls", [(5, 10, 6), (20, 10, 22), (7, 3, 10), (4, 1, 8)])
def test_relative_latency_times_alternating_blocks(monkeypatch, repeats, block, calls):
    """Each model gets exactly ``repeats`` timed calls, ``block`` in a row after one settling call,
    the blocks alternating dense first; the ratio is the ratio of the medians."""
    log = []

    def fake_timed_fn(model, x, warmup):
        clock = {"dense": iter(range(1000, 2000)), "model": iter(range(10, 1000))}[model]
        return lambda: log.append(model) or next(clock)

    monkeypatch.setattr(metrics_module, "_timed_fn", fake_timed_fn)
    ratio, latency, dense = relative_latency("model", "dense", np.zeros((2, 1), np.float32), repeats=repeats, block=block)
    assert log.count("dense") == log.count("model") == calls  # timed calls plus one settling call per block
    expected_blocks = ["dense", "model"] * -(-repeats // block)
    assert [name for i, name in enumerate(log) if i == 0 or log[i - 1] != name] == expected_blocks
    # the settling calls are dropped: the fakes return 1000, 1001, ... (dense) and 10, 11, ... (model)
    settled = [i for i in range(calls) if i not in _settling_indices(repeats, block)]
    assert dense == pytest.approx(np.median([1000 + i for i in settled]) / 2)
    assert latency == pytest.approx(np.median([10 + i for i in settled]) / 2) and ratio == pytest.approx(latency / dense)


def _settling_indices(repeats, block):
    indices, call, left = [], 0, repeats
    while left > 0:
        indices.append(call)
        count = min(block, left)
        call, left = call + 1 + count, left - count
    return indices


@pytest.mark.parametrize("kwargs,match", [({"repeats": 0}, "repeats"), ({"warmup": -1}, "warmup")])
def test_latency_validates(kwargs, match):
    with pytest.raises(ValueError, match=match):
        inference_latency(tiny_model(), np.zeros((2, 6, 6, 1), np.float32), **kwargs)


def test_relative_latency_block_is_validated():
    with pytest.raises(ValueError, match="block"):
        relative_latency(tiny_model(), tiny_model(), np.zeros((2, 6, 6, 1), np.float32), block=0)


def test_latency_empty_batch_raises():
    with pytest.raises(ValueError, match="non-empty"):
        inference_latency(tiny_model(), np.zeros((0, 6, 6, 1), np.float32))


def test_pruning_metrics_keys():
    model = tiny_model()
    pruned = apply_masks(model, magnitude_masks(model, 0.8))
    out = pruning_metrics(pruned, dense_model=model, latency_batch=np.zeros((8, 6, 6, 1), np.float32), repeats=2)
    for key in ("global_sparsity", "compressed_bytes", "dense_compressed_bytes", "compression_ratio", "relative_latency"):
        assert key in out
    assert out["compression_ratio"] > 1
    assert "relative_latency" not in pruning_metrics(pruned)
