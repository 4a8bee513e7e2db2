"""The information-only runs of RULE.md (long-run references, tau 10 in every setting, tau 10 on fresh seeds):
mean ± std (population, as tuning.csv) per file, method and target. Usage: python .../tuning13/summarize_info.py"""
import pathlib
import statistics

from summarize import accuracies  # this folder

HERE = pathlib.Path(__file__).parent
FILES = [
    ("F-MNIST 24 ep, U + GMP", HERE / "fmnist24_U_gmp.csv"),
    ("F-MNIST 24 ep, tau 10", HERE / "fmnist24_tau10.csv"),
    ("MNIST 2 ep, U (session 11 W0)", HERE.parent / "tuning11" / "mnist_warmup0.02.csv"),
    ("MNIST 2 ep, tau 10", HERE / "mnist2_tau10.csv"),
    ("MNIST 12 ep, U (session 12 W0)", HERE.parent / "tuning12" / "mnist_12ep_W0.csv"),
    ("MNIST 12 ep, GMP", HERE / "mnist12_gmp.csv"),
    ("MNIST 12 ep, tau 10", HERE / "mnist12_tau10.csv"),
    ("F-MNIST 6 ep, tau 10, seeds 6-11", HERE / "fmnist_tau10_seeds6-11.csv"),
]


def main():
    print("| run | method | seeds | 0 % | 80 % | 90 % | 95 % |")
    print("|---|---|---|---|---|---|---|")
    for label, path in FILES:
        if not path.exists():
            print(f"| {label} | (not run) | | | | | |")
            continue
        acc = accuracies(path)
        for method in sorted({m for m, _ in acc}):
            seeds = max(len(v) for (m, _), v in acc.items() if m == method)  # one row per seed and target
            cells = []
            for s in (0.0, 0.8, 0.9, 0.95):
                v = acc.get((method, s))
                cells.append(f"{statistics.mean(v):.2f} ± {statistics.pstdev(v):.2f}" if v else "")
            print(f"| {label} | {method} | {seeds} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
