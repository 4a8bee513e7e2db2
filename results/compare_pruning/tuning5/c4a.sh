#!/bin/bash
# Batch c4 (stream a): FMNIST, seeds 0-2, around T11 (k 150, milestones 0.75/0.9)
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 1 2 --methods sfw --k 150 --milestones 0.75 0.9 --momentum 0.85 --note "T17 T11 + momentum 0.85"
$F --seeds 0 1 2 --methods sfw --k 100 --milestones 0.75 0.9 --note "T18 T11 with k 100"
$F --seeds 0 1 2 --methods sfw --k 200 --milestones 0.75 0.9 --note "T19 T11 with k 200"
