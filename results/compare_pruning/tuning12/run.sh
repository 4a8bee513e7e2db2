#!/bin/bash
# RULE.md screen. Frozen copy /tmp/s12cp (tf_sfw + compare_pruning.py at the session-12 working tree).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s12cp
P="python /tmp/s12cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning12 --validation 10000 --sparsities 0 80 90 95"
for G in 0.1 0.2; do
  $P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --sfw-sgd-start $G --csv-name fmnist_sgdstart$G.csv --note "G sgd start $G"
done
# Stage 2 (G2 = 0.2 was the better by sfw dense and passed stage 1): MNIST mnist_cnn 2 epochs, seeds 0-2.
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 2 --methods sfw sfw+rec --sfw-sgd-start 0.2 --csv-name mnist_sgdstart0.2.csv --note "G stage2 sgd start 0.2"
# Addendum: the longer settings, W0 vs G2, seeds 0-2 (information for the opt-in; no default chosen from it).
for S in "mnist mnist_cnn 12" "fashion_mnist simple_cnn 24"; do
  set -- $S
  $P --seeds 0 1 2 --dataset $1 --model $2 --epochs $3 --methods sgd sfw sfw+rec --csv-name ${1}_${3}ep_W0.csv --note "G long W0 defaults"
  $P --seeds 0 1 2 --dataset $1 --model $2 --epochs $3 --methods sfw sfw+rec --sfw-sgd-start 0.2 --csv-name ${1}_${3}ep_G2.csv --note "G long sgd start 0.2"
done
# The library's SGD start (SFW sgd_steps), Fashion-MNIST 6 epochs, six seeds, to compare with the script version.
$P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --sfw-sgd-start 0.2 --csv-name fmnist_sgdstart0.2_library.csv --note "G sgd start 0.2 (library SFW sgd_steps)"
# RULE_small_kernels.md: simple_cnn's conv1 (150 entries <= k) trained by SGD.
$P --seeds 0 1 2 3 4 5 --dataset fashion_mnist --model simple_cnn --epochs 6 --methods sfw sfw+rec --sfw-unconstrained conv1/kernel --csv-name fmnist_conv1_sgd.csv --note "U conv1 kernel unconstrained (kernels with <= k entries)"
