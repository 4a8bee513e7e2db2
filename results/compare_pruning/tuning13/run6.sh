#!/bin/bash
# Validation references for the long settings (RULE.md, information only). Frozen copy /tmp/s13cp (commit 65326d3).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s13cp
P="python /tmp/s13cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning13 --validation 10000 --sparsities 0 80 90 95"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+rec gmp --csv-name fmnist24_U_gmp.csv --note "S13 long-run references: U and GMP, 24 ep"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 12 --methods gmp --csv-name mnist12_gmp.csv --note "S13 long-run references: GMP, 12 ep"
# Follow-up (information): tau 10 on fresh seeds 6-11
python /tmp/s13cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning13 --validation 10000 --sparsities 0 80 90 95 --seeds 6 7 8 9 10 11 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --tau 10 --csv-name fmnist_tau10_seeds6-11.csv --note "S13 tau 10 on fresh seeds 6-11 (information: the docstring's trade-off)"
