#!/bin/bash
# Batch 5: fine-tune lr of the "+ft" rows (<= 2 % of the steps, fixed mask), on F16, seed 0
. results/compare_pruning/tuning4/common.sh
$F --methods sfw sfw+ft --constrain kernels --unconstrained-lr 0.5 --ft-lr 0.003 0.01 0.03 --note "FT1 F16 + fine-tune lr 0.003/0.01/0.03"
