"""Mean ± std over seeds of the test (or validation) runs of this folder: dense accuracy, and at every
fraction the accuracy after the refit and after the fine-tune, absolute and relative to the same network's
dense accuracy. Usage: python summarize.py LABEL=DIR[,DIR...] ...  (each DIR holds results.csv and runs.json)
"""
import csv
import json
import os
import sys

import numpy as np


def rows_of(dirs):
    out = []
    for d in dirs:
        dense = {(r["run"], int(r["seed"])): r["test_accuracy"] for r in json.load(open(os.path.join(d, "runs.json")))["runs"]}
        with open(os.path.join(d, "results.csv"), newline="") as f:
            for r in csv.DictReader(f):
                key = (r["run"], int(r["seed"]))
                out.append(dict(run=key[0], seed=key[1], fraction=float(r["fraction"]), dense=100 * dense[key],
                                refit=100 * float(r["refit_accuracy"]) if r.get("refit_accuracy") else float("nan"),
                                ft=100 * float(r["ft_accuracy"]), lat=float(r["latency_ratio_b128"])))
    return out


def fmt(values):
    values = np.asarray(values)
    return f"{values.mean():.2f} ± {values.std(ddof=1) if values.size > 1 else 0.0:.2f}"


def main():
    print("| choice | run | removed | seeds | dense % | refit % | Δ refit | fine-tuned % | Δ fine-tuned | latency b128 |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for spec in sys.argv[1:]:
        label, dirs = spec.split("=", 1)
        rows = rows_of(dirs.split(","))
        for run in sorted({r["run"] for r in rows}, key=["SGD", "SFW", "GroupSFW"].index):
            for fraction in sorted({r["fraction"] for r in rows}):
                sel = sorted((r for r in rows if r["run"] == run and r["fraction"] == fraction), key=lambda r: r["seed"])
                seeds = ",".join(str(r["seed"]) for r in sel)
                print(f"| {label} | {run} | {100 * fraction:.0f}% | {seeds} | {fmt([r['dense'] for r in sel])} | "
                      f"{fmt([r['refit'] for r in sel])} | {fmt([r['refit'] - r['dense'] for r in sel])} | "
                      f"{fmt([r['ft'] for r in sel])} | {fmt([r['ft'] - r['dense'] for r in sel])} | "
                      f"{fmt([r['lat'] for r in sel])} |")


if __name__ == "__main__":
    main()
