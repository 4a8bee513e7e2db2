"""Screen 14 (RULE.md): SFW lr 0.7 (R) against the current defaults (U) on the validation split — sfw dense mean ±
population std, worst seed, sfw+rec at 80 / 90 / 95 %, their sum, and each stage's bars.

Usage: python results/compare_pruning/tuning14/summarize.py > results/compare_pruning/tuning14/summary.md
"""
import pathlib
import statistics
import sys

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tuning13"))
from summarize import accuracies  # noqa: E402  tuning13's CSV reader

LAMP = dict(key="rule", column="accuracy", scale=1.0)  # lamp_screen.py's rows: "dense" = sfw, "magnitude" = sfw+rec
# (setting, U's files, R's file, dense bar, sum bar)
STAGES = [
    ("Fashion-MNIST 6 epochs, seeds 0-11", [(ROOT / "tuning12/fmnist_conv1_sgd.csv", {}),
                                            (ROOT / "tuning13/lamp_fmnist_U_seeds6-11.csv", LAMP)],
     HERE / "fmnist_lr0.7.csv", -0.1, -0.3),
    ("MNIST 2 epochs, seeds 0-2", [(ROOT / "tuning11/mnist_warmup0.02.csv", {})], HERE / "mnist2_lr0.7.csv", -0.1, -0.3),
    ("Fashion-MNIST 24 epochs, seeds 0-2", [(ROOT / "tuning13/fmnist24_U_gmp.csv", {})], HERE / "fmnist24_lr0.7.csv",
     -0.15, -0.3),
    ("MNIST 12 epochs, seeds 0-2", [(ROOT / "tuning12/mnist_12ep_W0.csv", {})], HERE / "mnist12_lr0.7.csv", -0.15, -0.3),
]


def merged(files):
    """sfw dense and sfw+rec accuracies of one or more CSVs, as {(method, sparsity): [...]}."""
    out = {}
    for path, fmt in files:
        for (name, s), values in accuracies(path, **fmt).items():
            method = {"dense": "sfw", "magnitude": "sfw+rec"}.get(name, name) if fmt else name
            if method in ("sfw", "sfw+rec"):
                out.setdefault((method, s), []).extend(values)
    return out


def figures(acc):
    dense = acc[("sfw", 0.0)]
    rec = [statistics.mean(acc[("sfw+rec", s)]) for s in (0.8, 0.9, 0.95)]
    return statistics.mean(dense), statistics.pstdev(dense), min(dense), rec, sum(rec), len(dense)


def main():
    print("| setting | run | n | sfw dense | worst seed | sfw+rec 80 / 90 / 95 % | sum | bars (dense, sum) |")
    print("|---|---|---|---|---|---|---|---|")
    for title, u_files, r_file, dense_bar, sum_bar in STAGES:
        u = figures(merged(u_files))
        rows = [("U", u, "")]
        if r_file.exists():
            r = figures(merged([(r_file, {})]))
            ok = r[0] - u[0] >= dense_bar and r[4] - u[4] >= sum_bar
            rows.append(("R (lr 0.7)", r, f"{r[0] - u[0]:+.2f} (≥ {dense_bar}), {r[4] - u[4]:+.2f} (≥ {sum_bar}): "
                                          f"{'pass' if ok else 'FAIL'}"))
        for name, (mean, std, worst, rec, total, n), verdict in rows:
            print(f"| {title} | {name} | {n} | {mean:.2f} ± {std:.2f} | {worst:.2f} | "
                  f"{' / '.join(f'{v:.2f}' for v in rec)} | {total:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
