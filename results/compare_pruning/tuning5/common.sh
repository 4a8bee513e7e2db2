# Session-5 tuning: frozen snapshot of tf_sfw/ + scripts/compare_pruning.py in /tmp/h5snap (taken 05:27 UTC from 8b4ca31)
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5snap
OUT=results/compare_pruning/tuning5
F="python /tmp/h5snap/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h5.csv"
M="python /tmp/h5snap/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h5.csv"
