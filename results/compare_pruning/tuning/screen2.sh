#!/bin/bash
# GMP reference on the validation split (MNIST / mnist_cnn, 2 epochs, seed 0), SGD lr 0.05 vs 0.1.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods gmp --schedule step --sgd-lr 0.05 --note "G1 gmp sgd lr0.05 step, prune 20%-60%"
$C --methods gmp --schedule step --sgd-lr 0.1 --note "G2 gmp sgd lr0.1 step, prune 20%-60%"
