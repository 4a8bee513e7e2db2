# Session-5 test runs: frozen copy of tf_sfw/ + scripts/compare_pruning.py in /tmp/h5final (taken 05:49 UTC,
# the new defaults: k 150, milestones 0.75 / 0.9 for every method). Test sets, seeds 0-2.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h5final
P="python /tmp/h5final/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final5"
