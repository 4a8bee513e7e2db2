#!/bin/bash
# Keras 3 update-step bench (issue 13): SFW vs SGD-momentum over ResNet-18's variables, per backend.
cd "$(dirname "$0")/../.." && . .venv/bin/activate
for backend in jax tensorflow torch; do
  TF_CPP_MIN_LOG_LEVEL=3 JAX_PLATFORMS=cpu nice -n 5 python scripts/bench_optimizer.py --keras 3 --backend $backend \
    --repeats 21 --warmup 3 --json results/bench/keras3_$backend.json > results/bench/keras3_$backend.txt 2>&1
done
