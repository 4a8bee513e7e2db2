"""Mean ± population std over seeds of ft_budget_*.csv (accuracy %, validation split), as a markdown table.

Usage: python results/compare_pruning/diag14/summarize.py > results/compare_pruning/diag14/summary.md
"""
import csv
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FILES = [("Fashion-MNIST / simple_cnn, 6 epochs", "ft_budget_fmnist6.csv"),
         ("Fashion-MNIST / simple_cnn, 24 epochs", "ft_budget_fmnist24.csv")]


def main():
    for title, name in FILES:
        groups = {}
        with open(os.path.join(HERE, name), newline="") as f:
            for r in csv.DictReader(f):
                key = (r["network"], float(r["target_sparsity"]), float(r["ft_budget"]))
                groups.setdefault(key, []).append(float(r["accuracy"]))
        budgets = sorted({k[2] for k in groups})
        print(f"## {title}\n")
        print("| network, sparsity | " + " | ".join(f"ft {100 * b:g} %" for b in budgets) + " |")
        print("|---|" + "---|" * len(budgets))
        for network in ("sfw", "sgd"):
            dense = groups.get((network, 0.0, 0.0))
            if dense:
                print(f"| {network} dense | {np.mean(dense):.2f} ± {np.std(dense):.2f} ({len(dense)})"
                      + " |" * len(budgets))
            for s in sorted({k[1] for k in groups if k[0] == network and k[1] > 0}):
                cells = [groups.get((network, s, b)) for b in budgets]
                print(f"| {network} + refit, {100 * s:g} % | "
                      + " | ".join(f"{np.mean(v):.2f} ± {np.std(v):.2f}" if v else "" for v in cells) + " |")
        print()


if __name__ == "__main__":
    main()
