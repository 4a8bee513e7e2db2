#!/bin/bash
# Screening on MNIST / mnist_cnn, 2 epochs, seed 0, validation = last 10,000 training images.
# Runs against a snapshot of the library (commit cca8540 + the new recipe/gmp/activation/batchnorm
# modules) in /tmp/c/snap, because the shared working tree was being edited during the runs.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/c/snap
C="python scripts/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out results/compare_pruning/tuning --csv-name tuning_raw.csv"
$C --methods sgd sfw --schedule step --note "S1 step 0.6/0.85, tau15 (k10 k_frac0.05 lr1 mom0.9 gradient); sgd lr0.05"
$C --methods sfw --schedule constant --note "S0 constant lr (issue/README setting), tau15"
$C --methods sfw --schedule step --tau 30 --note "S2 step, tau30"
$C --methods sfw --schedule cosine --note "S3 cosine, tau15"
$C --methods sfw --schedule step --k-frac 0.1 --note "S4 step, tau15, k_frac0.1"
$C --methods sfw --schedule step --ball k_support --note "S5 step, k_support tau15"
$C --methods sgd --schedule step --sgd-lr 0.1 --note "B1 sgd lr0.1 step"
$C --methods sgd --schedule cosine --note "B2 sgd lr0.05 cosine"
$C --methods sfw --schedule cosine --tau 30 --note "S6 cosine, tau30"
$C --methods sfw --schedule step --momentum 0.95 --note "S7 step, tau15, momentum0.95"
$C --methods sfw --schedule step --sfw-lr 0.5 --note "S8 step, tau15, lr0.5"
$C --methods sfw --schedule step --tau 60 --note "S9 step, tau60"
$C --methods sfw --schedule step --momentum 0.8 --note "S10 step, tau15, momentum0.8"
$C --methods sfw --schedule step --k-frac 0.02 --note "S11 step, tau15, k_frac0.02"
$C --methods sfw --schedule step --sfw-lr 2.0 --note "S12 step, tau15, lr2.0"
$C --methods sfw --schedule step --ball k_support --tau 30 --note "S13 step, k_support tau30"
