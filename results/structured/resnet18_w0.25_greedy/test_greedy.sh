#!/bin/bash
# Run 2 of RULE.md: the greedy least-squares choice on the test networks of seeds 0, 1, 2 (reloaded from
# /tmp/s9models_test), otherwise the settings of test_activation.sh / session 8's test3.sh.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10snap
python /tmp/h10snap/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --seeds 0 1 2 --fractions 0.3 0.5 --latency-repeats 10 --reconstruct 2048 \
    --score greedy_least_squares --models-dir /tmp/s9models_test --data-dir ../shared/data/keras \
    --out results/structured/resnet18_w0.25_greedy/test_greedy
