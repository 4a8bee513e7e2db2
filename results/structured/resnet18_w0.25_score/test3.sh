#!/bin/bash
# Test-set run of the round-2 winner (RULE.md addendum 2: V3, --score activation, refit on 2048 training images):
# full training set, 10 000 test images, SGD and SFW, 30 % and 50 % removed, 2 % fine-tune from the refit model.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8struct
python /tmp/h8struct/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 10 --reconstruct 2048 --score activation \
    --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_score/test_activation_rec2048
