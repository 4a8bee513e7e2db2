#!/bin/bash
# Batch c4 (stream b)
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 1 2 --methods sfw --k 150 --milestones 0.75 0.9 --unconstrained-lr 1.0 --note "T20 T11 + unconstrained lr 1.0"
$F --seeds 0 1 2 --methods sfw --k 150 --milestones 0.75 0.9 --warmup 0.05 --note "T21 T11 + warmup 0.05"
$F --seeds 0 1 2 --methods sfw --k 150 --milestones 0.8 0.95 --note "T22 T11 with milestones 0.8/0.95"
# MNIST, seeds 0-2: SGD baseline, current defaults (S23) and T2 / T11
$M --seeds 0 1 2 --methods sgd --note "MB0 sgd (baseline) rerun"
$M --seeds 0 1 2 --methods sfw --k 150 --note "MT2 T2 (k 150) on MNIST"
$M --seeds 0 1 2 --methods sfw --k 150 --milestones 0.75 0.9 --note "MT11 T11 (k 150, milestones 0.75/0.9) on MNIST"
