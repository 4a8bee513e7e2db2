#!/bin/sh
# The study of results/fw_variants. Run from the repository root with the venv active
# (the numbers in README.md were produced from a frozen copy of the package, CODE=/tmp/h3_code,
# so that edits to the working tree during the ~25 min run could not reach the running process).
set -e
CODE=${CODE:-.}
OUT=$(pwd)/results/fw_variants
for seed in 0 1; do
  (cd "$CODE" && nice -n 5 python scripts/compare_fw_variants.py --dataset mnist --model mnist_cnn --seeds $seed \
    --data-dir /work/shared/data/keras --out "$OUT")
  (cd "$CODE" && nice -n 5 python scripts/compare_fw_variants.py --dataset fashion_mnist --model simple_cnn --seeds $seed \
    --data-dir /work/shared/data/keras --out "$OUT")
done
# Follow-up: SVFW and SAGA-FW with the recipe's step at a 10x smaller initial lr (the recipe's
# lr 1.0 without momentum diverged or stalled above).
for seed in 0 1; do
  for ds in "mnist mnist_cnn" "fashion_mnist simple_cnn"; do
    set -- $ds
    (cd "$CODE" && nice -n 5 python scripts/compare_fw_variants.py --dataset $1 --model $2 --seeds $seed \
      --variants svfw saga --vr-lr 0.1 --tag _lr0.1 --data-dir /work/shared/data/keras --out "$OUT")
  done
done
