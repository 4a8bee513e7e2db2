#!/bin/bash
# The Done-when runs of issue 13: the Keras 3 demo on the JAX and TensorFlow backends, one after the other.
cd "$(dirname "$0")/../.." && . .venv/bin/activate
for backend in tensorflow jax; do
  /usr/bin/time -v nice -n 5 tf-sfw demo --keras 3 --backend $backend --epochs 2 --data-dir /work/shared/data/keras \
    --out results/keras3/demo_$backend --export-dir results/keras3/demo_$backend/export \
    > results/keras3/demo_$backend.log 2>&1
done
