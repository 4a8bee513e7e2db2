#!/bin/bash
# The head-to-head on the TEST sets with the recipe chosen on the validation split (see README).
# Usage: final.sh mnist|fashion_mnist "<recipe flags>"
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
if [ "$1" = mnist ]; then M="--dataset mnist --model mnist_cnn --epochs 2"; else M="--dataset fashion_mnist --model simple_cnn --epochs 6"; fi
python scripts/compare_pruning.py $M --seeds 0 1 2 --data-dir ../shared/data/keras \
  --sparsities 0 50 70 80 90 95 98 --out results/compare_pruning --csv-name results_$1.csv $2
