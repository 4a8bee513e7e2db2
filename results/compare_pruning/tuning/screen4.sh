#!/bin/bash
# MNIST check of the Fashion-MNIST findings (bias unit, tau 30, warm-up); seed 0, validation.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods sfw --schedule step --warmup 0.02 --bias-norm unit --note "S20 step, k_sparse tau15, warmup0.02, bias unit"
$C --methods sfw --schedule step --warmup 0.02 --bias-norm unit --tau 30 --note "S21 step, k_sparse tau30, warmup0.02, bias unit"
