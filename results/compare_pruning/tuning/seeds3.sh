#!/bin/bash
# Seeds 1 and 2 for the top candidates (seed 0 in screen1/screen3) and GMP (MNIST / mnist_cnn, 2 epochs, validation).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 1 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods sfw --schedule step --ball k_support --warmup 0.02 --note "S14 step, k_support tau15, warmup0.02"
$C --methods sfw --schedule step --ball k_support --note "S5 step, k_support tau15"
$C --methods sgd sfw --schedule step --note "S1 step 0.6/0.85, tau15 (k10 k_frac0.05 lr1 mom0.9 gradient); sgd lr0.05"
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 1 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods gmp --schedule step --sgd-lr 0.05 --note "G1 gmp sgd lr0.05 step, prune 20%-60%"
