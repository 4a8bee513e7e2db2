#!/bin/bash
# Stream a: MNIST 2 epochs and Fashion-MNIST 6 epochs (every SFW method, 3 seeds); then Fashion-MNIST 24 epochs.
. results/compare_pruning/final8/common.sh
SFWROWS="sfw sfw+ft sfw+rec sfw+rec+ft sfw+wanda sfw+wanda_lw"
$P --dataset mnist --model mnist_cnn --epochs 2 --methods $SFWROWS --reuse-from $R/results_mnist.csv --reuse-methods $SGDROWS --csv-name results_mnist.csv --note final8
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --methods $SFWROWS --reuse-from $R/results_fashion_mnist.csv --reuse-methods $SGDROWS --csv-name results_fashion_mnist.csv --note final8
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+ft sfw+rec sfw+rec+ft --sparsities 0 80 90 95 --reuse-from $R/results_fashion_mnist_24ep.csv --reuse-methods sgd sgd+rec gmp --csv-name results_fashion_mnist_24ep.csv --note final8
