#!/bin/bash
# Diagnostic (no choice is made from it): why did validation predict a Fashion-MNIST dense gap of -0.09 and the
# test set show -1.19? The networks of the validation split (trained on the first 50 000 training images: --subset
# 50000 keeps exactly those, and the full 10 000-image test set) evaluated on the test set. Frozen copy /tmp/h8final.
. results/compare_pruning/final8/common.sh
python /tmp/h8final/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/diag8 \
    --dataset fashion_mnist --model simple_cnn --epochs 6 --subset 50000 --sparsities 0 --methods sgd sfw \
    --csv-name results_50k_on_test.csv --note diag8
