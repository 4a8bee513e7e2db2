#!/bin/bash
# Stream b: MNIST 12 epochs (3 seeds), then the ResNet-18 w0.25 (seed 0).
. results/compare_pruning/final8/common.sh
$P --dataset mnist --model mnist_cnn --epochs 12 --methods sfw sfw+ft sfw+rec sfw+rec+ft --sparsities 0 80 90 95 --reuse-from $R/results_mnist_12ep.csv --reuse-methods sgd sgd+rec gmp --csv-name results_mnist_12ep.csv --note final8
$P --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --sparsities 0 80 90 95 --methods sfw sfw+bn sfw+rec --rec-calibration 512 --reuse-from $R/results_fashion_mnist_resnet18.csv --reuse-methods sgd sgd+bn sgd+rec gmp --csv-name results_fashion_mnist_resnet18.csv --note final8
