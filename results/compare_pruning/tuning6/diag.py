import sys, numpy as np
sys.argv = ["x", "--dataset", "fashion_mnist", "--model", "simple_cnn", "--epochs", "6", "--validation", "10000",
            "--data-dir", "../shared/data/keras", "--methods", "sfw", "--seeds", "0"] + sys.argv[1:]
import importlib.util
spec = importlib.util.spec_from_file_location("cp", "/tmp/h6snap/compare_pruning.py"); cp = importlib.util.module_from_spec(spec); spec.loader.exec_module(cp)
args = cp.parse_args(sys.argv[1:])
setting = cp.Setting(args)
from tf_sfw.recipe import sfw_recipe
from tf_sfw._keras import keras
a = args
model = setting.build(0)
opt, cons, _ = sfw_recipe(model, a.epochs, setting.steps_per_epoch, learning_rate=a.sfw_lr, momentum=a.momentum, tau=a.tau,
            k=a.k, k_frac=a.k_frac, ball=a.ball, rescale=a.rescale, schedule=a.schedule, milestones=tuple(a.milestones),
            factor=a.factor, warmup=a.warmup, bias_norm=a.bias_norm, constrain=a.constrain, unconstrained_learning_rate=a.unconstrained_lr)
model.compile(optimizer=opt, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
h = model.fit(setting.dataset(0), epochs=a.epochs, steps_per_epoch=setting.steps_per_epoch, verbose=0)
print("train loss", [round(x, 4) for x in h.history["loss"]], "acc", [round(x, 4) for x in h.history["accuracy"]])
print("val", setting.evaluate(model))
for path, c in cons.items():
    v = [w for w in model.trainable_weights if w.name.startswith(path.split("/")[0] + "/") and w.name.split("/")[-1].startswith(path.split("/")[-1])]
    if not v or type(c).__name__ == "Unconstrained":
        continue
    x = np.abs(v[0].numpy().ravel())
    n = x.size; K = c.k_for(n); r = c.radius(n)
    print(path, type(c).__name__, "K", K, "r %.4g" % r, "n", x.size,
          "linf/r %.3f" % (x.max() / r), "l2/r %.3f" % (np.sqrt((x**2).sum()) / r), "l1/(sqrtK r) %.3f" % (x.sum() / (r * np.sqrt(K))), "frac_at_bound %.3f" % np.mean(x > 0.99 * r))
x, y = setting.eval
inner = keras.Model(model.inputs, model.get_layer("fc2").output)
h2 = inner.predict(x[:2000].astype("float32") / 255.0, verbose=0)
W, b = model.get_layer("fc3").get_weights()
logits = h2 @ W + b
print("logit abs max mean", np.abs(logits).max(1).mean(), "logit std", logits.std(1).mean(), "margin", np.mean(np.sort(logits,1)[:,-1]-np.sort(logits,1)[:,-2]))
