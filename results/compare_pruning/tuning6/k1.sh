. results/compare_pruning/tuning6/common.sh
while pgrep -f "tuning6/v1.sh" >/dev/null; do sleep 5; done
FK="python /tmp/h6snap/kanneal.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
S="--seeds 0 1 2"
KA=0.5,0.25,0.1,0.05,0.05,0.05 $FK --methods sfw $S --note "KA1 defaults + K annealing k_frac 0.5,0.25,0.1,0.05x3 per sixth of the run (radius fixed)"
KA=1.0,0.3,0.1,0.05,0.05,0.05 $FK --methods sfw $S --note "KA2 defaults + K annealing k_frac 1.0,0.3,0.1,0.05x3 per sixth"
KA=0.2,0.1,0.05,0.05,0.05,0.05 $FK --methods sfw $S --note "KA3 defaults + K annealing k_frac 0.2,0.1,0.05x4 per sixth"
