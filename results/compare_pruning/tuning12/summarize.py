"""Seed means ± std (population std, as compare_pruning's tables; validation accuracy, %) of every csv in this folder and the session-11 references:
`python results/compare_pruning/tuning12/summarize.py > results/compare_pruning/tuning12/summary.md`."""

import csv
import pathlib
import statistics

HERE = pathlib.Path(__file__).parent
FILES = [HERE.parent / "tuning11" / "fmnist_warmup0.02.csv", HERE.parent / "tuning11" / "mnist_warmup0.02.csv"]
FILES += sorted(HERE.glob("*.csv"))
TARGETS = (0.0, 0.8, 0.9, 0.95)


def main():
    print("| file | method | seeds | dense | 80 % | 90 % | 95 % | sum 80–95 |")
    print("|---|---|---|---|---|---|---|---|")
    for path in FILES:
        if not path.exists():
            continue
        acc = {}
        for row in csv.DictReader(open(path, newline="")):
            acc.setdefault(row["method"], {}).setdefault(float(row["target_sparsity"]), []).append(
                100 * float(row["test_accuracy"]))
        for method, by_target in acc.items():
            cells, total = [], 0.0
            for target in TARGETS:
                values = by_target.get(target, [])
                if not values:
                    cells.append("–")
                    continue
                mean = statistics.mean(values)
                std = statistics.pstdev(values)
                cells.append(f"{mean:.2f} ± {std:.2f}")
                total += mean if target else 0.0
            seeds = len(by_target.get(0.0, []))
            name = path.relative_to(HERE.parent)
            print(f"| {name} | {method} | {seeds} | " + " | ".join(cells) + f" | {total:.2f} |")


if __name__ == "__main__":
    main()
