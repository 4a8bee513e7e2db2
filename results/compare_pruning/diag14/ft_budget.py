"""Session 14 diagnostic (validation split only; nothing is chosen from it): how many fine-tune steps at the
fixed mask does a one-shot network need to reach gradual magnitude pruning (GMP)?

GMP trains the last part of its run at the target mask; the issue's one-shot rows get a least-squares refit
(no gradient step) or at most 2 % of the run's steps of fine-tune. This measures the accuracy of SFW + refit and
SGD + refit after a fixed-mask fine-tune of 0, 2, 5, 10 and 25 % of the run's steps (SGD, momentum 0.9, constant
lr 0.003 as compare_pruning's +rec+ft rows, batches from the same shuffled stream as theirs, repeated for budgets
longer than an epoch), at 90 and 95 % global sparsity. Trains and fine-tunes through compare_pruning.py's own
Setting / train_dense / fine_tuned_row (on PYTHONPATH; the committed rows ran with a frozen copy of commit ff050bc
and this file's own copy of the fine-tune, since folded into fine_tuned_row: same calls, same batches).

Usage: python results/compare_pruning/diag14/ft_budget.py DATASET MODEL EPOCHS SEED [SEED ...] > OUT.csv
"""
import math
import sys
import time

import compare_pruning as cp  # the frozen copy on PYTHONPATH
from tf_sfw.pruning import magnitude_masks, reconstruct

SPARSITIES = (0.9, 0.95)
BUDGETS = (0.0, 0.02, 0.05, 0.10, 0.25)  # fine-tune steps / the run's training steps
FT_LR = 0.003


def main():
    dataset, model_name, epochs, seeds = sys.argv[1], sys.argv[2], sys.argv[3], [int(s) for s in sys.argv[4:]]
    args = cp.parse_args(["--data-dir", "../shared/data/keras", "--validation", "10000", "--dataset", dataset,
                          "--model", model_name, "--epochs", epochs, "--methods", "sfw", "--out", "/tmp/diag14"])
    setting = cp.Setting(args)
    print("dataset,model,epochs,seed,network,target_sparsity,ft_budget,ft_steps,accuracy,wall_s", flush=True)
    for seed in seeds:
        for network in ("sfw", "sgd"):
            model, _ = cp.train_dense(setting, network, seed, lambda m: print(m, file=sys.stderr))
            _, dense = setting.evaluate(model)
            print(f"{dataset},{model_name},{epochs},{seed},{network},0.0,0.0,0,{100 * dense:.2f},0", flush=True)
            for s in SPARSITIES:
                masks = magnitude_masks(model, s)
                rebuilt = reconstruct(model, masks, setting.rec_calibration_x)
                for budget in BUDGETS:
                    t0 = time.time()
                    if budget == 0.0:
                        steps, acc = 0, setting.evaluate(rebuilt)[1]
                    else:
                        steps = max(1, math.floor(budget * setting.total_steps))
                        acc = cp.fine_tuned_row(setting, rebuilt, masks, seed, FT_LR, steps)["test_accuracy"]
                    print(f"{dataset},{model_name},{epochs},{seed},{network},{s},{budget},{steps},{100 * acc:.2f},"
                          f"{time.time() - t0:.0f}", flush=True)


if __name__ == "__main__":
    main()
