#!/bin/bash
# Session 11: issue 14's mnist_cnn latency bar. RULE.md (with its addenda) says what was decided and when.
# Frozen package copy /tmp/s11snap2 (= this commit's tf_sfw and scripts/reproduce_structured.py).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/s11snap2
D=results/structured/mnist_cnn_latency_plan
S="python /tmp/s11snap2/reproduce_structured.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 1 2 --fractions 0.5 --data-dir ../shared/data/keras"
# 1. training (validation split: last 10 000 training images held out), the G plan with the old timing protocol
$S --validation 10000 --mode global --score activation --reconstruct 2048 --latency-repeats 20 \
   --models-dir /tmp/s11/val_models --out $D/validation/val_G_training_run
$S --mode global --score activation --reconstruct 2048 --latency-repeats 20 \
   --models-dir /tmp/s11/test_models --out /tmp/s11/out/test_global_activation   # trains the test networks (not read)
# 2. the three plans on the validation networks (new timing protocol)
C="--validation 10000 --reconstruct 2048 --latency-repeats 100 --models-dir /tmp/s11/val_models"
$S $C --mode layerwise --score greedy_least_squares --out $D/validation/val_L
$S $C --mode global --score activation --cost flops --out $D/validation/val_GF
$S $C --mode global --score activation --out $D/validation/val_G2
python $D/time_plans.py $D/validation val_L val_G2 val_GF     # step 2: 5 interleaved timing rounds
# 3. the chosen plan (L) on the test networks
$S --mode layerwise --score greedy_least_squares --reconstruct 2048 --latency-repeats 100 \
   --models-dir /tmp/s11/test_models --out $D/test_L
python $D/time_plans.py $D test_L && mv $D/plan_latency.csv $D/test_L/
