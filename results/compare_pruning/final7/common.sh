# Session-7 test runs: frozen copy of tf_sfw/ + scripts/compare_pruning.py in /tmp/h7final (taken 09:15 UTC:
# the recipe with K annealing (1.0, 0.3, 0.1 over the first half) and the +rec one-shot rows). Test sets, seeds 0-2.
# GMP and gmp_equal_total rows are copied from session 5's runs (final5/, same code, schedule, seeds and data:
# tf_sfw/pruning/gmp.py, the data and model code and the SGD/GMP schedule are unchanged since) with --reuse-from.
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h7final
P="python /tmp/h7final/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final7"
R=results/compare_pruning
