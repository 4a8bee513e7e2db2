#!/bin/bash
# Session 10 diagnostic (validation split only; nothing is chosen from it). Session 8's diag8 found that on the test
# protocol SGD gains 0.8 points from the last 10 000 training images while SFW gains nothing, which is why the
# validation split (50 000 training images) predicted a Fashion-MNIST dense gap of -0.09 and the test set showed
# -1.19. Does the same happen one step earlier, 40 000 -> 50 000 training images, on the validation split (last
# 10 000 training images)? And does a larger radius (tau 30) let SFW gain from the extra data?
# Fashion-MNIST, simple_cnn, 6 epochs, seeds 0 and 1, dense accuracy only. Frozen copy /tmp/h10cmp.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10cmp
P="python /tmp/h10cmp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/diag10 \
   --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --sparsities 0 --seeds 0 1"
$P --subset 40000 --methods sgd sfw --csv-name results_40k.csv --note "diag10 40k defaults"
$P --methods sgd sfw --csv-name results_50k.csv --note "diag10 50k defaults"
$P --subset 40000 --methods sfw --tau 30 --csv-name results_40k_tau30.csv --note "diag10 40k tau30"
$P --methods sfw --tau 30 --csv-name results_50k_tau30.csv --note "diag10 50k tau30"
