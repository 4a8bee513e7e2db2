#!/bin/bash
# Session 11 diagnostic (test set, nothing chosen from it): is SGD's +0.8 from 50 000 -> 60 000 training images
# (diag8) the extra images or the 20 % more optimizer steps? The first 50 000 images (--subset 50000, as diag8)
# trained 7 epochs (2 737 steps, near the 2 814 of 6 epochs on 60 000) for SGD and SFW, seeds 0-2.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s11cp2
python /tmp/s11cp2/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/diag11 --seeds 0 1 2 \
    --dataset fashion_mnist --model simple_cnn --epochs 7 --subset 50000 --sparsities 0 --methods sgd sfw \
    --csv-name results_50k_7ep.csv --note "diag11 first 50k, 7 epochs"
# the last 50 000 training images instead of the first (a check of the script on the first 50 000, seed 0, first)
python results/compare_pruning/diag11/last50k.py first 0
python results/compare_pruning/diag11/last50k.py last 0 1 2
