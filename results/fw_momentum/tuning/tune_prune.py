"""Ad-hoc tuning runs: `python tune_prune.py CHECKPOINT VARIANTS.txt` (one `method sparsity {json options}` per line)."""
import sys, time, json, numpy as np
from tf_sfw._keras import keras
from tf_sfw.models import mnist_cnn
from tf_sfw.pruning import iterative as it
d = np.load("/work/shared/data/keras/datasets/mnist.npz")
x = d["x_train"][..., None].astype("float32")/255; y = d["y_train"]
xt = d["x_test"][..., None].astype("float32")/255; yt = d["y_test"]
m = mnist_cnn(); m.load_weights(sys.argv[1])  # checkpoint written by make_checkpoint.py
for line in open(sys.argv[-1]):
    if not line.strip(): continue
    meth, s, o = line.split(None, 2); o = json.loads(o); s = float(s)
    t = time.time(); p, h = it.prune(meth, m, (x, y), s, **o)
    p.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    r = p.evaluate(xt, yt, batch_size=1000, verbose=0)
    ch = [rec["mask_changes"] for rec in h["iterations"]]; ftl = [round(rec["fine_tune_loss"],3) for rec in h["iterations"] if rec["fine_tune_loss"]==rec["fine_tune_loss"]]
    per = {k: int(v.sum()) for k, v in h["masks"].items()}
    print(meth, s, o, "acc %.4f loss %.4f nz %.4f ex %d time %.1f" % (r[1], r[0], h["nonzero_fraction"], h["fine_tune_examples"], time.time()-t), "changes", ch, "ftl", ftl, round(h["fine_tune_loss"],3), per, flush=True)
