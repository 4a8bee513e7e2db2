#!/bin/bash
# Screen 15 (RULE.md): unconstrained lr 0.25 on the validation split; each stage only if the previous one passed.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s14
D=results/compare_pruning/tuning14
P="python /tmp/s14/compare_pruning.py --data-dir ../shared/data/keras --out $D --validation 10000 --sparsities 0 80 90 95 --methods sfw sfw+rec --unconstrained-lr 0.25"
$P --seeds 0 1 2 3 4 5 6 7 8 9 10 11 --dataset fashion_mnist --model simple_cnn --epochs 6 --csv-name fmnist_ulr0.25.csv --note "S15 Q unconstrained lr 0.25"
python $D/summarize.py | grep "Fashion-MNIST 6 epochs.*Q (" | grep -q "pass" || exit 0
$P --seeds 0 1 2 --dataset mnist --model mnist_cnn --epochs 2 --csv-name mnist2_ulr0.25.csv --note "S15 Q unconstrained lr 0.25, MNIST 2 ep"
