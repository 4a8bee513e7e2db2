#!/bin/bash
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s13cp
D=results/compare_pruning/tuning13
python $D/lamp_screen.py fashion_mnist simple_cnn 6 6 7 8 9 10 11 > $D/lamp_fmnist_U_seeds6-11.csv 2> $D/lamp_U.err
python $D/lamp_screen.py fashion_mnist simple_cnn 6 6 7 8 9 10 11 -- --k 300 > $D/lamp_fmnist_k300_seeds6-11.csv 2> $D/lamp_k300.err
