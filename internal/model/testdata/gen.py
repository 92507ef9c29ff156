#!/usr/bin/python3
"""Generate the model fixtures in this directory.

Run it from the repository root with Debian's Python (not a pyenv shim), which
has python3-xgboost 1.7 and python3-sklearn 1.2 installed:

    /usr/bin/python3 internal/model/testdata/gen.py

CI does not run this script: the tests use only the committed files. Every
model NAME comes with three files:

    NAME.<ext>        the model file as the library saved it
    NAME.input.csv    input rows; the header names the features, an empty
                      field is a missing value (NaN)
    NAME.expected.csv one line per input row: what the library itself
                      predicted for that row (header "prediction")

XGBoost models (real library, xgboost.Booster.save_model to JSON):
    xgb_reg          reg:squarederror, 20 trees, depth 4, 8 named features,
                     NaN in training so that default directions matter
    xgb_binary       binary:logistic, same shape (predictions are
                     probabilities, Booster.predict applies the sigmoid)
    xgb_reglogistic  reg:logistic on a target in [0, 1]
    xgb_categorical  reg:squarederror with one categorical feature
                     (enable_categorical, split_type 1 and category sets)
    xgb_bench        reg:squarederror, 100 trees, depth 6, 20 features: the
                     benchmark model

Input rows for XGBoost models include rows where a feature sits exactly on a
split threshold and on its float32 and float64 neighbours, so the tests pin
down XGBoost's comparison (float32(x) < threshold).

scikit-learn models (real library), exported to the linear-json format
documented in internal/model/linear:
    linear_reg       Pipeline(SimpleImputer(mean), LinearRegression);
                     expected = pipeline.predict on rows with NaN
    linear_logistic  Pipeline(SimpleImputer(median), LogisticRegression);
                     expected = pipeline.predict_proba(...)[:, 1]

LightGBM (no Debian package exists, so no real library here): the script
builds explicit trees and writes them in the layout of LightGBM's
GBDT::SaveModelToString / Tree::ToString, and computes the expected
predictions independently by a straightforward recursive walk that follows
LightGBM's Tree::NumericalDecision and Tree::CategoricalDecision:
    lgb_reg          objective=regression, version=v3 header, numerical splits
                     with missing types None, Zero and NaN, both default
                     directions, and a single-leaf tree
    lgb_binary       objective=binary sigmoid:1, version=v4 header, numerical
                     and categorical splits (cat_boundaries / cat_threshold)
"""

import csv
import json
import math
import os
import struct

import numpy as np
import sklearn
import xgboost as xgb
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline

HERE = os.path.dirname(os.path.abspath(__file__))

SMALL_FEATURES = ["views", "clicks", "add_to_cart", "purchases",
                  "price", "price_ratio", "inventory", "trend"]


def path(name):
    return os.path.join(HERE, name)


def fmt(v):
    """Shortest text that parses back to the same float64; NaN -> empty."""
    v = float(v)
    if math.isnan(v):
        return ""
    return repr(v)


def write_cases(name, features, rows, preds):
    with open(path(name + ".input.csv"), "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(features)
        for r in rows:
            w.writerow([fmt(v) for v in r])
    with open(path(name + ".expected.csv"), "w", newline="") as f:
        f.write("prediction\n")
        for p in preds:
            f.write(repr(float(p)) + "\n")


def with_missing(rng, X, frac):
    X = X.copy()
    X[rng.rand(*X.shape) < frac] = np.nan
    return X


def pricing_data(rng, n):
    """Eight clickstream-like features and a smooth nonlinear target."""
    views = rng.poisson(40, n).astype(float)
    clicks = rng.binomial(views.astype(int), 0.2).astype(float)
    cart = rng.binomial(clicks.astype(int), 0.3).astype(float)
    purchases = rng.binomial(cart.astype(int), 0.5).astype(float)
    price = np.round(rng.uniform(20, 200, n), 2)
    ratio = rng.normal(1.0, 0.15, n)
    inventory = rng.randint(0, 500, n).astype(float)
    trend = rng.normal(0, 1, n)
    X = np.column_stack([views, clicks, cart, purchases, price, ratio,
                         inventory, trend])
    y = (0.05 * clicks + 0.4 * purchases - 2.0 * (ratio - 1.0)
         + 0.5 * np.tanh(trend) + 0.002 * np.minimum(inventory, 100)
         - 0.004 * price + rng.normal(0, 0.3, n))
    return X, y


def boundary_rows(rng, bst, base_rows, count):
    """Rows that put one feature exactly on a split threshold of the model,
    and on its float32 and float64 neighbours."""
    model = json.loads(bst.save_raw("json"))
    pairs = []
    for tree in model["learner"]["gradient_booster"]["model"]["trees"]:
        for i, left in enumerate(tree["left_children"]):
            if left != -1 and tree.get("split_type", [0] * (i + 1))[i] == 0:
                pairs.append((tree["split_indices"][i],
                              tree["split_conditions"][i]))
    rows = []
    for k in rng.choice(len(pairs), size=min(count, len(pairs)), replace=False):
        f, token = pairs[k]
        t32 = np.float32(token)
        candidates = [
            float(t32),                                     # exactly on it
            float(np.nextafter(t32, np.float32(-np.inf))),  # float32 below
            float(np.nextafter(t32, np.float32(np.inf))),   # float32 above
            float(np.nextafter(float(t32), -np.inf)),       # float64 below
            float(np.nextafter(float(t32), np.inf)),        # float64 above
            float(token),                                   # the decimal as float64
        ]
        # Halfway between t32 and its float32 neighbours: float32 rounding
        # decides the side (ties to even).
        below = float(np.nextafter(t32, np.float32(-np.inf)))
        above = float(np.nextafter(t32, np.float32(np.inf)))
        candidates += [(below + float(t32)) / 2, (above + float(t32)) / 2]
        for v in candidates:
            r = base_rows[rng.randint(len(base_rows))].copy()
            r[f] = v
            rows.append(r)
    return np.array(rows)


def xgb_predict(bst, X, **kw):
    return bst.predict(xgb.DMatrix(X, missing=np.nan, **kw))


def gen_xgb_small(rng, name, objective, tree_method, base_score, label):
    X, y = pricing_data(rng, 3000)
    y = label(y)
    Xtrain = with_missing(rng, X, 0.15)
    d = xgb.DMatrix(Xtrain, y, missing=np.nan, feature_names=SMALL_FEATURES)
    params = {"objective": objective, "max_depth": 4, "eta": 0.3,
              "tree_method": tree_method, "seed": 7, "nthread": 1}
    if base_score is not None:
        # XGBoost 1.7 does not estimate base_score; set one so that the
        # margin offset (logit(base_score) for logistic objectives) matters.
        params["base_score"] = base_score
    bst = xgb.train(params, d, num_boost_round=20)
    bst.save_model(path(name + ".json"))

    Xt, _ = pricing_data(rng, 160)
    Xt = with_missing(rng, Xt, 0.2)
    Xt[0, :] = np.nan                 # every feature missing
    Xt[1, :4] = np.nan
    Xt = np.vstack([Xt, boundary_rows(rng, bst, Xt[2:], 25)])
    preds = bst.predict(xgb.DMatrix(Xt, missing=np.nan,
                                    feature_names=SMALL_FEATURES))
    write_cases(name, SMALL_FEATURES, Xt, preds)


def gen_xgb_categorical(rng):
    name = "xgb_categorical"
    features = ["trend", "category", "price_ratio", "views"]
    n = 4000
    cat = rng.randint(0, 40, n).astype(float)
    X = np.column_stack([rng.normal(0, 1, n), cat, rng.normal(1, 0.2, n),
                         rng.poisson(30, n).astype(float)])
    y = (X[:, 0] + np.where(cat % 3 == 0, 2.0, 0.0) + np.where(cat > 30, -1.0, 0.0)
         - 2 * (X[:, 2] - 1) + rng.normal(0, 0.2, n))
    X = with_missing(rng, X, 0.1)
    types = ["q", "c", "q", "int"]
    d = xgb.DMatrix(X, y, missing=np.nan, feature_names=features,
                    feature_types=types, enable_categorical=True)
    params = {"objective": "reg:squarederror", "max_depth": 4, "eta": 0.3,
              "tree_method": "hist", "max_cat_to_onehot": 1, "seed": 7,
              "nthread": 1}
    bst = xgb.train(params, d, num_boost_round=20)
    bst.save_model(path(name + ".json"))

    m = 200
    Xt = np.column_stack([rng.normal(0, 1, m), rng.randint(0, 40, m).astype(float),
                          rng.normal(1, 0.2, m), rng.poisson(30, m).astype(float)])
    Xt = with_missing(rng, Xt, 0.1)
    # Categories the model never saw, negative ones, fractional ones (XGBoost
    # truncates float32(x) toward zero) and huge ones.
    odd = [-1.0, -0.5, 0.5, 2.999, 3.7, 39.0, 40.0, 41.0, 63.0, 64.0, 1000.0,
           16777215.0, 16777216.0, 1e30]
    for i, v in enumerate(odd):
        Xt[i, 1] = v
    preds = bst.predict(xgb.DMatrix(Xt, missing=np.nan, feature_names=features,
                                    feature_types=types, enable_categorical=True))
    write_cases(name, features, Xt, preds)


def gen_xgb_bench(rng):
    name = "xgb_bench"
    nf = 20
    features = ["f%02d" % i for i in range(nf)]
    n = 20000
    X = rng.normal(0, 1, (n, nf))
    y = (np.sin(X[:, 0]) + X[:, 1] * X[:, 2] + np.abs(X[:, 3]) - X[:, 4] ** 2 / 2
         + 0.5 * X[:, 5:10].sum(axis=1) + 0.1 * X[:, 10:].sum(axis=1)
         + rng.normal(0, 0.1, n))
    Xtrain = with_missing(rng, X, 0.05)
    d = xgb.DMatrix(Xtrain, y, missing=np.nan, feature_names=features)
    params = {"objective": "reg:squarederror", "max_depth": 6, "eta": 0.1,
              "tree_method": "hist", "seed": 7, "nthread": 2}
    bst = xgb.train(params, d, num_boost_round=100)
    bst.save_model(path(name + ".json"))

    Xt = with_missing(rng, rng.normal(0, 1, (300, nf)), 0.05)
    Xt = np.vstack([Xt, boundary_rows(rng, bst, Xt, 40)])
    preds = bst.predict(xgb.DMatrix(Xt, missing=np.nan, feature_names=features))
    write_cases(name, features, Xt, preds)


def linear_export(kind, features, imputer, est):
    coef = np.ravel(est.coef_)
    intercept = float(np.ravel([est.intercept_])[0])
    doc = {
        "type": kind,
        "features": features,
        "coefficients": [float(c) for c in coef],
        "intercept": intercept,
        "missing": [float(v) for v in imputer.statistics_],
    }
    # json.dumps writes floats with repr: they parse back exactly.
    return json.dumps(doc, indent=2) + "\n"


def gen_linear(rng):
    features = SMALL_FEATURES[:6]
    X, y = pricing_data(rng, 2000)
    X = X[:, :6]
    Xtrain = with_missing(rng, X, 0.1)
    Xt, _ = pricing_data(rng, 150)
    Xt = with_missing(rng, Xt[:, :6], 0.2)
    Xt[0, :] = np.nan

    reg = make_pipeline(SimpleImputer(strategy="mean"), LinearRegression())
    reg.fit(Xtrain, y)
    with open(path("linear_reg.json"), "w") as f:
        f.write(linear_export("linear", features, reg[0], reg[1]))
    write_cases("linear_reg", features, Xt, reg.predict(Xt))

    cls = make_pipeline(SimpleImputer(strategy="median"),
                        LogisticRegression(max_iter=1000))
    cls.fit(Xtrain, (y > np.median(y)).astype(int))
    with open(path("linear_logistic.json"), "w") as f:
        f.write(linear_export("logistic", features, cls[0], cls[1]))
    write_cases("linear_logistic", features, Xt, cls.predict_proba(Xt)[:, 1])


# ---------------------------------------------------------------------------
# LightGBM text models, written without LightGBM.

K_ZERO_THRESHOLD = float(np.float32(1e-35))  # LightGBM's kZeroThreshold is the float 1e-35f
MISSING_NONE, MISSING_ZERO, MISSING_NAN = 0, 1, 2


class LGBTree:
    """A tree grown the way LightGBM numbers it: splitting leaf L creates
    internal node num_leaves-1 whose left child is leaf ~L and right child
    the new leaf ~num_leaves."""

    def __init__(self):
        self.num_leaves = 1
        self.split_feature, self.threshold, self.decision_type = [], [], []
        self.left_child, self.right_child = [], []
        self.leaf_value = [0.0]
        self.leaf_parent = [-1]
        self.cat_boundaries, self.cat_threshold = [0], []

    def split(self, leaf, feature, threshold, decision_type, left_value,
              right_value, cats=None):
        node = self.num_leaves - 1
        parent = self.leaf_parent[leaf]
        if parent >= 0:
            if self.left_child[parent] == ~leaf:
                self.left_child[parent] = node
            else:
                self.right_child[parent] = node
        if cats is not None:
            words = [0] * (max(cats) // 32 + 1)
            for c in cats:
                words[c // 32] |= 1 << (c % 32)
            threshold = float(len(self.cat_boundaries) - 1)  # cat_idx
            self.cat_threshold += words
            self.cat_boundaries.append(len(self.cat_threshold))
        self.split_feature.append(feature)
        self.threshold.append(threshold)
        self.decision_type.append(decision_type)
        self.left_child.append(~leaf)
        self.right_child.append(~self.num_leaves)
        self.leaf_value[leaf] = left_value
        self.leaf_value.append(right_value)
        self.leaf_parent[leaf] = node
        self.leaf_parent.append(node)
        self.num_leaves += 1

    @property
    def num_cat(self):
        return len(self.cat_boundaries) - 1

    # The reference walk: LightGBM's Tree::Decision, transliterated.
    def predict(self, row):
        if self.num_leaves == 1:
            return self.leaf_value[0]
        node = 0
        while node >= 0:
            node = self.decision(row[self.split_feature[node]], node)
        return self.leaf_value[~node]

    def decision(self, fval, node):
        dt = self.decision_type[node]
        if dt & 1:
            return self.categorical_decision(fval, node)
        return self.numerical_decision(fval, node)

    def numerical_decision(self, fval, node):
        dt = self.decision_type[node]
        missing_type = (dt >> 2) & 3
        if math.isnan(fval) and missing_type != MISSING_NAN:
            fval = 0.0
        if ((missing_type == MISSING_ZERO and -K_ZERO_THRESHOLD <= fval <= K_ZERO_THRESHOLD)
                or (missing_type == MISSING_NAN and math.isnan(fval))):
            return self.left_child[node] if dt & 2 else self.right_child[node]
        if fval <= self.threshold[node]:
            return self.left_child[node]
        return self.right_child[node]

    def categorical_decision(self, fval, node):
        if math.isnan(fval):
            return self.right_child[node]
        if fval <= -1 or fval >= 2 ** 31:   # static_cast<int> < 0 (or out of int range)
            return self.right_child[node]
        int_fval = int(fval)                # truncation toward zero
        cat_idx = int(self.threshold[node])
        lo, hi = self.cat_boundaries[cat_idx], self.cat_boundaries[cat_idx + 1]
        word = int_fval // 32
        if word < hi - lo and (self.cat_threshold[lo + word] >> (int_fval % 32)) & 1:
            return self.left_child[node]
        return self.right_child[node]

    def to_string(self):
        n = self.num_leaves
        g17 = lambda v: "%.17g" % v
        out = ["num_leaves=%d" % n, "num_cat=%d" % self.num_cat]
        out.append("split_feature=" + " ".join(str(v) for v in self.split_feature))
        out.append("split_gain=" + " ".join("%g" % (10.0 + i) for i in range(n - 1)))
        out.append("threshold=" + " ".join(g17(v) for v in self.threshold))
        out.append("decision_type=" + " ".join(str(v) for v in self.decision_type))
        out.append("left_child=" + " ".join(str(v) for v in self.left_child))
        out.append("right_child=" + " ".join(str(v) for v in self.right_child))
        out.append("leaf_value=" + " ".join(g17(v) for v in self.leaf_value))
        out.append("leaf_weight=" + " ".join("%g" % (5.0 + i) for i in range(n)))
        out.append("leaf_count=" + " ".join(str(20 + i) for i in range(n)))
        out.append("internal_value=" + " ".join("0" for _ in range(n - 1)))
        out.append("internal_weight=" + " ".join("%g" % (50.0 + i) for i in range(n - 1)))
        out.append("internal_count=" + " ".join(str(100 + i) for i in range(n - 1)))
        if self.num_cat > 0:
            out.append("cat_boundaries=" + " ".join(str(v) for v in self.cat_boundaries))
            out.append("cat_threshold=" + " ".join(str(v) for v in self.cat_threshold))
        out.append("is_linear=0")
        out.append("shrinkage=0.1")
        return "\n".join(out) + "\n\n"


def random_lgb_tree(rng, nf, max_leaves, cat_features, decision_types):
    t = LGBTree()
    t.leaf_value[0] = rng.normal(0, 0.1)
    target = rng.randint(2, max_leaves + 1)
    while t.num_leaves < target:
        leaf = rng.randint(t.num_leaves)
        f = rng.randint(nf)
        lv, rv = rng.normal(0, 0.1), rng.normal(0, 0.1)
        if f in cat_features:
            k = rng.randint(1, 6)
            cats = sorted(set(int(c) for c in rng.randint(0, 40, k)))
            t.split(leaf, f, 0.0, 1 | (MISSING_NAN << 2), lv, rv, cats=cats)
        else:
            thr = float(np.round(rng.normal(0, 1), rng.randint(1, 8)))
            if rng.rand() < 0.15:
                thr = K_ZERO_THRESHOLD if rng.rand() < 0.5 else -K_ZERO_THRESHOLD
            t.split(leaf, f, thr, int(rng.choice(decision_types)), lv, rv)
    return t


def lgb_model_string(version, objective, nf, trees):
    features = ["Column_%d" % i for i in range(nf)]
    # Each block is "Tree=i\n" + Tree::ToString() (which ends in a blank
    # line) + "\n", as GBDT::SaveModelToString writes it; tree_sizes holds
    # the byte length of each block.
    tree_strs = ["Tree=%d\n" % i + t.to_string() + "\n" for i, t in enumerate(trees)]
    head = [
        "tree",
        "version=" + version,
        "num_class=1",
        "num_tree_per_iteration=1",
        "label_index=0",
        "max_feature_idx=%d" % (nf - 1),
        "objective=" + objective,
        "feature_names=" + " ".join(features),
        "feature_infos=" + " ".join("[-3:3]" for _ in range(nf)),
        "tree_sizes=" + " ".join(str(len(s)) for s in tree_strs),
        "",
    ]
    tail = [
        "end of trees",
        "",
        "feature importances:",
    ] + ["Column_%d=%d" % (i, 3) for i in range(nf)] + [
        "",
        "parameters:",
        "[boosting: gbdt]",
        "[objective: %s]" % objective.split()[0],
        "[learning_rate: 0.1]",
        "[num_leaves: 31]",
        "",
        "end of parameters",
        "",
        "pandas_categorical:null",
        "",
    ]
    return "\n".join(head) + "\n" + "".join(tree_strs) + "\n".join(tail)


def lgb_rows(rng, nf, n, cat_features):
    X = rng.normal(0, 1, (n, nf))
    for f in cat_features:
        X[:, f] = rng.randint(0, 45, n)
    X = with_missing(rng, X, 0.1)
    X[rng.rand(n, nf) < 0.05] = 0.0
    X[rng.rand(n, nf) < 0.02] = 1e-36       # within kZeroThreshold of zero
    X[rng.rand(n, nf) < 0.02] = -1e-36
    X[rng.rand(n, nf) < 0.02] = K_ZERO_THRESHOLD
    X[0, :] = np.nan
    odd = [-1.0, -0.5, 0.5, 2.7, 31.0, 32.0, 33.0, 63.0, 64.0, 100.0, 1e10, -1e10]
    for f in cat_features:
        for i, v in enumerate(odd):
            X[1 + i, f] = v
    return X


def gen_lgb(rng, name, version, objective, nf, ntrees, max_leaves,
            cat_features, decision_types, link):
    trees = [random_lgb_tree(rng, nf, max_leaves, cat_features, decision_types)
             for _ in range(ntrees)]
    single = LGBTree()
    single.leaf_value[0] = 0.25
    trees.insert(len(trees) // 2, single)     # a constant tree
    with open(path(name + ".txt"), "w") as f:
        f.write(lgb_model_string(version, objective, nf, trees))
    X = lgb_rows(rng, nf, 200, cat_features)
    # Also put features on thresholds.
    k = 200
    extra = []
    for t in trees:
        for node in range(t.num_leaves - 1):
            if not t.decision_type[node] & 1 and len(extra) < k:
                r = X[rng.randint(2, len(X))].copy()
                r[t.split_feature[node]] = t.threshold[node]
                extra.append(r)
    X = np.vstack([X, np.array(extra)])
    preds = []
    for r in X:
        s = 0.0
        for t in trees:
            s += t.predict(r)
        preds.append(link(s))
    write_cases(name, ["Column_%d" % i for i in range(nf)], X, preds)


def main():
    print("xgboost", xgb.__version__, "sklearn", sklearn.__version__,
          "numpy", np.__version__)
    rng = np.random.RandomState(20240607)
    gen_xgb_small(rng, "xgb_reg", "reg:squarederror", "exact", 1.37,
                  lambda y: y)
    gen_xgb_small(rng, "xgb_binary", "binary:logistic", "hist", 0.3,
                  lambda y: (y > np.median(y)).astype(float))
    gen_xgb_small(rng, "xgb_reglogistic", "reg:logistic", "approx", 0.62,
                  lambda y: 1 / (1 + np.exp(-(y - np.median(y)))))
    gen_xgb_categorical(rng)
    gen_xgb_bench(rng)
    gen_linear(rng)
    all_types = [0, 2, 4, 6, 8, 10]
    gen_lgb(rng, "lgb_reg", "v3", "regression", 6, 30, 12, set(), all_types,
            lambda s: s)
    gen_lgb(rng, "lgb_binary", "v4", "binary sigmoid:1", 8, 30, 16, {2, 5},
            all_types, lambda s: 1.0 / (1.0 + math.exp(-1.0 * s)))


if __name__ == "__main__":
    main()
