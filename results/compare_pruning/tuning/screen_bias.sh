#!/bin/bash
# Bias sizing: PyTorch-reference E||b|| (default so far) vs unit E||b|| (constraints_for_model's fallback).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
F="python scripts/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw_fmnist.csv"
$F --methods sfw --schedule step --warmup 0.02 --bias-norm unit --note "F11 step, k_sparse tau15, warmup0.02, bias unit"
$F --methods gmp --schedule step --warmup 0.02 --sparsities 80 90 95 --note "H1 gmp sgd lr0.05 step warmup0.02, prune 20%-60%"
