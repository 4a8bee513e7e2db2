import csv, sys, collections, statistics as st
rows = list(csv.DictReader(open(sys.argv[1])))
g = collections.OrderedDict()
for r in rows:
    cfg = r.get("config", "")
    import json
    note = json.loads(cfg).get("note", "") if cfg else ""
    key = (r["dataset"][:5], note[:70], r["method"])
    g.setdefault(key, collections.defaultdict(list))[round(float(r["target_sparsity"]) * 100)].append(float(r["test_accuracy"]) * (100 if float(r["test_accuracy"]) <= 1 else 1))
for (ds, note, m), d in g.items():
    cols = []
    tot = 0
    for s in (0, 80, 90, 95, 98):
        v = d.get(s, [])
        if v:
            cols.append(f"{st.mean(v):6.2f}±{(st.stdev(v) if len(v) > 1 else 0):4.2f}")
            if s != 98: tot += st.mean(v)
    print(ds, m, " ".join(cols), f"sum {tot:7.2f} n={len(d.get(0, []))}", note)
