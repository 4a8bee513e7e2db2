#!/bin/bash
# Batch 1: kernels only (biases unconstrained, SGD at --unconstrained-lr on the same schedule), from F11
. results/compare_pruning/tuning4/common.sh
$F --methods sfw --constrain kernels --unconstrained-lr 0.5 --note "F16 F11, kernels only, ulr0.5"
$F --methods sfw --constrain kernels --unconstrained-lr 0.1 --note "F17 F11, kernels only, ulr0.1"
$F --methods sfw --constrain kernels --unconstrained-lr 2.0 --note "F18 F11, kernels only, ulr2.0"
$F --methods sfw --constrain kernels --unconstrained-lr 0.5 --tau 30 --note "F19 F11, kernels only, ulr0.5, tau30"
