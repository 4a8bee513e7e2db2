#!/bin/bash
# MNIST / mnist_cnn, 12 epochs, seed 0 only, a reduced method set (time): the same recipe as final.sh.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 12 --seeds 0 --data-dir ../shared/data/keras \
  --sparsities 0 80 90 95 --methods sgd sfw sfw+ft gmp --out results/compare_pruning --csv-name results_mnist_12ep.csv \
  --schedule step --warmup 0.02 --bias-norm unit --note final
