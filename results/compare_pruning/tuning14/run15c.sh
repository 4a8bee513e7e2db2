#!/bin/bash
# Screen 15 stage 3 as INFORMATION only (stage 2 failed; RULE.md).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s14
D=results/compare_pruning/tuning14
P="python /tmp/s14/compare_pruning.py --data-dir ../shared/data/keras --out $D --validation 10000 --sparsities 0 80 90 95 --methods sfw sfw+rec --unconstrained-lr 0.25"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --csv-name fmnist24_ulr0.25.csv --note "S15 Q unconstrained lr 0.25, 24 ep"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 12 --csv-name mnist12_ulr0.25.csv --note "S15 Q unconstrained lr 0.25, MNIST 12 ep"
