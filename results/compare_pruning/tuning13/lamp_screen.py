"""Session 13 screen 3 (validation split only): global magnitude vs LAMP masks before the least-squares refit, on
the same SFW networks (RULE.md, screen 3). Trains through compare_pruning.py's own Setting/train_dense.

Usage: python results/compare_pruning/tuning13/lamp_screen.py DATASET MODEL EPOCHS SEED [SEED ...] [-- RECIPE FLAGS]
       > OUT.csv   (RECIPE FLAGS: compare_pruning.py options, e.g. --k 300)
"""
import sys

import numpy as np

import compare_pruning as cp  # the frozen copy on PYTHONPATH
from tf_sfw.pruning import magnitude_masks, reconstruct
from tf_sfw.pruning.magnitude import layerwise_magnitude_masks, num_pruned
from tf_sfw.pruning.masks import prunable_weights

SPARSITIES = (0.8, 0.9, 0.95)


def lamp_sparsities(values, sparsity):
    """Per-layer sparsities of one global threshold on LAMP scores w_u^2 / sum_{|w_v| >= |w_u|} w_v^2."""
    keys, scores = [], []
    for key, w in values.items():
        a = np.sort(np.abs(w.astype(np.float64)).ravel() ** 2)  # ascending
        tail = np.cumsum(a[::-1])[::-1]  # sum over entries at least as large
        scores.append(np.where(tail > 0, a / np.where(tail > 0, tail, 1.0), 0.0))
        keys.append(np.full(a.size, len(keys)))
    scores, owner = np.concatenate(scores), np.concatenate(keys)
    n = num_pruned(sparsity, scores.size)
    pruned = np.argsort(scores, kind="stable")[:n]
    counts = np.bincount(owner[pruned], minlength=len(values))
    return {key: counts[i] / w.size for i, (key, w) in enumerate(values.items())}


def main():
    argv, extra = (sys.argv[1:], []) if "--" not in sys.argv else (
        sys.argv[1:sys.argv.index("--")], sys.argv[sys.argv.index("--") + 1:])
    dataset, model_name, epochs, seeds = argv[0], argv[1], argv[2], [int(s) for s in argv[3:]]
    args = cp.parse_args(["--data-dir", "../shared/data/keras", "--validation", "10000", "--dataset", dataset,
                          "--model", model_name, "--epochs", epochs, "--methods", "sfw", "--out", "/tmp/lamp13"] + extra)
    setting = cp.Setting(args)
    print("dataset,model,epochs,seed,rule,target_sparsity,accuracy,per_layer_sparsity", flush=True)
    print(f"0% rows are the dense network; recipe flags: {' '.join(extra) or 'defaults'}", file=sys.stderr)
    for seed in seeds:
        model, _ = cp.train_dense(setting, "sfw", seed, lambda m: print(m, file=sys.stderr))
        values = {k: v.numpy() for k, v in prunable_weights(model).items()}
        print(f"{dataset},{model_name},{epochs},{seed},dense,0.0,{100 * setting.evaluate(model)[1]:.2f},", flush=True)
        for s in SPARSITIES:
            for rule in ("magnitude", "lamp"):
                if rule == "magnitude":
                    masks = magnitude_masks(model, s)
                else:
                    masks = layerwise_magnitude_masks(values, lamp_sparsities(values, s))
                _, acc = setting.evaluate(reconstruct(model, masks, setting.rec_calibration_x))
                per_layer = " ".join(f"{k.split('/')[0]}:{1 - m.mean():.3f}" for k, m in masks.items())
                print(f"{dataset},{model_name},{epochs},{seed},{rule},{s},{100 * acc:.2f},{per_layer}", flush=True)


if __name__ == "__main__":
    main()
