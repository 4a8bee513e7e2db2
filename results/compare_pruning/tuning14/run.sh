#!/bin/bash
# Screen 14 (RULE.md): SFW lr 0.7 on the validation split. Frozen copy /tmp/s14 (commit ff050bc).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s14
P="python /tmp/s14/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning14 --validation 10000 --sparsities 0 80 90 95 --methods sfw sfw+rec --sfw-lr 0.7"
$P --seeds 0 1 2 3 4 5 6 7 8 9 10 11 --dataset fashion_mnist --model simple_cnn --epochs 6 --csv-name fmnist_lr0.7.csv --note "S14 R sfw lr 0.7"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 2 --csv-name mnist2_lr0.7.csv --note "S14 R sfw lr 0.7, MNIST 2 ep"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --csv-name fmnist24_lr0.7.csv --note "S14 R sfw lr 0.7, 24 ep"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 12 --csv-name mnist12_lr0.7.csv --note "S14 R sfw lr 0.7, MNIST 12 ep"
