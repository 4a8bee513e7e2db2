#!/bin/bash
# The Keras 3 demo with the session-5 recipe defaults (k 150, milestones 0.75 / 0.9), TensorFlow then JAX backend.
# Frozen copy of the package: /tmp/h5final (05:49 UTC; tf_sfw/ of commit 43ba0c7 except CLI help text).
cd "$(dirname "$0")/../../.." && . .venv/bin/activate
export PYTHONPATH=/tmp/h5final
for backend in tensorflow jax; do
  /usr/bin/time -v python -m tf_sfw.cli.main demo --keras 3 --backend $backend --epochs 2 --data-dir ../shared/data/keras \
    --out results/keras3/session5/demo_$backend --export-dir /tmp/h5k3/export_$backend \
    > results/keras3/session5/demo_$backend.log 2>&1
done
