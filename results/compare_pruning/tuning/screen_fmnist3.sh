#!/bin/bash
# After the final runs: what closes SFW's dense gap on Fashion-MNIST? (validation, seed 0; from F11)
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
F="python scripts/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw_fmnist.csv --methods sfw --schedule step --warmup 0.02 --bias-norm unit"
$F --tau 60 --note "F12 F11 with tau60"
$F --k-frac 0.2 --note "F13 F11 with k_frac0.2"
$F --tau 30 --k-frac 0.1 --note "F14 F11 with tau30, k_frac0.1"
$F --momentum 0.95 --note "F15 F11 with momentum0.95"
