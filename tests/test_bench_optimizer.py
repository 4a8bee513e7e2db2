"""Smoke test of scripts/bench_optimizer.py: tiny settings, both parts, JSON output."""

import json

import pytest

from conftest import load_script


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
