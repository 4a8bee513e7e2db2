#!/bin/bash
# As run.sh, with the filters ranked by the BatchNorm-folded kernel norm (--score bn_scaled).
cd /work/main && . .venv/bin/activate
D=../shared/data/keras
for c in none mean; do
  flag=""; [ "$c" != none ] && flag="--compensate $c"
  nice -n 5 python scripts/reproduce_structured.py --dataset fashion_mnist --model resnet18 --width 0.25 --epochs 2 \
      --subset 10000 --test-subset 2000 --runs SFW --fractions 0 0.3 0.5 --latency-repeats 3 --score bn_scaled $flag \
      --data-dir $D --out results/structured/resnet18_w0.25_compensate/bn_scaled_$c > results/structured/resnet18_w0.25_compensate/bn_scaled_$c.log 2>&1
done
