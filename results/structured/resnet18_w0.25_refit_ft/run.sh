#!/bin/bash
# Session 7, second run: as ../resnet18_w0.25_refit, but the 2 % fine-tune (18 steps) starts from the refit model
# (structured_sweep passes the refit model to the study's evaluate step). Frozen copy in /tmp/h7struct2.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h7struct2
while pgrep -f "resnet18_w0.25_refit/run.sh" >/dev/null; do sleep 10; done
python /tmp/h7struct2/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
    --runs SGD SFW --fractions 0.3 0.5 --latency-repeats 3 --reconstruct 512 \
    --data-dir ../shared/data/keras --out results/structured/resnet18_w0.25_refit_ft
