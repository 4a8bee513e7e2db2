#!/bin/bash
# Stream c (after stream a): the "+rec+ft" rows (the refit model + the 2 % fixed-mask fine-tune), MNIST 2 epochs and
# Fashion-MNIST 6 epochs, 3 seeds. Frozen copy /tmp/h7final2 (the same training code as /tmp/h7final, plus the
# +rec+ft methods): the dense networks are retrained identically (deterministic; their dense accuracy is logged).
. results/compare_pruning/final7/common.sh
export PYTHONPATH=/tmp/h7final2
P="python /tmp/h7final2/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final7"
while pgrep -f "final7/a.sh" >/dev/null; do sleep 10; done
$P --dataset mnist --model mnist_cnn --epochs 2 --methods sgd+rec+ft sfw+rec+ft --sparsities 50 70 80 90 95 98 --csv-name results_mnist.csv --note final7c
$P --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sgd+rec+ft sfw+rec+ft --sparsities 50 70 80 90 95 98 --csv-name results_fashion_mnist.csv --note final7c
