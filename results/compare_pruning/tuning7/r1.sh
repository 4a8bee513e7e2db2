# Round 7b (RULE.md addendum); snapshot /tmp/h7snap refreshed with tf_sfw.pruning.reconstruction and the +rec methods.
. results/compare_pruning/tuning7/common.sh
F="python /tmp/h7snap/compare_pruning.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --out $OUT --csv-name tuning_raw_h7.csv"
M="python /tmp/h7snap/compare_pruning.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --out $OUT --csv-name tuning_raw_h7.csv"
SP="--sparsities 0 80 90 95 98"
for X in "$F" "$M"; do
  $X $SP --methods sfw sfw+rec $S --note "R0 defaults, +rec"
  $X $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 0.1 --note "R1 K annealing 1.0,0.3,0.1 until 0.5, +rec"
  $X $SP --methods sfw sfw+rec $S --k-annealing 1.0 0.3 0.1 --k-annealing-until 0.25 --note "R2 K annealing 1.0,0.3,0.1 until 0.25, +rec"
  $X $SP --methods sgd sgd+rec $S --note "RB sgd, +rec (reference)"
  $X --sparsities 80 90 95 --methods gmp $S --note "RG gmp (reference)"
done
