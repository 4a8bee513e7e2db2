# Round 8, MNIST 2 epochs (validation) for every configuration whose Fashion-MNIST sum reached the baseline's
# (W1-W5 all did: 351.11-351.34 vs W0 350.19); runs after w1.sh.
. results/compare_pruning/tuning8/common.sh
while pgrep -f "tuning8/w1.sh" >/dev/null; do sleep 5; done
$M $SP --methods sfw sfw+rec $S --note "W0 session-7 defaults (baseline rerun)"
$M $SP --methods sfw sfw+rec $S --k-annealing-until 0.75 --note "W1 K annealing until 0.75"
$M $SP --methods sfw sfw+rec $S --k-frac 0.1 --note "W2 final k_frac 0.1"
$M $SP --methods sfw sfw+rec $S --k-annealing-until 0.75 --k-frac 0.1 --note "W3 until 0.75 + k_frac 0.1"
$M $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 --note "W4 K annealing 1.0,0.3 until 0.5"
$M $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 0.1 0.05 --k-annealing-until 0.75 --note "W5 K annealing 1.0,0.3,0.1,0.05 until 0.75"
