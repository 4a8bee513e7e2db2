#!/bin/bash
# Test-set run of the validation winner (RULE.md: V2, --score activation): full training set, 10 000 test images,
# SGD and SFW, 30 % and 50 % removed, refit on 512 training images, 2 % fine-tune from the refit model.
# Frozen copy /tmp/h8struct (the same one val.sh used).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8struct
python /tmp/h8struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 3 --reconstruct 512 --score activation \
    --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_score/test_activation
