#!/bin/bash
# Session-9 fine-tune screen (RULE.md), Fashion-MNIST 6 epochs, validation. Frozen snapshot /tmp/h9snapc (14:07 UTC).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h9snapc
OUT=results/compare_pruning/tuning9
F="python /tmp/h9snapc/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --out $OUT --csv-name tuning_raw_h9.csv"
S="--seeds 0 1 2"
SP="--sparsities 80 90 95"
$F $SP --methods sfw+rec+ft $S --note "D0 label fine-tune lr 0.003"
$F $SP --methods sfw+rec+ft $S --ft-teacher --note "D1 distilled fine-tune lr 0.003"
$F $SP --methods sfw+rec+ft $S --ft-teacher --ft-lr 0.01 --note "D2 distilled fine-tune lr 0.01"
$F $SP --methods sfw+rec+ft $S --ft-teacher --ft-lr 0.001 --note "D3 distilled fine-tune lr 0.001"
