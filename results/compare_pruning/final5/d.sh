#!/bin/bash
# Stream d (06:56 UTC): ResNet-18 width 0.25, BatchNorm re-estimation on 20 training batches (--calibration 2560)
# instead of 2, one-shot global (+bn) and layer-wise (+lw_bn). Same package and networks as b.sh / c.sh (retrained, seed 0).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5lw
python /tmp/h5lw/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final5 --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --csv-name results_fashion_mnist_resnet18_calib20.csv --note "final5 calibration 2560" --calibration 2560 --methods sgd+bn sfw+bn sfw+lw_bn --sparsities 0 50 70 80 90 95 98
