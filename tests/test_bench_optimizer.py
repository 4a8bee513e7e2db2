"""Smoke tests of scripts/bench_optimizer.py: tiny settings, both parts, JSON output; `--keras 3`."""

import json

import numpy as np
import pytest

from conftest import load_script
from keras3_runner import keras3_app, keras3_apps  # noqa: F401  (fixtures)


@pytest.fixture(scope="module")
def bench():
    return load_script("bench_optimizer")


@pytest.mark.slow
def test_bench_writes_update_and_isolated_train_step_figures(bench, tmp_path):
    out = tmp_path / "bench.json"
    code = bench.main([
        "--modes", "graph", "--update-kinds", "sgd", "sfw_radix", "--repeats", "2", "--warmup", "2",
        "--train-models", "mnist_cnn", "--train-rounds", "1", "--json", str(out),
    ])
    assert code == 0
    result = json.loads(out.read_text())
    assert set(result["update"]["graph"]["median_s"]) == {"sgd", "sfw_radix"}
    assert result["ratios"]["update/graph/radix_over_sgd"] > 0
    train = result["train_step"]["mnist_cnn/graph"]
    assert train["isolation"] == "process"
    assert {k: len(v) for k, v in train["times_s"].items()} == {"sgd": 2, "sfw": 2}  # from the child processes
    assert len(result["resnet18_variable_shapes"]) == 62


def test_bench_rejects_too_few_warmup_calls(bench):
    with pytest.raises(ValueError, match="warmup"):
        bench.main(["--warmup", "1"])


def test_backend_needs_keras3(bench):
    with pytest.raises(ValueError, match="--backend` needs `--keras 3`"):
        bench.main(["--backend", "jax"])


def test_keras3_jax_update_bench_records_device_and_ratio(keras3_app):
    """`--keras 3 --backend jax --keras3-model mnist_cnn`, run by the JAX worker of `tests/keras3_runner.py`."""
    _, report = keras3_app
    if report["backend"] != "jax":
        pytest.skip("the Keras 3 bench is run on the JAX worker")
    assert report["bench_code"] == 0
    result = report["bench"]["keras3_update"]
    assert result["backend"] == "jax" and "cpu" in result["device"].lower()
    assert f"device: {result['device']}" in report["bench_printed"]
    assert set(result["median_s"]) == {"sgd", "sfw"} and {len(t) for t in result["times_s"].values()} == {2}
    medians = {k: float(np.median(t)) for k, t in result["times_s"].items()}
    assert result["median_s"] == pytest.approx(medians)
    assert report["bench"]["ratios"]["update/keras3/jax/sfw_over_sgd"] == pytest.approx(medians["sfw"] / medians["sgd"])
    assert report["bench"]["variable_shapes"] == [[3, 3, 1, 32], [32], [3, 3, 32, 64], [64], [1600, 10], [10]]
