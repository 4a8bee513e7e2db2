#!/bin/bash
# RULE.md screen 2. Frozen copy /tmp/s13cp (tf_sfw + compare_pruning.py at commit 65326d3).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s13cp
P="python /tmp/s13cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning13 --validation 10000 --sparsities 0 80 90 95"
for K in 300 600; do
  $P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --k $K --csv-name fmnist_k$K.csv --note "S13 K k $K (floor of K)"
done
# Screen 3 (LAMP vs magnitude before the refit), validation, on the same trained networks:
#   PYTHONPATH=/tmp/s13cp python results/compare_pruning/tuning13/lamp_screen.py fashion_mnist simple_cnn 6 0 1 2 3 4 5 > results/compare_pruning/tuning13/lamp_fmnist.csv
# Information only: seeds 6-11 of the current defaults, sfw dense
$P --seeds 6 7 8 9 10 11 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw --sparsities 0 --csv-name fmnist_U_seeds6-11.csv --note "S13 U seeds 6-11 (information)"
# Screen 4 (RULE.md): tau 10 and 7.5
for T in 10 7.5; do
  $P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --tau $T --csv-name fmnist_tau$T.csv --note "S13 T tau $T"
done
