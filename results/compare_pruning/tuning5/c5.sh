#!/bin/bash
# Batch c5: MNIST, seeds 0-2, for the two other Fashion-MNIST front-runners (T19, T22), so that they are candidates
. results/compare_pruning/tuning5/common.sh
$M --seeds 0 1 2 --methods sfw --k 200 --milestones 0.75 0.9 --note "MT19 T19 (k 200, milestones 0.75/0.9) on MNIST"
$M --seeds 0 1 2 --methods sfw --k 150 --milestones 0.8 0.95 --note "MT22 T22 (k 150, milestones 0.8/0.95) on MNIST"
