#!/bin/bash
# Batch c2 (stream a): FMNIST, seed 0: combine T2 (k 150) with T5 / T8
. results/compare_pruning/tuning5/common.sh
$F --seeds 0 --methods sfw --k 300 --note "T9 F21 with k 300"
$F --seeds 0 --methods sfw --k 150 --sfw-lr 1.5 --warmup 0.05 --note "T10 T2 (k 150) + sfw lr 1.5, warmup 0.05"
$F --seeds 0 --methods sfw --k 150 --milestones 0.75 0.9 --note "T11 T2 (k 150) + milestones 0.75/0.9"
$F --seeds 0 --methods sfw --k 150 --sfw-lr 1.5 --warmup 0.05 --milestones 0.75 0.9 --note "T12 T2 + lr 1.5, warmup 0.05, milestones 0.75/0.9"
