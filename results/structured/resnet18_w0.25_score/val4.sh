#!/bin/bash
# Validation round 3 of RULE.md (addendum 3): V4 = --score activation, refit on 2048 images, --mode global.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8struct
python /tmp/h8struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --validation 10000 --runs SGD SFW --fractions 0.5 --latency-repeats 3 --reconstruct 2048 --score activation \
    --mode global --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_score/val_activation_rec2048_global
