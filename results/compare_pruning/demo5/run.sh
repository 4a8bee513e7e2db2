#!/bin/bash
# tf-sfw demo with the session-5 defaults (k 150, milestones 0.75 / 0.9), frozen copy /tmp/h5final (05:49 UTC)
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5final
python -m tf_sfw.cli.main demo --data-dir ../shared/data/keras --out /tmp/h5demo/runs --export-dir /tmp/h5demo/saved --verbose 0
cp /tmp/h5demo/runs/demo.csv /tmp/h5demo/runs/demo.json /tmp/h5demo/runs/demo.png results/compare_pruning/demo5/
