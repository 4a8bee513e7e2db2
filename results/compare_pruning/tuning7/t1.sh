. results/compare_pruning/tuning7/common.sh
KA=0.05,0.05 TA=1,0.333333 $FT --methods sfw $S --note "T1 defaults + radius x1/3 (tau 15->5) for the second half"
KA=1.0,0.3,0.1,0.05,0.05,0.05 TA=1,1,1,0.333333,0.333333,0.333333 $FT --methods sfw $S --note "T2 K annealing 1.0,0.3,0.1 (first half) + radius x1/3 second half"
KA=1.0,0.3,0.1,0.05,0.05,0.05 TA=1,1,1,0.166667,0.166667,0.166667 $FT --methods sfw $S --note "T3 K annealing 1.0,0.3,0.1 (first half) + radius x1/6 second half"
KA=1.0,0.3,0.1,0.05,0.05,0.05,0.05,0.05,0.05,0.05,0.05,0.05 $FT --methods sfw $S --note "T4 K annealing 1.0,0.3,0.1 over the first quarter (twelfths)"
