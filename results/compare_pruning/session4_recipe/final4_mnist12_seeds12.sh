#!/bin/bash
# Session 4 (lead, after integration): MNIST / mnist_cnn 12 epochs, seeds 1 and 2, every method the
# seed-0 row has (sgd, sfw, sfw+ft, gmp at 80/90/95 %), from a copy of the integrated package
# (commit 0a40e95) taken before the run, so the seed-0 rows of results_mnist_12ep.csv get two more seeds.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/lead/snap
nice -n 5 python /tmp/lead/snap/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 12 --seeds 1 2 \
  --data-dir ../shared/data/keras --sparsities 0 80 90 95 --methods sgd sfw sfw+ft gmp --out results/compare_pruning \
  --csv-name results_mnist_12ep_seeds12.csv --ft-lr 0.003 --note final4_seeds12
