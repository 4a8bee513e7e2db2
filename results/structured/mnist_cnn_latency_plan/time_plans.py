"""Step 2 of RULE.md (addendum 1): time the architectures each plan left on the 9 networks.

Reads the `widths` column of OUT/<plan>/results.csv for every plan directory given, builds each
distinct mnist_cnn architecture (latency depends on the architecture, not on the weights) and times
it against the dense model with `tf_sfw.pruning.metrics.relative_latency` (alternating blocks of 10
calls, batch 128, 300 timed calls each) in ROUNDS interleaved rounds (each round times every
architecture once; default 5, RULE.md addendum 2); the median over the rounds is the architecture's
ratio. Prints per plan the median ratio over its networks and writes OUT/plan_latency.csv.

Usage: python results/structured/mnist_cnn_latency_plan/time_plans.py [--rounds ROUNDS] OUT PLAN [PLAN ...]
"""
import csv
import json
import sys

import numpy as np

from tf_sfw.models import mnist_cnn
from tf_sfw.pruning.metrics import relative_latency
from tf_sfw.pruning.shrink import shrink_model


def main(out, plans, rounds):
    dense = mnist_cnn()
    x = np.random.default_rng(0).standard_normal((128, 28, 28, 1)).astype("float32")
    records = []
    for plan in plans:
        with open(f"{out}/{plan}/results.csv", newline="") as f:
            for r in csv.DictReader(f):
                widths = json.loads(r["widths"])
                records.append((plan, r, (widths["conv2d"], widths["conv2d_1"])))
    archs = sorted({key for _, _, key in records})
    models = {key: shrink_model(dense, {"conv2d": np.arange(key[0]), "conv2d_1": np.arange(key[1])}) for key in archs}
    timings = {key: [] for key in archs}
    for round_ in range(rounds):
        for key in archs:
            timings[key].append(relative_latency(models[key], dense, x, repeats=300)[0])
        print(f"round {round_ + 1}: " + "  ".join(f"{key}: {timings[key][-1]:.3f}" for key in archs), flush=True)
    ratio = {key: float(np.median(timings[key])) for key in archs}
    rows = [{"plan": plan, "run": r["run"], "seed": r["seed"], "conv2d": key[0], "conv2d_1": key[1],
             "accuracy": r["accuracy"], "refit_accuracy": r["refit_accuracy"], "latency_ratio_b128": f"{ratio[key]:.4f}"}
            for plan, r, key in records]
    with open(f"{out}/plan_latency.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for plan in plans:
        ratios = [float(r["latency_ratio_b128"]) for r in rows if r["plan"] == plan]
        print(f"{plan}: median latency ratio {np.median(ratios):.3f} over {len(ratios)} networks "
              f"(min {min(ratios):.3f}, max {max(ratios):.3f})")


if __name__ == "__main__":
    argv = sys.argv[1:]
    rounds = 5
    if argv[:1] == ["--rounds"]:
        rounds, argv = int(argv[1]), argv[2:]
    main(argv[0], argv[1:], rounds)
