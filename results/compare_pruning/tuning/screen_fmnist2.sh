#!/bin/bash
# Fashion-MNIST / simple_cnn, 6 epochs, seed 0, validation = last 10,000 training images; with lr warm-up
# (without it, every SFW run of screen_fmnist.sh died at ~10% accuracy: see tuning.csv, F0-F6).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw_fmnist.csv"
$C --methods sgd sfw --schedule step --warmup 0.02 --note "F7 step 0.6/0.85, k_sparse tau15, warmup0.02 (sgd lr0.05 same schedule)"
$C --methods sfw --schedule step --ball k_support --warmup 0.02 --note "F8 step, k_support tau15, warmup0.02"
$C --methods sfw --schedule cosine --warmup 0.02 --note "F9 cosine, k_sparse tau15, warmup0.02"
$C --methods sfw --schedule step --tau 30 --warmup 0.02 --note "F10 step, k_sparse tau30, warmup0.02"
