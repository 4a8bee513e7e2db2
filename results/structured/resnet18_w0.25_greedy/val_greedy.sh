#!/bin/bash
# Run 3 of RULE.md (validation split only): activation vs greedy_least_squares at 50 % removed, refit on 2 048
# images. Networks are trained once per setting into /tmp/s10models_<setting> and reloaded for the second score.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h10snap
D=results/structured/resnet18_w0.25_greedy
common="--validation 10000 --runs SGD SFW --fractions 0.5 --latency-repeats 1 --reconstruct 2048 --data-dir ../shared/data/keras"
for score in activation greedy_least_squares; do
  python /tmp/h10snap/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 --seeds 2 \
      $common --score $score --models-dir /tmp/s9models --out $D/val_resnet_seed2_$score
done
for score in activation greedy_least_squares; do
  python /tmp/h10snap/reproduce_structured.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 1 2 \
      $common --score $score --models-dir /tmp/s10models_mnist --out $D/val_mnist_$score
  python /tmp/h10snap/reproduce_structured.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 1 2 \
      $common --score $score --models-dir /tmp/s10models_fmnist --out $D/val_fmnist_$score
done
