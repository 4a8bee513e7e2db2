#!/bin/bash
# Session-9 fine-tune check on MNIST 12 epochs (RULE.md addendum), validation. Frozen snapshot /tmp/h9snapc.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h9snapc
M="python /tmp/h9snapc/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 12 --validation 10000 --data-dir ../shared/data/keras --out results/compare_pruning/tuning9 --csv-name tuning_raw_h9.csv"
$M --sparsities 80 90 95 --methods sfw+rec+ft --seeds 0 1 2 --note "D0 label fine-tune lr 0.003"
$M --sparsities 80 90 95 --methods sfw+rec+ft --seeds 0 1 2 --ft-teacher --ft-lr 0.01 --note "D2 distilled fine-tune lr 0.01"
