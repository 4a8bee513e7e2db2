#!/bin/bash
# Batch 4: seeds 1 and 2 of the candidates (seed 0 is in batches 1-3 / last session's F11, S20)
. results/compare_pruning/tuning4/common.sh
K="--methods sfw --constrain kernels --unconstrained-lr 0.5"
$F $K --seeds 1 2 --note "F16 F11, kernels only, ulr0.5"
$F $K --seeds 1 2 --ball k_support --note "F21 F16 with k_support"
$F $K --seeds 1 2 --milestones 0.75 0.9 --note "F26 F16 with milestones 0.75/0.9"
$F --methods sfw --seeds 1 2 --note "F11 step, k_sparse tau15, warmup0.02, bias unit"
$M $K --seeds 1 2 --note "S22 mnist: F16 (kernels only, ulr0.5)"
$M $K --seeds 1 2 --ball k_support --note "S23 mnist: F21 (kernels only, ulr0.5, k_support)"
$M $K --seeds 0 1 2 --milestones 0.75 0.9 --note "S24 mnist: F26 (kernels only, ulr0.5, milestones 0.75/0.9)"
$M --methods sfw --seeds 1 2 --note "S20 step, k_sparse tau15, warmup0.02, bias unit"
