#!/bin/bash
# Screening on Fashion-MNIST / simple_cnn, 6 epochs, seed 0, validation = last 10,000 training images.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw_fmnist.csv"
$C --methods sgd sfw --schedule step --note "F1 step 0.6/0.85, tau15; sgd lr0.05 step"
$C --methods sfw --schedule cosine --note "F3 cosine, tau15"
$C --methods sfw --schedule constant --note "F0 constant (issue/README setting), tau15"
$C --methods sfw --schedule cosine --tau 30 --note "F6 cosine, tau30"
$C --methods sgd --schedule cosine --note "G2 sgd lr0.05 cosine"
