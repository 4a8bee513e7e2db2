"""Tuning hack (not the library): K and radius annealing by chunks. $KA = comma list of k_frac per
chunk, $TA = comma list of radius factors per chunk (same length; chunks split the run's steps
evenly). Between chunks the resolved constraints' k_frac and radius (mode "radius" value, relative to
the radius resolved at the start) are set and the train function retraced."""
import os, sys, time, importlib.util
SNAP = os.environ["SNAP"]
spec = importlib.util.spec_from_file_location("compare_pruning", f"{SNAP}/compare_pruning.py")
cp = importlib.util.module_from_spec(spec); spec.loader.exec_module(cp)
KA = [float(x) for x in os.environ["KA"].split(",")]
TA = [float(x) for x in os.environ.get("TA", ",".join(["1"] * len(KA))).split(",")]
assert len(KA) == len(TA)
_orig = cp.train_dense


def train_dense(setting, optimizer_name, seed, log):
    if optimizer_name != "sfw":
        return _orig(setting, optimizer_name, seed, log)
    from tf_sfw.recipe import sfw_recipe
    a = setting.args
    model = setting.build(seed)
    optimizer, constraints, _ = sfw_recipe(
        model, a.epochs, setting.steps_per_epoch, learning_rate=a.sfw_lr, momentum=a.momentum, tau=a.tau,
        k=a.k, k_frac=a.k_frac, ball=a.ball, rescale=None if a.rescale == "none" else a.rescale,
        schedule=a.schedule, milestones=tuple(a.milestones), factor=a.factor, warmup=a.warmup,
        bias_norm=a.bias_norm, constrain=a.constrain, unconstrained_learning_rate=a.unconstrained_lr)
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    sets = [c for _, c in constraints.items() if getattr(c, "is_constrained", False) and hasattr(c, "k_frac")]
    radius0 = [c.value for c in sets]
    assert all(c.mode == "radius" for c in sets)
    total = setting.total_steps
    n = len(KA)
    bounds = [round(i * total / n) for i in range(n + 1)]
    ds = setting.dataset(seed)
    t0 = time.time()
    for i, (kf, tf_) in enumerate(zip(KA, TA)):
        for c, r0 in zip(sets, radius0):
            c.k_frac = kf
            c.value = r0 * tf_
        model.train_function = None
        steps = bounds[i + 1] - bounds[i]
        h = model.fit(ds.skip(bounds[i]).take(steps), epochs=1, steps_per_epoch=steps, verbose=0)
    wall = time.time() - t0
    log(f"  sfw seed {seed}: {wall:.0f}s, final train loss {h.history['loss'][-1]:.4f} (KA {KA}, TA {TA})")
    return model, wall


cp.train_dense = train_dense
cp.main(sys.argv[1:])
