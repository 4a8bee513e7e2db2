#!/bin/bash
# Stream a: MNIST 2 epochs and Fashion-MNIST 6 epochs, every method but GMP retrained, 3 seeds; then the longer runs.
. results/compare_pruning/final7/common.sh
NOGMP="sgd sfw sgd+ft sfw+ft sgd+wanda sfw+wanda sgd+wanda_lw sfw+wanda_lw sgd+rec sfw+rec"
$P --dataset mnist --model mnist_cnn --epochs 2 --methods $NOGMP --reuse-from $R/results_mnist.csv --reuse-methods gmp gmp_equal_total --csv-name results_mnist.csv --note final7
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --methods $NOGMP --reuse-from $R/results_fashion_mnist.csv --reuse-methods gmp gmp_equal_total --csv-name results_fashion_mnist.csv --note final7
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sgd sfw sfw+ft sgd+rec sfw+rec --sparsities 0 80 90 95 --reuse-from $R/results_fashion_mnist_24ep.csv --reuse-methods gmp --csv-name results_fashion_mnist_24ep.csv --note final7
