"""Exploration (session 9, validation only): remove the channels in several steps, each scored by
activation on the network refit so far, each step refit to the dense outputs.

Usage: PYTHONPATH=. python results/structured/resnet18_w0.25_ft/iterative.py 0.75,0.5 [SGD,SFW]
(cumulative kept fractions; the networks saved by val.sh in /tmp/s9models). Outputs: iterative_*.log."""
import importlib.util
import sys
import time

spec = importlib.util.spec_from_file_location("rs", "scripts/reproduce_structured.py")
rs = importlib.util.module_from_spec(spec); spec.loader.exec_module(rs)
from tf_sfw import data as data_lib
from tf_sfw.pruning.structured import ChannelGraph, scored_groups, structured_plan
from tf_sfw.pruning.shrink import shrink_model
from tf_sfw.pruning.reconstruction import refit_shrunk
from tf_sfw.pruning.sweep import evaluate_classifier

steps = [float(s) for s in sys.argv[1].split(",")]  # cumulative kept fractions, e.g. 0.75,0.5
runs = sys.argv[2].split(",") if len(sys.argv) > 2 else ["SGD", "SFW"]
args = rs.parse_args(["--dataset", "fashion_mnist", "--model", "resnet18", "--width", "0.25", "--epochs", "2",
                      "--validation", "10000", "--runs", "SGD", "SFW", "--models-dir", "/tmp/s9models",
                      "--data-dir", "../shared/data/keras", "--reconstruct", "2048", "--score", "activation"])
(x, y), (xv, yv) = rs.load_data(args, 0)
val = data_lib.make_eval_dataset(xv, yv, batch_size=256)
score_x = x[:512].astype("float32") / 255.0
rec_x = x[:2048].astype("float32") / 255.0
for run in runs:
    model, info = rs.train(args, run, 0, (x, y), val, print)
    t0 = time.time()
    current, plan_total, kept_prev = model, None, 1.0
    for kept in steps:
        graph = ChannelGraph(current)
        groups = scored_groups(graph, graph.read_weights(), "l2", "activation", score_x)
        frac = 1.0 - kept / kept_prev
        plan = structured_plan(groups, frac, "layerwise")
        plan_total = plan if plan_total is None else {k: plan_total[k][v] for k, v in plan.items()}
        shrunk = shrink_model(model, plan_total)
        current = refit_shrunk(model, shrunk, plan_total, rec_x)
        kept_prev = kept
        loss, acc = evaluate_classifier(current, val)
        print(f"{run} steps {steps} kept {kept}: refit acc {100*acc:.2f} ({time.time()-t0:.0f}s)", flush=True)
