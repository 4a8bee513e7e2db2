#!/bin/bash
# Batch 3: from F16 (kernels only, ulr 0.5): ulr, SFW lr, later milestones, K-support + ulr 2
. results/compare_pruning/tuning4/common.sh
K="--methods sfw --constrain kernels"
$F $K --unconstrained-lr 1.0 --note "F24 F16 with ulr1.0"
$F $K --unconstrained-lr 0.5 --sfw-lr 2.0 --note "F25 F16 with sfw lr2.0"
$F $K --unconstrained-lr 0.5 --milestones 0.75 0.9 --note "F26 F16 with milestones 0.75/0.9"
$F $K --unconstrained-lr 2.0 --ball k_support --note "F27 F18 (ulr2.0) with k_support"
$M $K --unconstrained-lr 0.5 --note "S22 mnist: F16 (kernels only, ulr0.5)"
$M $K --unconstrained-lr 0.5 --ball k_support --note "S23 mnist: F21 (kernels only, ulr0.5, k_support)"
