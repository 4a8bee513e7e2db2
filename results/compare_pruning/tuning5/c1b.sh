#!/bin/bash
# Batch c1 (stream b)
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 --methods sgd --note "B0 sgd (baseline) rerun"
$F --seeds 0 --methods sfw --k 150 --note "T2 F21 with k 150 (min K per kernel)"
$F --seeds 0 --methods sfw --momentum 0.8 --note "T6 F21 with momentum 0.8"
$F --seeds 0 --methods sfw --milestones 0.75 0.9 --note "T8 F21 with milestones 0.75/0.9"
