#!/bin/bash
# Session 14. Frozen copy /tmp/s14 (tf_sfw + compare_pruning.py at commit ff050bc, with ft_budget.py's own fine-tune then;
# a rerun needs a compare_pruning.py whose fine_tuned_row repeats the data for budgets over an epoch).
# (1) Test set, no choice made from it: GMP at 80 and 95 % on Fashion-MNIST 24 epochs had seed 0 only (final8);
#     seeds 1 and 2 complete the three-seed head-to-head (same code, data, schedule as final8's GMP rows).
# (2) Validation split, diagnostic: fine-tune budget at the fixed mask (ft_budget.py).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s14
python /tmp/s14/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final14 --note final14 \
  --dataset fashion_mnist --model simple_cnn --epochs 24 --seeds 1 2 --sparsities 80 95 --methods gmp \
  --csv-name gmp_fashion_mnist_24ep.csv
D=results/compare_pruning/diag14
python $D/ft_budget.py fashion_mnist simple_cnn 24 0 1 2 > $D/ft_budget_fmnist24.csv 2> $D/ft_budget_fmnist24.err
python $D/ft_budget.py fashion_mnist simple_cnn 6 0 1 2 > $D/ft_budget_fmnist6.csv 2> $D/ft_budget_fmnist6.err
