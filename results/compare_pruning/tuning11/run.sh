#!/bin/bash
# RULE.md screen. Frozen copy /tmp/s11cp2 (tf_sfw + compare_pruning.py of this commit) (compare_pruning.py with --sfw-ema).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s11cp2
P="python /tmp/s11cp2/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning11 --validation 10000 --seeds 0 1 2 --sparsities 0 80 90 95 --methods sfw sfw+rec"
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --csv-name fmnist_E0.csv --note "E0 defaults (session 11 rerun)"
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --sfw-ema 0.99 --csv-name fmnist_E1.csv --note "E1 sfw-ema 0.99"
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --sfw-ema 0.998 --csv-name fmnist_E2.csv --note "E2 sfw-ema 0.998"
