#!/bin/bash
# SFW ResNet-18 (width 0.25) on Fashion-MNIST, 2 epochs on a 10 000-image subset, first 2 000 test images,
# structured sweep at 30% / 50% with BN re-estimation (default, 20 batches), without and with compensation.
cd /work/main && . .venv/bin/activate
D=../shared/data/keras
for c in none zero mean; do
  flag=""; [ "$c" != none ] && flag="--compensate $c"
  nice -n 5 python scripts/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
      --subset 10000 --test-subset 2000 --runs SFW --fractions 0 0.3 0.5 --latency-repeats 3 $flag \
      --data-dir $D --out results/structured/resnet18_w0.25_compensate/$c > results/structured/resnet18_w0.25_compensate/$c.log 2>&1
done
