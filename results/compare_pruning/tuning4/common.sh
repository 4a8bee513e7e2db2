# Session-4 tuning (helper H4): frozen snapshot of tf_sfw/ + scripts/compare_pruning.py in /tmp/h4snap
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h4snap
OUT=results/compare_pruning/tuning4
F="nice -n 5 python /tmp/h4snap/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h4.csv --schedule step --warmup 0.02 --bias-norm unit"
M="nice -n 5 python /tmp/h4snap/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --seeds 0 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h4.csv --schedule step --warmup 0.02 --bias-norm unit"
