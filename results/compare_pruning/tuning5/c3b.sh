#!/bin/bash
# Batch c3 (stream b)
. results/compare_pruning/tuning5/common.sh
$F --seeds 1 2 --methods sfw --note "T0 F21 (defaults) rerun"
$F --seeds 1 2 --methods sfw --milestones 0.75 0.9 --note "T8 F21 with milestones 0.75/0.9"
$F --seeds 1 2 --methods sfw --k 150 --sfw-lr 2.0 --warmup 0.05 --note "T16 T2 (k 150) + sfw lr 2.0, warmup 0.05"
$F --seeds 1 2 --methods sfw --sfw-lr 1.5 --warmup 0.05 --note "T5 F21 with sfw lr 1.5, warmup 0.05"
