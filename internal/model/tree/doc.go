// Package tree evaluates tree ensembles (gradient-boosted trees) in pure Go:
// XGBoost JSON models ([LoadXGBoostJSON]) and LightGBM text models
// ([LoadLightGBM]) load into one [Ensemble], whose single evaluator serves
// both formats and agrees with each library bit for bit.
//
// # Layout
//
// All the nodes of all the trees sit in one slice of 16-byte nodes: the
// threshold (or leaf value), the feature index with flag bits, and the
// index of the left child; the right child is the next node. Trees are laid
// out breadth-first, so the levels every row visits share cache lines.
//
// A step from a node to its child is free of data-dependent branches: the
// comparison's result is added to the left child's index. A leaf is its
// own left child and its step always compares false, so a walk can take a
// fixed number of steps (the tree's depth) without testing for leaves.
// Predict walks eight trees at once; their steps do not depend on one
// another, so the processor overlaps their memory loads. This is what
// makes it several times faster than a recursive walk over pointers (see
// BenchmarkTreePredictPlainWalk).
//
// # One comparison for two libraries
//
// XGBoost goes left iff float32(x) < split_condition; LightGBM iff x <=
// threshold (in float64). The loaders turn both into x < t for a float64 t
// computed exactly at load time (the least float64 that rounds to the
// float32 threshold, or the float64 just above LightGBM's), so the
// evaluator compares float64 values directly and still reproduces each
// library's routing of every input, thresholds and their neighbours
// included. A missing value (NaN) takes the node's default direction, which
// for LightGBM's missing type None is where 0 would go. Splits that do not
// fit that form (categorical splits of either library, LightGBM's "zero is
// missing" splits) are flagged and decided off the fast path.
//
// XGBoost sums the margin in float32, starting from base_score, tree by
// tree; LightGBM in float64. The Ensemble does the same, so predictions
// match to the last bit, not just to a tolerance.
//
// # Validation
//
// Loading checks everything the evaluator relies on: every node is reached
// from its root exactly once (no cycles, no shared or dangling children),
// feature indexes are below the number of features, leaf values are finite,
// arrays agree in length. A corrupt file gives a *model.LoadError naming the
// problem and its position; it never yields an Ensemble that can panic.
//
// # Concurrency
//
// An [Ensemble] is immutable once loaded: any number of goroutines may call
// its methods at once. Predict neither allocates nor blocks.
//
// This package imports only model/internal/base of pricestream; package
// model imports it, never the reverse.
package tree
