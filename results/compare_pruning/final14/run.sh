#!/bin/bash
# Session 14 (README.md item 2): tau = 10 on the test sets, Fashion-MNIST 6 and 24 epochs, after diag14/run.sh.
# Frozen copy /tmp/s14 (tf_sfw + compare_pruning.py at commit ff050bc).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s14
while pgrep -f "diag14/run.sh" >/dev/null; do sleep 5; done
P="python /tmp/s14/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final14 --note final14-tau10 --tau 10 --sparsities 0 80 90 95 --methods sfw sfw+ft sfw+rec sfw+rec+ft"
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 1 2 3 4 5 --csv-name tau10_fashion_mnist.csv
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 0 1 2 --csv-name tau10_fashion_mnist_24ep.csv
