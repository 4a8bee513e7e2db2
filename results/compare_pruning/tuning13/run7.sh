#!/bin/bash
# Information only (RULE.md): tau 10 in the other settings. Frozen copy /tmp/s13cp (commit 65326d3).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s13cp
while pgrep -f "tuning13/run6.sh" >/dev/null; do sleep 5; done
P="python /tmp/s13cp/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/tuning13 --validation 10000 --sparsities 0 80 90 95"
$P --seeds 0 1 2 --dataset fashion_mnist --model simple_cnn --epochs 24 --methods sfw sfw+rec --tau 10 --csv-name fmnist24_tau10.csv --note "S13 tau 10, 24 ep (information)"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 2 --methods sfw sfw+rec --tau 10 --csv-name mnist2_tau10.csv --note "S13 tau 10, MNIST 2 ep (information)"
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 12 --methods sfw sfw+rec --tau 10 --csv-name mnist12_tau10.csv --note "S13 tau 10, MNIST 12 ep (information)"
