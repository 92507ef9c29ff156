package train

import (
	"math"
	"slices"
)

// Model is a fitted ensemble of regression trees. It predicts as the
// XGBoost JSON file it writes ([Model.XGBoostJSON]) predicts when loaded by
// XGBoost or by model/tree: a split sends x left iff float32(x) < its
// threshold, a missing value (NaN) takes the split's default direction,
// and the prediction is base score plus the leaves, summed in float32.
//
// A Model is immutable; its methods may be called from any number of
// goroutines at once.
type Model struct {
	features  []string
	baseScore float32
	trees     [][]node
	// bestIteration is the round kept last when early stopping cut the
	// model short, else -1.
	bestIteration int
}

// Features returns the model's feature names, in row order.
func (m *Model) Features() []string { return slices.Clone(m.features) }

// NumTrees returns the number of trees.
func (m *Model) NumTrees() int { return len(m.trees) }

// BaseScore returns the prediction of a model without trees: the mean
// label of the training rows, as a float32.
func (m *Model) BaseScore() float64 { return float64(m.baseScore) }

// Predict returns the prediction for row, whose values follow
// [Model.Features]; NaN is a missing value, and so is a value past the end
// of a short row.
func (m *Model) Predict(row []float64) float64 {
	acc := m.baseScore
	for _, t := range m.trees {
		acc += predictTree(t, row)
	}
	return float64(acc)
}

func predictTree(t []node, row []float64) float32 {
	n := &t[0]
	for !n.isLeaf() {
		x := math.NaN()
		if int(n.feature) < len(row) {
			x = row[n.feature]
		}
		var left bool
		if math.IsNaN(x) {
			left = n.defaultLeft
		} else {
			left = float32(x) < n.threshold
		}
		if left {
			n = &t[n.left]
		} else {
			n = &t[n.right]
		}
	}
	return n.leaf
}

// predictBinned returns the leaf of tree t for a row given by its bins.
func predictBinned(t []node, bins []uint16) float32 {
	n := &t[0]
	for !n.isLeaf() {
		if goesLeft(bins[n.feature], n.bin, n.defaultLeft) {
			n = &t[n.left]
		} else {
			n = &t[n.right]
		}
	}
	return n.leaf
}
