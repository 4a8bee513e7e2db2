#!/bin/bash
# Session 10: issue 14's simple_cnn and mnist_cnn bars were met on seed 0 only (results/structured/fashion_mnist_simple_cnn,
# mnist_mnist_cnn). The same commands on seeds 0, 1, 2 (test sets; nothing tuned): the settings of those runs (kernel-norm
# scores, layerwise, no refit), fractions 50 / 70 %, 2 % fine-tune. Frozen copy /tmp/h10snap2.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10snap2
D=results/structured/three_seeds
python /tmp/h10snap2/reproduce_structured.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 1 2 \
    --fractions 0.5 0.7 --latency-repeats 20 --data-dir ../shared/data/keras --out $D/fashion_mnist_simple_cnn
python /tmp/h10snap2/reproduce_structured.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 1 2 \
    --fractions 0.5 0.7 --latency-repeats 20 --data-dir ../shared/data/keras --out $D/mnist_mnist_cnn
