#!/bin/bash
# Stream b: ResNet-18 w0.25 (seed 0), then MNIST 12 epochs.
. results/compare_pruning/final7/common.sh
$P --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --sparsities 0 80 90 95 --methods sgd sfw sgd+bn sfw+bn sgd+rec sfw+rec --rec-calibration 512 --reuse-from $R/results_fashion_mnist_resnet18.csv --reuse-methods gmp --csv-name results_fashion_mnist_resnet18.csv --note final7
$P --dataset mnist --model mnist_cnn --epochs 12 --methods sgd sfw sfw+ft sgd+rec sfw+rec --sparsities 0 80 90 95 --reuse-from $R/results_mnist_12ep.csv --reuse-methods gmp --csv-name results_mnist_12ep.csv --note final7
