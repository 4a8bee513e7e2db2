. results/compare_pruning/tuning6/common.sh
EXTRA_UNCONSTRAINED='fc3/kernel' $F --methods sfw --seeds 0 1 2 --note "U1 session-5 defaults + classifier kernel (fc3) unconstrained, SGD at ulr"
