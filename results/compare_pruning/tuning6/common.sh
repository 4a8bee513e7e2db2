# Session-6 tuning: frozen snapshot of tf_sfw/ + scripts/compare_pruning.py in /tmp/h6snap (taken 08:15 UTC from 8c10757).
# cp_wrap.py (in this folder) runs compare_pruning.py with recipe_math.NON_KERNEL_PATTERN extended by $EXTRA_UNCONSTRAINED.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h6snap
OUT=results/compare_pruning/tuning6
F="python /tmp/h6snap/cp_wrap.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
M="python /tmp/h6snap/cp_wrap.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
