"""Why K annealing loses at 95 % (validation split, Fashion-MNIST simple_cnn 6 epochs, seed 0).
For the defaults and for K annealing (1.0, 0.3, 0.1): the per-layer kept fraction under one
global magnitude threshold, the accuracy when only one layer is pruned at that layer's global
share, and layer-wise pruning. Usage: python diag7.py [--k-annealing 1.0 0.3 0.1]"""
import sys, numpy as np
sys.argv = ["x", "--dataset", "fashion_mnist", "--model", "simple_cnn", "--epochs", "6", "--validation", "10000",
            "--data-dir", "../shared/data/keras", "--methods", "sfw", "--seeds", "0"] + sys.argv[1:]
import importlib.util
spec = importlib.util.spec_from_file_location("cp", "/tmp/h7snap/compare_pruning.py"); cp = importlib.util.module_from_spec(spec); spec.loader.exec_module(cp)
args = cp.parse_args(sys.argv[1:])
setting = cp.Setting(args)
from tf_sfw.pruning import magnitude_masks
ev = lambda m: "%.2f" % (100 * cp.evaluate_masked(setting, model, m)[1])
model, _ = cp.train_dense(setting, "sfw", 0, print)
print("dense", setting.evaluate(model))
for s in (0.9, 0.95):
    masks = magnitude_masks(model, s)
    print(f"--- global {s}:", ev(masks))
    for key, m in masks.items():
        only = {k: (v if k == key else np.ones_like(v)) for k, v in masks.items()}
        print(f"   {key:14s} n {m.size:6d} kept {m.mean():.4f} ({int(m.sum())})  acc if only this layer pruned: {ev(only)}")
    lw = magnitude_masks(model, s, scope="layerwise")
    print(f"--- layerwise {s}:", ev(lw))
