#!/bin/bash
# ResNet-18 w0.25 (Fashion-MNIST 32x32, 3 epochs, seed 0) on the VALIDATION split: does constraining BatchNorm
# and biases too (--constrain all) make one-shot pruning of a BatchNorm network work without re-estimation?
# Exploration after the test runs (not a candidate for the defaults). Package: /tmp/h5lw (see final5/c.sh).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5lw
R="python /tmp/h5lw/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning5 --csv-name tuning_raw_resnet_h5.csv --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 3 --seeds 0 --validation 10000 --sparsities 0 80 90 95 --methods sfw sfw+bn"
$R --note "R1 resnet: session-5 recipe (kernels only)"
$R --constrain all --note "R2 resnet: session-5 recipe, every variable constrained (BN gamma/beta, biases)"
