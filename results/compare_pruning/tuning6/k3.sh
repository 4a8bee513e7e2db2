. results/compare_pruning/tuning6/common.sh
while pgrep -f "tuning6/k2.sh" >/dev/null; do sleep 5; done
FK="python /tmp/h6snap/kanneal.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
MK="python /tmp/h6snap/kanneal.py --dataset mnist --model mnist_cnn --epochs 2 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
S="--seeds 0 1 2"
KA=1.0,0.3,0.1,0.05,0.05,0.05 $FK --methods sfw $S --tau 10 --note "KA8 KA2 (K annealing 1.0,0.3,0.1,0.05x3) with tau 10"
KA=0.3,0.1,0.05,0.05,0.05,0.05 $FK --methods sfw $S --tau 10 --note "KA9 K annealing 0.3,0.1,0.05x4 with tau 10"
KA=1.0,0.3,0.1,0.05,0.05,0.05 $MK --methods sfw $S --note "MKA2 K annealing 1.0,0.3,0.1,0.05x3 per sixth"
$M --methods sgd $S --note "MB6 sgd with the default schedule (lr 0.05 mom 0.9, step 0.75/0.9 x0.1, warmup 0.02)"
