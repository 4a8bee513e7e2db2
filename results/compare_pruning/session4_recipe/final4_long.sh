#!/bin/bash
# Session 4, longer runs, seed 0 only (time), same recipe as final4.sh.
# MNIST 12 epochs: SFW rows trained here; SGD and GMP rows copied from the previous recipe's
# run (previous_recipe/results_mnist_12ep.csv; SGD/GMP are unchanged by the SFW recipe).
# Fashion-MNIST 24 epochs: everything trained here; GMP at 90 % only (time).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h4final
# First `tf-sfw demo` with the new defaults (the README's demo table), from the same snapshot.
(time nice -n 5 python -m tf_sfw.cli.main demo --data-dir ../shared/data/keras --out /tmp/h4demo/runs \
  --export-dir /tmp/h4demo/saved_models/mnist_cnn_sfw_pruned90 --verbose 0) > results/compare_pruning/demo4.out 2>&1
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 12 --seeds 0 \
  --data-dir ../shared/data/keras --sparsities 0 80 90 95 --methods sfw sfw+ft --out results/compare_pruning \
  --csv-name results_mnist_12ep.csv --ft-lr 0.003 --note final4 \
  --reuse-from results/compare_pruning/previous_recipe/results_mnist_12ep.csv --reuse-methods sgd gmp
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 0 \
  --data-dir ../shared/data/keras --sparsities 0 80 90 95 --methods sfw sfw+ft sgd --out results/compare_pruning \
  --csv-name results_fashion_mnist_24ep.csv --ft-lr 0.003 --note final4
nice -n 5 python /tmp/h4final/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 0 \
  --data-dir ../shared/data/keras --sparsities 90 --methods gmp --out results/compare_pruning \
  --csv-name results_fashion_mnist_24ep.csv --note final4
