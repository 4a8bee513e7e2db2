#!/bin/bash
# Validation rounds of RULE.md. Usage: val.sh NAME [extra flags]; the networks are trained once into /tmp/s9models.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h9snap
D=results/structured/resnet18_w0.25_ft
name=$1; shift
python /tmp/h9snap/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --validation 10000 --runs SGD SFW --fractions 0.5 --latency-repeats 1 --reconstruct 2048 --score activation \
    --models-dir /tmp/s9models --data-dir ../shared/data/keras --out $D/val_$name "$@"
