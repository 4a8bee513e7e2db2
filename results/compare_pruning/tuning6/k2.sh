. results/compare_pruning/tuning6/common.sh
FK="python /tmp/h6snap/kanneal.py --dataset fashion_mnist --model simple_cnn --epochs 6 --validation 10000 --data-dir ../shared/data/keras --sparsities 0 80 90 95 98 --out $OUT --csv-name tuning_raw_h6.csv"
S="--seeds 0 1 2"
KA=0.05,0.05,0.05,0.05,0.2,0.5 $FK --methods sfw $S --note "KA5 defaults + K growing late: k_frac 0.05x4,0.2,0.5 per sixth"
KA=1.0,0.05,0.05,0.05,0.05,0.05 $FK --methods sfw $S --note "KA4 defaults + K annealing k_frac 1.0 first sixth, then 0.05"
KA=0.05,0.05,0.05,0.05,0.05,0.3 $FK --methods sfw $S --note "KA6 defaults + K growing in the last sixth: k_frac 0.05x5,0.3"
$F --methods sgd $S --note "B6 sgd with the default schedule (lr 0.05 mom 0.9, step 0.75/0.9 x0.1, warmup 0.02)"
