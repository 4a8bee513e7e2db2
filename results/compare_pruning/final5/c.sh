#!/bin/bash
# Stream c (added 06:15 UTC): ResNet-18 width 0.25, layer-wise one-shot magnitude rows (+lw, +lw_bn) for SGD and SFW.
# Same package as /tmp/h5final (tf_sfw/ identical); compare_pruning.py with the +lw methods, in /tmp/h5lw.
# The two networks are retrained with the same seed and code, so they are the ones of stream b (dense rows not repeated).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5lw
python /tmp/h5lw/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final5 --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --csv-name results_fashion_mnist_resnet18.csv --note final5 --methods sgd+lw sfw+lw sgd+lw_bn sfw+lw_bn --sparsities 0 50 70 80 90 95 98
