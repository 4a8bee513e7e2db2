#!/bin/bash
# Session 4: the head-to-head on the TEST sets with the recipe chosen on the validation split
# (tuning4/RULE.md), = the new defaults of tf_sfw.recipe_math.DEFAULTS / compare_pruning.py.
# SGD and SFW rows are trained here; the GMP rows (same data, batch, epochs, SGD and schedule;
# unchanged by the SFW recipe) are copied from the previous recipe's runs (previous_recipe/).
# Usage: final4.sh mnist|fashion_mnist
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h4final
if [ "$1" = mnist ]; then M="--dataset mnist --model mnist_cnn --epochs 2"; else M="--dataset fashion_mnist --model simple_cnn --epochs 6"; fi
nice -n 5 python /tmp/h4final/compare_pruning.py $M --seeds 0 1 2 --data-dir ../shared/data/keras \
  --sparsities 0 50 70 80 90 95 98 --out results/compare_pruning --csv-name results_$1.csv \
  --methods sgd sfw sgd+ft sfw+ft sgd+wanda sfw+wanda sgd+wanda_lw sfw+wanda_lw \
  --reuse-from results/compare_pruning/previous_recipe/results_$1.csv --reuse-methods gmp gmp_equal_total --ft-lr 0.003 --note final4
