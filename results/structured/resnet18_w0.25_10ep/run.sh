#!/bin/bash
# Session 9: the width-0.25 ResNet-18 trained 10 epochs instead of 2 (4 690 steps; the 2 % fine-tune is then
# 93 steps instead of 18), session 8's structured-pruning choice (activation score, refit on 2 048 images),
# test set, seed 0. No setting was tuned for this run; it asks whether a longer-trained network (and the
# larger fine-tune budget that comes with it) meets issue 14's 50 % bar. Frozen snapshot /tmp/h9snap10.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h9snap10
python /tmp/h9snap10/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 10 \
    --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 10 --reconstruct 2048 --score activation \
    --models-dir /tmp/s9models10 --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_10ep
