"""Screen 5 of RULE.md (fresh validation seeds 6-11): dense, and magnitude / LAMP masks before the refit, for the
current defaults (U) and k = 300 (K1), from lamp_screen.py's CSVs. Usage: python .../tuning13/summarize_screen5.py"""
import pathlib

from summarize import accuracies, figures  # this folder

HERE = pathlib.Path(__file__).parent


def main():
    print("| configuration (seeds 6–11) | sfw dense | worst seed | `+rec` 80 / 90 / 95 % | sum |")
    print("|---|---|---|---|---|")
    for label, name in (("U", "lamp_fmnist_U_seeds6-11.csv"), ("K1 (k = 300)", "lamp_fmnist_k300_seeds6-11.csv")):
        acc = accuracies(HERE / name, key="rule", column="accuracy", scale=1.0)
        for rule in ("magnitude", "lamp"):
            mean, std, worst, rec, total, _ = figures(acc, dense="dense", refit=rule)
            print(f"| {label}, {rule} masks | {mean:.2f} ± {std:.2f} | {worst:.2f} | "
                  f"{' / '.join(f'{v:.2f}' for v in rec)} | {total:.2f} |")


if __name__ == "__main__":
    main()
