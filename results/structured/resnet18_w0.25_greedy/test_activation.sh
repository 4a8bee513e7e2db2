#!/bin/bash
# Session 10: seeds 1 and 2 of session 8's test run (test3.sh: full training set, 10 000 test images, activation
# score, refit on 2 048 images, 30 % / 50 % removed, 2 % fine-tune), so that the greedy choice is compared with
# it on three seeds. The networks are saved into /tmp/s9models_test (seed 0 is there already) for greedy.py.
# Frozen snapshot of the code: /tmp/h10snap.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10snap
python /tmp/h10snap/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --seeds 1 2 --fractions 0.3 0.5 --latency-repeats 10 --reconstruct 2048 --score activation \
    --models-dir /tmp/s9models_test --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_greedy/test_activation_s12
