#!/bin/bash
# Batch c3 (stream a): seeds 1, 2 of the promising seed-0 configurations (same notes, so they pool with seed 0)
. results/compare_pruning/tuning5/common.sh
$F --seeds 1 2 --methods sgd --note "B0 sgd (baseline) rerun"
$F --seeds 1 2 --methods sfw --k 150 --note "T2 F21 with k 150 (min K per kernel)"
$F --seeds 1 2 --methods sfw --k 150 --milestones 0.75 0.9 --note "T11 T2 (k 150) + milestones 0.75/0.9"
$F --seeds 1 2 --methods sfw --momentum 0.8 --note "T6 F21 with momentum 0.8"
