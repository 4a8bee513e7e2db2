#!/bin/bash
# Session 11: are session 8's test-set gaps robust? The same configuration (the current defaults = session 8's
# recipe; nothing chosen here) on three more seeds, 3-5, for the settings whose bars were missed by < 1 point.
# Frozen copy /tmp/s11cp (tf_sfw + compare_pruning.py at commit 2025e70). Test sets; no decision is taken from this.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s11cp
P="python /tmp/s11cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/seeds11 --seeds 3 4 5 --note seeds11"
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --sparsities 0 80 90 95 --methods sgd sfw sfw+rec sfw+rec+ft gmp --csv-name results_fashion_mnist.csv
$P --dataset mnist --model mnist_cnn --epochs 12 --sparsities 0 80 90 --methods sgd sfw sfw+rec gmp --csv-name results_mnist_12ep.csv
