"""Six-seed view (session 11): seeds 0-2 from final8/ plus seeds 3-5 from seeds11/, and the diag8 / diag11
dense runs. Prints markdown tables (accuracy %, mean ± std over the seeds; n = number of seeds).

Usage: python results/compare_pruning/seeds11/summarize.py > results/compare_pruning/seeds11/summary.md
"""
import csv
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def rows(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def cell(values):
    return f"{np.mean(values):.2f} ± {np.std(values):.2f} (n={len(values)})" if values else ""


def table(title, sources, methods, sparsities):
    data = [r for path in sources if os.path.exists(path) for r in rows(path)]
    print(f"### {title}\n")
    print("| method | seeds | " + " | ".join(f"{s:g}%" for s in sparsities) + " |")
    print("|---|---|" + "---|" * len(sparsities))
    for method in methods:
        for label, seeds in (("0-2", {"0", "1", "2"}), ("3-5", {"3", "4", "5"}), ("0-5", {"0", "1", "2", "3", "4", "5"})):
            cells = []
            for s in sparsities:
                values = [100 * float(r["test_accuracy"]) for r in data
                          if r["method"] == method and r["seed"] in seeds and abs(100 * float(r["target_sparsity"]) - s) < 1e-6]
                cells.append(cell(values))
            if any(cells):
                print(f"| {method} | {label} | " + " | ".join(cells) + " |")
    print()


def main():
    print("# Session 11: three more seeds for the settings whose bars were missed by < 1 point (generated)\n")
    table("Fashion-MNIST / simple_cnn, 6 epochs (test set)",
          [f"{ROOT}/final8/results_fashion_mnist.csv", f"{HERE}/results_fashion_mnist.csv"],
          ["sgd", "sfw", "sfw+rec", "sfw+rec+ft", "gmp"], [0, 80, 90, 95])
    table("MNIST / mnist_cnn, 12 epochs (test set)",
          [f"{ROOT}/final8/results_mnist_12ep.csv", f"{HERE}/results_mnist_12ep.csv"],
          ["sgd", "sfw", "sfw+rec", "gmp"], [0, 80, 90])
    print("### Fashion-MNIST dense, first 50 000 training images, test set (diag8: 6 epochs; diag11: 7 epochs)\n")
    print("| run | steps | SGD | SFW | SFW − SGD |")
    print("|---|---|---|---|---|")
    for name, path in (("diag8, 6 epochs", f"{ROOT}/diag8/results_50k_on_test.csv"),
                       ("diag11, 7 epochs", f"{ROOT}/diag11/results_50k_7ep.csv")):
        data = rows(path)
        acc = {m: [100 * float(r["test_accuracy"]) for r in data if r["method"] == m] for m in ("sgd", "sfw")}
        steps = data[0]["train_steps"]
        print(f"| {name} | {steps} | {cell(acc['sgd'])} | {cell(acc['sfw'])} | "
              f"{np.mean(acc['sfw']) - np.mean(acc['sgd']):+.2f} |")


if __name__ == "__main__":
    main()
