"""Exploration (session 9, validation only): choose the channels by greedy least-squares removal
(ThiNet / Optimal Brain Surgeon for channel blocks), then refit as in V3.

For every prunable channel group and every consumer layer L of it (Conv2D / Dense reading the
group's channels), with H_L = X_L^T X_L + lambda I the Gram matrix of L's input rows on the dense
network (im2col rows; channel c owns the rows {p * C + c}) and W_L its weights scaled per output
by its BatchNorm's |gamma| / sqrt(var + eps): removing the rows B of channel c and re-solving the
least-squares fit of X_L W_L costs

    dE_L(c) = tr(W_B^T [(H_L^{-1})_{BB}]^{-1} W_B)

(the Optimal Brain Surgeon block formula). Greedily, the channel with the smallest sum over the
consumers is removed, H^{-1} and W are updated (W <- W - H^{-1}_{:B} [H^{-1}_{BB}]^{-1} W_B, then
the rows B dropped), until the group has the widths of the layerwise 50 % plan. The activation
score instead sums each channel's own contribution and ignores that the others can compensate.

Usage: PYTHONPATH=. python results/structured/resnet18_w0.25_ft/greedy_ls.py [SGD,SFW [SEED [test]]]
(the networks saved by val.sh in /tmp/s9models; SEED, default 0). Output: greedy_ls*.log.
"""
import importlib.util
import sys
import time

import numpy as np

spec = importlib.util.spec_from_file_location("rs", "scripts/reproduce_structured.py")
rs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rs)
from tf_sfw import data as data_lib  # noqa: E402
from tf_sfw._keras import keras  # noqa: E402
from tf_sfw.pruning.layer_inputs import input_rows  # noqa: E402
from tf_sfw.pruning.reconstruction import refit_shrunk  # noqa: E402
from tf_sfw.pruning.shrink import shrink_model  # noqa: E402
from tf_sfw.pruning.structured import ChannelGraph, scored_groups, structured_plan  # noqa: E402
from tf_sfw.pruning.sweep import evaluate_classifier  # noqa: E402

DAMPING = 0.01


def grams(model, layers, x, batch_size=128):
    inputs = model.inputs[0]
    net = keras.Model(inputs, [model.get_layer(name).input for name in layers])
    out = {name: 0.0 for name in layers}
    for start in range(0, x.shape[0], batch_size):
        values = net(x[start:start + batch_size], training=False)
        values = values if isinstance(values, (list, tuple)) else [values]
        for name, value in zip(layers, values):
            rows = input_rows(model.get_layer(name), np.asarray(value)).astype(np.float64)
            out[name] = out[name] + rows.T @ rows
    return out


def folded_weights(graph, weights, name):
    kernel = np.asarray(weights[name][0], dtype=np.float64)
    w = kernel.reshape(-1, kernel.shape[-1])
    bn = graph.batchnorm_after(name)
    if bn is not None:
        cfg, values = graph.configs[bn], [np.asarray(v, dtype=np.float64) for v in weights[bn]]
        gamma = np.abs(values[0]) if cfg.get("scale", True) else np.ones_like(values[-1])
        w = w * (gamma / np.sqrt(values[-1] + cfg.get("epsilon", 1e-3)))
    return w


def greedy_keep(hs, ws, size, keep):
    """Channels kept after greedy OBS removal of ``size - keep`` channels over the consumers."""
    state = []
    for h, w in zip(hs, ws):
        h = h + DAMPING * np.mean(np.diag(h)) * np.eye(h.shape[0])
        state.append([np.linalg.inv(h), w.copy(), np.arange(h.shape[0])])  # Hinv, W, original row ids
    alive = list(range(size))
    while len(alive) > keep:
        total = np.zeros(len(alive))
        for hinv, w, rows in state:
            channel = rows % size
            pos = np.stack([np.flatnonzero(channel == c) for c in alive])  # (n, b)
            blocks = hinv[pos[:, :, None], pos[:, None, :]]  # (n, b, b)
            wb = w[pos]  # (n, b, m)
            total += np.einsum("nbm,nbm->n", wb, np.linalg.solve(blocks, wb))
        c = alive[int(np.argmin(total))]
        for item in state:
            hinv, w, rows = item
            b = np.flatnonzero(rows % size == c)
            inv_bb = np.linalg.inv(hinv[np.ix_(b, b)])
            w = w - hinv[:, b] @ (inv_bb @ w[b])
            hinv = hinv - hinv[:, b] @ inv_bb @ hinv[b, :]
            left = np.setdiff1d(np.arange(len(rows)), b)
            item[0], item[1], item[2] = hinv[np.ix_(left, left)], w[left], rows[left]
        alive.remove(c)
    return np.array(sorted(alive), dtype=np.int64)


def main():
    runs = sys.argv[1].split(",") if len(sys.argv) > 1 else ["SGD", "SFW"]
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    test = len(sys.argv) > 3 and sys.argv[3] == "test"  # full training set, the test set (else the validation split)
    split = [] if test else ["--validation", "10000"]
    args = rs.parse_args(["--dataset", "fashion_mnist", "--model", "resnet18", "--width", "0.25", "--epochs", "2",
                          *split, "--runs", "SGD", "SFW", "--models-dir", "/tmp/s9models_test" if test else "/tmp/s9models",
                          "--data-dir", "../shared/data/keras", "--reconstruct", "2048", "--score", "activation"])
    (x, y), (xv, yv) = rs.load_data(args, seed)
    val = data_lib.make_eval_dataset(xv, yv, batch_size=256)
    calib = x[:512].astype("float32") / 255.0
    rec_x = x[:2048].astype("float32") / 255.0
    for run in runs:
        model, _ = rs.train(args, run, seed, (x, y), val, print)
        t0 = time.time()
        graph = ChannelGraph(model)
        weights = graph.read_weights()
        reference = structured_plan(scored_groups(graph, weights, "l2", "activation", calib), 0.5, "layerwise")
        groups = graph.groups()
        consumers = {root: graph.consumers(root) for root in groups}
        h = grams(model, sorted({name for names in consumers.values() for name in names}), calib)
        plan = {}
        for root, producers in groups.items():
            keep = len(reference[producers[0]])
            names = consumers[root]
            plan[producers[0]] = greedy_keep([h[n] for n in names], [folded_weights(graph, weights, n) for n in names],
                                             graph.sizes[root], keep)
        shrunk = shrink_model(model, plan)
        refit = refit_shrunk(model, shrunk, plan, rec_x)
        _, acc = evaluate_classifier(refit, val)
        _, acc_a0 = evaluate_classifier(refit_shrunk(model, shrink_model(model, reference), reference, rec_x), val)
        print(f"{run} seed {seed} activation choice (A0/V3), 50 % layerwise: refit acc {100 * acc_a0:.2f}", flush=True)
        overlap = np.mean([len(np.intersect1d(plan[p[0]], reference[p[0]])) / len(reference[p[0]])
                           for p in groups.values()])
        print(f"{run} seed {seed} greedy LS selection, 50 % layerwise: refit acc {100 * acc:.2f} (mean overlap with the "
              f"activation choice {overlap:.2f}; {time.time() - t0:.0f}s)", flush=True)


if __name__ == "__main__":
    main()
