#!/bin/bash
# tf-sfw demo with the session-8 defaults (k_frac 0.1; K annealing 1.0 / 0.3 / 0.1 over the first half; SGD and SFW
# columns refit by least squares on 1 024 training images; the exported 90 % SFW model refit too), frozen copy /tmp/h8demo/pkg.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8demo/pkg
python -m tf_sfw.cli.main demo --data-dir ../shared/data/keras --out /tmp/h8demo/runs --export-dir /tmp/h8demo/saved --verbose 0
cp /tmp/h8demo/runs/demo.csv /tmp/h8demo/runs/demo.json /tmp/h8demo/runs/demo.png results/compare_pruning/demo8/
