"""scripts/compare_fw_variants.py end to end on a tiny fake MNIST (every variant, one seed)."""

import csv

import pytest

from conftest import load_script, write_tiny_mnist


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_tiny_mnist(tmp_path_factory.mktemp("data"), 200, 40)


def _read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


#: One variant per code path (plain optimizer, optimizer rebuilt from the recipe's config,
#: snapshot wrapper, table wrapper): all six would take twice as long.
VARIANTS = ("one_shot", "one_shot_rescaled", "svrf", "saga")


def test_variants_run_at_equal_gradient_evaluations(data_dir, tmp_path):
    script = load_script("compare_fw_variants")
    out = tmp_path / "out"
    b, budget = 20, 400  # 2 epochs-equivalent of the 200 examples
    assert script.main(["--dataset", "mnist", "--model", "mnist_cnn", "--data-dir", str(data_dir), "--out", str(out),
                        "--budget-epochs", "2", "--batch-size", str(b), "--snapshot-size", "40",
                        "--snapshot-every", "3", "--log-every", "8", "--eval-size", "40",
                        "--sparsities", "0", "90", "--variants", *VARIANTS]) == 0
    results = _read(out / "results.csv")
    curves = _read(out / "curves.csv")
    assert set(VARIANTS) <= set(script.VARIANTS)
    assert {r["variant"] for r in results} == set(VARIANTS) == {r["variant"] for r in curves}
    for variant in VARIANTS:
        rows = [r for r in results if r["variant"] == variant]
        assert [float(r["sparsity"]) for r in rows] == [0.0, 0.9]
        assert float(rows[1]["achieved_sparsity"]) >= 0.9
        evals = int(rows[0]["gradient_evaluations"])
        # stopped at the first step that reaches the budget: at most one step (2b) over it
        assert budget <= evals <= budget + 2 * b, variant
        steps = [int(r["step"]) for r in curves if r["variant"] == variant]
        assert steps == sorted(steps) and steps[-1] == int(rows[0]["steps"])
    steps = {v: int(next(r for r in results if r["variant"] == v)["steps"]) for v in VARIANTS}
    assert steps["one_shot"] == steps["one_shot_rescaled"] == budget // b
    assert steps["saga"] == (budget - 200) // b  # the table fill costs n
    assert steps["svrf"] < steps["one_shot"]  # snapshots and the second backward pass cost steps
    assert (out / "curves_mnist.png").exists() and (out / "pruning_mnist.png").exists()
