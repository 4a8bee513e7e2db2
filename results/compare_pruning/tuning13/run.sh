#!/bin/bash
# RULE.md screen. Frozen copy /tmp/s13cp (tf_sfw + compare_pruning.py at commit 65326d3).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s13cp
P="python /tmp/s13cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning13 --validation 10000 --sparsities 0 80 90 95"
# Stage 1: Fashion-MNIST 6 epochs, seeds 0-5
$P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --sfw-sgd-start 0.1 --csv-name fmnist_A.csv --note "S13 A sgd start 0.1 (conv1 by SGD)"
$P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --sfw-sgd-start 0.2 --csv-name fmnist_B.csv --note "S13 B sgd start 0.2 (conv1 by SGD)"
# Stage 3 reference and candidates: Fashion-MNIST 24 epochs, seeds 0-2
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+rec --csv-name fmnist24_U.csv --note "S13 U 24ep current defaults"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+rec --sfw-sgd-start 0.2 --csv-name fmnist24_B.csv --note "S13 B 24ep sgd start 0.2"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+rec --sfw-sgd-start 0.1 --csv-name fmnist24_A.csv --note "S13 A 24ep sgd start 0.1"
