"""Screen 5 of RULE.md (fresh validation seeds 6-11): dense, and magnitude / LAMP masks before the refit, for the
current defaults (U) and k = 300 (K1), from lamp_screen.py's CSVs. Usage: python .../tuning13/summarize_screen5.py"""
import pathlib
import statistics

from summarize import accuracies  # this folder

HERE = pathlib.Path(__file__).parent


def main():
    print("| configuration (seeds 6–11) | sfw dense | worst seed | `+rec` 80 / 90 / 95 % | sum |")
    print("|---|---|---|---|---|")
    for label, name in (("U", "lamp_fmnist_U_seeds6-11.csv"), ("K1 (k = 300)", "lamp_fmnist_k300_seeds6-11.csv")):
        acc = accuracies(HERE / name, key="rule", column="accuracy", scale=1.0)
        dense = acc[("dense", 0.0)]
        for rule in ("magnitude", "lamp"):
            rec = [statistics.mean(acc[(rule, s)]) for s in (0.8, 0.9, 0.95)]
            print(f"| {label}, {rule} masks | {statistics.mean(dense):.2f} ± {statistics.pstdev(dense):.2f} | "
                  f"{min(dense):.2f} | {' / '.join(f'{v:.2f}' for v in rec)} | {sum(rec):.2f} |")


if __name__ == "__main__":
    main()
