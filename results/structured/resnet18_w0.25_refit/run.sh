#!/bin/bash
# Session 7: structured pruning of the width-0.25 ResNet-18 with the least-squares refit of every layer
# (refit_shrunk), full Fashion-MNIST, 2 epochs, as the session-4 "_full" run. Frozen copy in /tmp/h7struct.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h7struct
python /tmp/h7struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --fractions 0 0.3 0.5 --latency-repeats 3 --reconstruct 512 \
    --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_refit
