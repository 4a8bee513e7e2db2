#!/bin/bash
# Round E of RULE.md (addendum 3): seed-1 networks, A0 (activation) and the greedy least-squares choice at 50 %.
D=results/structured/resnet18_w0.25_ft
$D/val.sh E0_seed1 --seeds 1
cd /work/main && . .venv/bin/activate && PYTHONPATH=. python $D/greedy_ls.py SGD,SFW 1 > /tmp/greedy1.log 2>&1
