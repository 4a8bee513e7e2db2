#!/bin/bash
# Combinations of the screening winners + lr warm-up (MNIST / mnist_cnn, 2 epochs, seed 0, validation).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods sfw --schedule step --ball k_support --warmup 0.02 --note "S14 step, k_support tau15, warmup0.02"
$C --methods sfw --schedule cosine --ball k_support --note "S15 cosine, k_support tau15"
$C --methods sfw --schedule step --ball k_support --momentum 0.95 --note "S16 step, k_support tau15, momentum0.95"
$C --methods sfw --schedule step --ball k_support --tau 60 --note "S17 step, k_support tau60"
$C --methods sfw --schedule step --warmup 0.05 --note "S18 step, k_sparse tau15, warmup0.05"
$C --methods sfw --schedule cosine --ball k_support --warmup 0.02 --momentum 0.95 --note "S19 cosine, k_support tau15, warmup0.02, momentum0.95"
