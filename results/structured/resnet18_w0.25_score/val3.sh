#!/bin/bash
# Validation round 2 of RULE.md (addendum): V3 = --score activation with the refit on 2048 training images.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8struct
D=results/structured/resnet18_w0.25_score
python /tmp/h8struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --validation 10000 --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 1 --reconstruct 2048 --score activation \
    --data-dir ../shared/data/keras --out $D/val_activation_rec2048
