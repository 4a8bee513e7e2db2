#!/bin/bash
# Validation round of RULE.md. Frozen copy of the package + script in /tmp/h8struct (12:05 UTC, a399c81
# plus the uncommitted activation score and --validation).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8struct
D=results/structured/resnet18_w0.25_score
for S in kernel activation; do
  python /tmp/h8struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
      --validation 10000 --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 1 --reconstruct 512 --score $S \
      --data-dir ../shared/data/keras --out $D/val_$S
done
