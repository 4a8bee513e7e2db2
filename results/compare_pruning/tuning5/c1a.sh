#!/bin/bash
# Batch c1 (stream a): FMNIST, seed 0, recipe defaults (F21) with one change each
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 --methods sfw --note "T0 F21 (defaults) rerun"
$F --seeds 0 --methods sfw --k 50 --note "T1 F21 with k 50 (min K per kernel)"
$F --seeds 0 --methods sfw --k-frac 0.1 --note "T3 F21 with k_frac 0.1"
$F --seeds 0 --methods sfw --sfw-lr 1.5 --warmup 0.05 --note "T5 F21 with sfw lr 1.5, warmup 0.05"
