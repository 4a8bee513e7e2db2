#!/bin/bash
# tf-sfw demo with the session-7 defaults (K annealing 1.0 / 0.3 / 0.1 over the first half; SGD and SFW columns
# refit by least squares on 1 024 training images; the exported 90 % SFW model refit too), frozen copy /tmp/h7demo/pkg.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h7demo/pkg
python -m tf_sfw.cli.main demo --data-dir ../shared/data/keras --out /tmp/h7demo/runs --export-dir /tmp/h7demo/saved --verbose 0
cp /tmp/h7demo/runs/demo.csv /tmp/h7demo/runs/demo.json /tmp/h7demo/runs/demo.png results/compare_pruning/demo7/
