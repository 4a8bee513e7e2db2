#!/bin/bash
# Stream b: ResNet-18 width 0.25 on Fashion-MNIST (32x32), 3 epochs, seed 0; then MNIST 12 epochs, 3 seeds
. results/compare_pruning/final5/common.sh
R="$P --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --csv-name results_fashion_mnist_resnet18.csv --note final5"
$R --methods sgd sfw sgd+ft sfw+ft sgd+bn sfw+bn --sparsities 0 50 70 80 90 95 98
$R --methods gmp --sparsities 90 95
$P --dataset mnist --model mnist_cnn --epochs 12 --methods sgd sfw sfw+ft --sparsities 0 80 90 95 --csv-name results_mnist_12ep.csv --note final5
$P --dataset mnist --model mnist_cnn --epochs 12 --methods gmp --sparsities 80 90 95 --csv-name results_mnist_12ep.csv --note final5
