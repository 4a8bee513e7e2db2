# Session-8 test runs: frozen copy of tf_sfw/ + scripts/compare_pruning.py in /tmp/h8final (taken 12:52 UTC:
# the recipe with k_frac 0.1, chosen on the validation split in tuning8/). Test sets, seeds 0-2.
# Only the SFW rows are retrained. The SGD-based rows (sgd, sgd+ft, sgd+rec, sgd+rec+ft, sgd+wanda, sgd+wanda_lw,
# sgd+bn) are copied from session 7's final7/ files and GMP / gmp_equal_total from there too (session 5's runs):
# same code, data, seeds and schedule for everything that is not SFW (--reuse-from).
cd /work/main && . .venv/bin/activate
export PYTHONPATH=/tmp/h8final
P="python /tmp/h8final/compare_pruning.py --data-dir ../shared/data/keras --out results/compare_pruning/final8"
R=results/compare_pruning/final7
SGDROWS="sgd sgd+ft sgd+rec sgd+rec+ft sgd+wanda sgd+wanda_lw gmp gmp_equal_total"
