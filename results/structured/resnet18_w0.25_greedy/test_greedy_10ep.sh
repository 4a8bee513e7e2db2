#!/bin/bash
# Run 4 of RULE.md (addendum 1): greedy least-squares choice on session 9's 10-epoch test networks (seed 0).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10snap
python /tmp/h10snap/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 10 \
    --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 10 --reconstruct 2048 --score greedy_least_squares \
    --models-dir /tmp/s9models10 --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_greedy/test_greedy_10ep
