#!/bin/bash
# The Keras 3 demo with the session-8 recipe defaults (tf_sfw.recipe_math.DEFAULTS: k_frac 0.1, K annealing
# 1.0/0.3/0.1 over the first half, milestones 0.75 / 0.9), TensorFlow then JAX backend.
# Frozen copy of the package: /tmp/h9k3snap (14:49 UTC 2026-11-30; tf_sfw/ of commit 44053e1 plus the session-9
# changes: the Keras 3 demo now also sweeps with the least-squares refit, --reconstruct 1024 by default).
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
export PYTHONPATH=/tmp/h9k3snap
for backend in tensorflow jax; do
  /usr/bin/time -v python -m tf_sfw.cli.main demo --keras 3 --backend $backend --epochs 2 --data-dir ../shared/data/keras \
    --out results/keras3/session9/demo_$backend --export-dir /tmp/h9k3/export_$backend \
    > results/keras3/session9/demo_$backend.log 2>&1
done
