#!/bin/bash
# After final4_long.sh (time allowed it): GMP at 80 % and 95 % for Fashion-MNIST 24 epochs, seed 0.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h4final
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 0 \
  --data-dir ../shared/data/keras --sparsities 80 95 --methods gmp --out results/compare_pruning \
  --csv-name results_fashion_mnist_24ep.csv --note final4
