#!/bin/bash
# Runs final4.sh (MNIST 2 ep, Fashion-MNIST 6 ep; 3 seeds) then final4_long.sh, one after the other.
cd /work/main
bash results/compare_pruning/final4.sh mnist > results/compare_pruning/final4_mnist.out 2>&1
bash results/compare_pruning/final4.sh fashion_mnist > results/compare_pruning/final4_fashion_mnist.out 2>&1
bash results/compare_pruning/final4_long.sh > results/compare_pruning/final4_long.out 2>&1
