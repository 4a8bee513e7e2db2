# Round 8 screen (RULE.md), Fashion-MNIST 6 epochs, validation split.
. results/compare_pruning/tuning8/common.sh
$F $SP --methods sfw sfw+rec $S --note "W0 session-7 defaults (baseline rerun)"
$F $SP --methods sfw sfw+rec $S --k-annealing-until 0.75 --note "W1 K annealing until 0.75"
$F $SP --methods sfw sfw+rec $S --k-frac 0.1 --note "W2 final k_frac 0.1"
$F $SP --methods sfw sfw+rec $S --k-annealing-until 0.75 --k-frac 0.1 --note "W3 until 0.75 + k_frac 0.1"
$F $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 --note "W4 K annealing 1.0,0.3 until 0.5"
$F $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 0.1 0.05 --k-annealing-until 0.75 --note "W5 K annealing 1.0,0.3,0.1,0.05 until 0.75"
$F $SP --methods sgd sgd+rec $S --note "WB sgd reference"
