"""Per-configuration means of the session-13 validation screens (sfw dense mean ± population std as in tuning.csv, worst seed, sfw+rec at 80/90/95 % and
their sum). Usage: python results/compare_pruning/tuning13/summarize.py"""
import csv
import pathlib
import statistics

HERE = pathlib.Path(__file__).parent
FILES = {"U (current defaults)": HERE.parent / "tuning12" / "fmnist_conv1_sgd.csv", "A sgd start 0.1": HERE / "fmnist_A.csv",
         "B sgd start 0.2": HERE / "fmnist_B.csv", "K1 k 300": HERE / "fmnist_k300.csv", "K2 k 600": HERE / "fmnist_k600.csv",
         "T1 tau 10": HERE / "fmnist_tau10.csv", "T2 tau 7.5": HERE / "fmnist_tau7.5.csv"}


def accuracies(path, key="method", column="test_accuracy", scale=100.0):
    """``{(row[key], target sparsity): [accuracy in % per row]}`` of a CSV (compare_pruning.py's rows: fractions,
    ``scale`` 100; lamp_screen.py's: ``key="rule", column="accuracy", scale=1``)."""
    acc = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            acc.setdefault((r[key], float(r["target_sparsity"])), []).append(scale * float(r[column]))
    return acc


def figures(acc, dense="sfw", refit="sfw+rec"):
    """A screen's figures from `accuracies`: ``(dense mean, population std, worst seed, [refit mean at 80 / 90 /
    95 %], their sum, number of seeds)``, with ``dense`` / ``refit`` the rows' names of those methods."""
    values = acc[(dense, 0.0)]
    rec = [statistics.mean(acc[(refit, s)]) for s in (0.8, 0.9, 0.95)]
    return statistics.mean(values), statistics.pstdev(values), min(values), rec, sum(rec), len(values)


def main():
    print("| configuration | sfw dense mean ± std | worst seed | sfw+rec 80 / 90 / 95 % | sum |")
    print("|---|---|---|---|---|")
    for name, path in FILES.items():
        if not path.exists():
            continue
        mean, std, worst, rec, total, _ = figures(accuracies(path))
        print(f"| {name} | {mean:.2f} ± {std:.2f} | {worst:.2f} | {' / '.join(f'{v:.2f}' for v in rec)} | {total:.2f} |")


if __name__ == "__main__":
    main()
