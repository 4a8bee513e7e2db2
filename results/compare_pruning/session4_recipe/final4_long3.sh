#!/bin/bash
# After final4_long2.sh (time allowed it): Fashion-MNIST 24 epochs, seeds 1 and 2: SGD, SFW (+ft), GMP at 90 %.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h4final
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 1 2 \
  --data-dir ../shared/data/keras --sparsities 0 80 90 95 --methods sfw sfw+ft sgd --out results/compare_pruning \
  --csv-name results_fashion_mnist_24ep.csv --ft-lr 0.003 --note final4
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 1 2 \
  --data-dir ../shared/data/keras --sparsities 90 --methods gmp --out results/compare_pruning \
  --csv-name results_fashion_mnist_24ep.csv --note final4
