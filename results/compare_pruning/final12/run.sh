#!/bin/bash
# Session 12 test runs with the new default constrain="sparse_kernels" (tuning12/RULE_small_kernels.md passed):
# only networks with a kernel of at most k = 150 entries change — simple_cnn (conv1) and the ResNet (its stem);
# mnist_cnn's rows are unchanged by construction. SFW rows retrained; SGD / GMP rows reused (same code, data,
# schedule and seeds): Fashion-MNIST 6 epochs from final8 (seeds 0-2) + seeds11 (seeds 3-5, in
# reuse_fashion_mnist_6ep.csv, the two files concatenated); 24 epochs and the ResNet from final8.
# Frozen copy /tmp/s12final (tf_sfw + compare_pruning.py of the session-12 working tree).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s12final
P="python /tmp/s12final/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final12 --note final12"
F=results/compare_pruning/final8
SFWROWS="sfw sfw+ft sfw+rec sfw+rec+ft sfw+wanda sfw+wanda_lw"
SGDROWS="sgd sgd+ft sgd+rec sgd+rec+ft sgd+wanda sgd+wanda_lw gmp gmp_equal_total"
set -x
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 1 2 3 4 5 --methods $SFWROWS --reuse-from results/compare_pruning/final12/reuse_fashion_mnist_6ep.csv --reuse-methods $SGDROWS --csv-name results_fashion_mnist.csv
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+ft sfw+rec sfw+rec+ft --sparsities 0 80 90 95 --reuse-from $F/results_fashion_mnist_24ep.csv --reuse-methods sgd sgd+rec gmp --csv-name results_fashion_mnist_24ep.csv
$P --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --sparsities 0 80 90 95 --methods sfw sfw+bn sfw+rec --rec-calibration 512 --reuse-from $F/results_fashion_mnist_resnet18.csv --reuse-methods sgd sgd+bn sgd+rec gmp --csv-name results_fashion_mnist_resnet18.csv
