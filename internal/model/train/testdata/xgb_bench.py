#!/usr/bin/python3
"""Train XGBoost 1.7 (hist) on data shaped like BenchmarkTrain's, for the
side-by-side figure in docs/performance-train.md. Run: /usr/bin/python3
internal/model/train/testdata/xgb_bench.py (needs python3-xgboost)."""
import time, numpy as np, xgboost as xgb
rng = np.random.default_rng(12)
n = 100000
views = rng.integers(0, 400, n).astype(float)
base = 50 + 100*rng.random(n); ratio = 0.6 + 0.8*rng.random(n)
X = np.column_stack([views, np.round(base*ratio, 2), ratio, rng.integers(0, 1000, n), rng.normal(size=n),
                     rng.integers(0, 20, n), rng.integers(0, 20, n), rng.integers(0, 5, n), 30*rng.random(n), rng.integers(0, 50, n)]).astype(float)
X[rng.random(n) < 0.05, 3] = np.nan; X[rng.random(n) < 0.05, 4] = np.nan
y = 20*np.exp(-2*(ratio-1))*views/100 + rng.normal(size=n)
tr = rng.random(n) >= 0.2
mono = "(0,-1,-1,0,0,0,0,0,0,0)"
for nthread in (1, 2):
    for m in ("()", mono):
        p = dict(tree_method="hist", max_depth=6, eta=0.1, max_bin=256, objective="reg:squarederror", nthread=nthread, monotone_constraints=m)
        ts = []
        for _ in range(3):
            c0, w0 = time.process_time(), time.time()
            d = xgb.DMatrix(X[tr], label=y[tr]); dv = xgb.DMatrix(X[~tr], label=y[~tr])
            b = xgb.train(p, d, 100)
            ts.append((time.process_time()-c0, time.time()-w0))
        pv = b.predict(dv); rmse = float(np.sqrt(np.mean((pv - y[~tr])**2)))
        print("xgboost %s hist nthread=%d monotone=%s: cpu %.3f s, wall %.3f s (best of 3), valid rmse %.3f" % (xgb.__version__, nthread, m != "()", min(t[0] for t in ts), min(t[1] for t in ts), rmse))
