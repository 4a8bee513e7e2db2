"""Screens 14 and 15 (RULE.md): SFW lr 0.7 (R) and unconstrained lr 0.25 (Q) against the current defaults (U) on
the validation split — sfw dense mean ± population std, worst seed, sfw+rec at 80 / 90 / 95 %, their sum, and each stage's bars.

Usage: python results/compare_pruning/tuning14/summarize.py > results/compare_pruning/tuning14/summary.md
"""
import pathlib
import sys

HERE = pathlib.Path(__file__).parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tuning13"))
from summarize import accuracies, figures  # noqa: E402  tuning13's CSV reader and a screen's figures

LAMP = dict(key="rule", column="accuracy", scale=1.0)  # lamp_screen.py's rows: "dense" = sfw, "magnitude" = sfw+rec
# (setting, U's files, the candidates' file stem, dense bar, sum bar); a candidate's file is <stem>_<suffix>.csv
STAGES = [
    ("Fashion-MNIST 6 epochs, seeds 0-11", [(ROOT / "tuning12/fmnist_conv1_sgd.csv", {}),
                                            (ROOT / "tuning13/lamp_fmnist_U_seeds6-11.csv", LAMP)], "fmnist", -0.1, -0.3),
    ("MNIST 2 epochs, seeds 0-2", [(ROOT / "tuning11/mnist_warmup0.02.csv", {})], "mnist2", -0.1, -0.3),
    ("Fashion-MNIST 24 epochs, seeds 0-2", [(ROOT / "tuning13/fmnist24_U_gmp.csv", {})], "fmnist24", -0.15, -0.3),
    ("MNIST 12 epochs, seeds 0-2", [(ROOT / "tuning12/mnist_12ep_W0.csv", {})], "mnist12", -0.15, -0.3),
]
CANDIDATES = [("R (lr 0.7)", "lr0.7"), ("Q (unconstrained lr 0.25)", "ulr0.25")]


def merged(files):
    """sfw dense and sfw+rec accuracies of one or more CSVs, as {(method, sparsity): [...]}."""
    out = {}
    for path, fmt in files:
        for (name, s), values in accuracies(path, **fmt).items():
            method = {"dense": "sfw", "magnitude": "sfw+rec"}.get(name, name) if fmt else name
            if method in ("sfw", "sfw+rec"):
                out.setdefault((method, s), []).extend(values)
    return out


def main():
    print("| setting | run | n | sfw dense | worst seed | sfw+rec 80 / 90 / 95 % | sum | bars (dense, sum) |")
    print("|---|---|---|---|---|---|---|---|")
    for title, u_files, stem, dense_bar, sum_bar in STAGES:
        u = figures(merged(u_files))
        rows = [("U", u, "")]
        for label, suffix in CANDIDATES:
            path = HERE / f"{stem}_{suffix}.csv"
            if path.exists():
                r = figures(merged([(path, {})]))
                ok = r[0] - u[0] >= dense_bar and r[4] - u[4] >= sum_bar
                rows.append((label, r, f"{r[0] - u[0]:+.2f} (≥ {dense_bar}), {r[4] - u[4]:+.2f} (≥ {sum_bar}): "
                                       f"{'pass' if ok else 'FAIL'}"))
        for name, (mean, std, worst, rec, total, n), verdict in rows:
            print(f"| {title} | {name} | {n} | {mean:.2f} ± {std:.2f} | {worst:.2f} | "
                  f"{' / '.join(f'{v:.2f}' for v in rec)} | {total:.2f} | {verdict} |")


if __name__ == "__main__":
    main()
