#!/bin/bash
# Round R of tuning9/RULE.md: the refit's calibration size, validation. Frozen snapshot /tmp/h9snapc (14:07 UTC).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h9snapc
F="python /tmp/h9snapc/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --out results/compare_pruning/tuning9 --csv-name tuning_raw_h9.csv"
for n in 1024 4096 16384; do
  $F --sparsities 80 90 95 --methods sfw+rec --seeds 0 1 2 --rec-calibration $n --note "R rec-calibration $n"
done
