#!/bin/bash
# RULE_warmup.md screen. Frozen copy /tmp/s11cp2 (tf_sfw + compare_pruning.py).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s11cp2
P="python /tmp/s11cp2/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning11 --validation 10000 --seeds 0 1 2 3 4 5 --sparsities 0 80 90 95"
for W in 0.02 0.05 0.1; do
  $P --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sgd sfw sfw+rec --warmup $W --csv-name fmnist_warmup$W.csv --note "W warmup $W"
done
# Stage 2 (session 12): MNIST mnist_cnn 2 epochs, validation, seeds 0-2, sfw and sfw+rec, W0 vs W2.
for W in 0.02 0.1; do
  python /tmp/s11cp2/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning11 --validation 10000 --seeds 0 1 2 --sparsities 0 80 90 95 \
    --dataset mnist --model mnist_cnn --epochs 2 --methods sfw sfw+rec --warmup $W --csv-name mnist_warmup$W.csv --note "W stage2 warmup $W"
done
