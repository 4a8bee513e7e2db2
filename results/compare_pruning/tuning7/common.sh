# Session-7 tuning: frozen snapshot of tf_sfw/ + scripts/compare_pruning.py + tanneal.py in /tmp/h7snap
# (taken 08:53 UTC from f43e5c5 plus the uncommitted k_annealing_until option).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h7snap SNAP=/tmp/h7snap
OUT=results/compare_pruning/tuning7
FT="python /tmp/h7snap/tanneal.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h7.csv"
MT="python /tmp/h7snap/tanneal.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h7.csv"
S="--seeds 0 1 2"
