#!/bin/bash
# Batch 2: from F16 (kernels only, ulr 0.5): rescale, ball, schedule, K
. results/compare_pruning/tuning4/common.sh
K="--methods sfw --constrain kernels --unconstrained-lr 0.5"
$F $K --k-frac 0.02 --note "F20 F16 with k_frac0.02"
$F $K --ball k_support --note "F21 F16 with k_support"
$F $K --schedule cosine --note "F22 F16 with cosine"
$F $K --rescale diameter --sfw-lr 0.3 --note "F23 F16 with rescale diameter, lr0.3"
