#!/bin/bash
# Batch c2 (stream b)
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 --methods sfw --k 150 --momentum 0.8 --note "T13 T2 (k 150) + momentum 0.8"
$F --seeds 0 --methods sfw --k 500 --note "T14 F21 with k 500"
$F --seeds 0 --methods sfw --k 150 --tau 30 --note "T15 T2 (k 150) + tau 30"
$F --seeds 0 --methods sfw --k 150 --sfw-lr 2.0 --warmup 0.05 --note "T16 T2 (k 150) + sfw lr 2.0, warmup 0.05"
