#!/bin/bash
# Stream a: MNIST 2 epochs and Fashion-MNIST 6 epochs, every method, 3 seeds; then Fashion-MNIST 24 epochs
. results/compare_pruning/final5/common.sh
$P --dataset mnist --model mnist_cnn --epochs 2 --csv-name results_mnist.csv --note final5
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --csv-name results_fashion_mnist.csv --note final5
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sgd sfw sfw+ft --sparsities 0 80 90 95 --csv-name results_fashion_mnist_24ep.csv --note final5
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --methods gmp --sparsities 90 --csv-name results_fashion_mnist_24ep.csv --note final5
$P --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 0 --methods gmp --sparsities 80 95 --csv-name results_fashion_mnist_24ep.csv --note final5
