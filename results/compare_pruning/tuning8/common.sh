# Session-8 tuning: frozen snapshot of tf_sfw/ + scripts/compare_pruning.py in /tmp/h8snap
# (taken 11:45 UTC from a399c81).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8snap
OUT=results/compare_pruning/tuning8
F="python /tmp/h8snap/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --out $OUT --csv-name tuning_raw_h8.csv"
M="python /tmp/h8snap/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --out $OUT --csv-name tuning_raw_h8.csv"
S="--seeds 0 1 2"
SP="--sparsities 0 80 90 95"
