package tree

import (
	"cmp"
	"math"
	"slices"
)

// PredictAlong writes to out[i] the prediction for row with its feature f
// set to values[i], exactly as Predict would give it for that row (values
// may hold NaN, a missing value). row is not changed. It panics if out is
// shorter than values.
//
// Rows that differ in one feature take the same way through every split
// on another, so each tree is walked once for all values: with the values
// in ascending order, those left of a split on f (x < t) are a prefix,
// found by a binary search, and elsewhere they all go the same way. A
// policy that asks for many candidate prices of one product (the feature
// being the price, or its ratio to a base) pays about one walk per tree
// instead of one per candidate. Each value's tree outputs are added in
// tree order, as Predict adds them, so the results are equal to the bit.
func (e *Ensemble) PredictAlong(row []float64, f int, values []float64, out []float64) {
	if len(out) < len(values) {
		panic("tree: PredictAlong: out is shorter than values")
	}
	if len(row) > maxFeatures {
		row = row[:maxFeatures]
	}
	if len(e.specials) > 0 || f < 0 || f >= len(row) {
		e.predictEach(row, f, values, out)
		return
	}
	if c := e.curveSet(); c != nil && !slices.ContainsFunc(values, math.IsNaN) && e.alongCurve(c, row, f, values, out) {
		return
	}
	e.walkAlong(row, f, values, out)
}

// walkAlong is PredictAlong by walking the trees (f is within the row and
// the ensemble has no special splits).
func (e *Ensemble) walkAlong(row []float64, f int, values []float64, out []float64) {
	// The values in ascending order, NaN left out: a missing value goes
	// each split's default way, not a threshold's, and is one row.
	sorted := slices.IsSorted(values) && !slices.ContainsFunc(values, math.IsNaN)
	order := values
	var perm []int
	if !sorted {
		perm = make([]int, 0, len(values))
		for i, v := range values {
			if !math.IsNaN(v) {
				perm = append(perm, i)
			}
		}
		slices.SortStableFunc(perm, func(a, b int) int { return cmp.Compare(values[a], values[b]) })
		order = make([]float64, len(perm))
		for k, i := range perm {
			order[k] = values[i]
		}
	}
	w := alongWalk{nodes: e.nodes, row: row, f: int32(f), values: order}
	if e.sum32 {
		w.s32 = make([]float32, len(order))
		for i := range w.s32 {
			w.s32[i] = float32(e.base)
		}
	} else {
		w.s64 = make([]float64, len(order))
		for i := range w.s64 {
			w.s64[i] = e.base
		}
	}
	for _, root := range e.roots {
		w.walk(root, 0, len(order))
	}
	at := func(k int) float64 {
		if e.sum32 {
			return e.finish(float64(w.s32[k]))
		}
		return e.finish(w.s64[k])
	}
	if sorted {
		for k := range order {
			out[k] = at(k)
		}
		return
	}
	for k, i := range perm {
		out[i] = at(k)
	}
	if len(perm) < len(values) {
		var missing [1]float64
		e.predictEach(row, f, []float64{nan}, missing[:])
		for i, v := range values {
			if math.IsNaN(v) {
				out[i] = missing[0]
			}
		}
	}
}

// predictEach is PredictAlong one row at a time, for the ensembles and
// features the walk does not take (special splits, a feature beyond the
// row) and for a missing value.
func (e *Ensemble) predictEach(row []float64, f int, values []float64, out []float64) {
	r := make([]float64, max(len(row), f+1))
	copy(r, row)
	for i := len(row); i < len(r); i++ {
		r[i] = nan
	}
	for i, v := range values {
		if f >= 0 {
			r[f] = v
		}
		out[i] = e.Predict(r)
	}
}

// alongWalk routes PredictAlong's values, in ascending order, through one
// tree at a time; a node's values are values[lo:hi].
type alongWalk struct {
	nodes  []node
	row    []float64
	f      int32
	values []float64
	s64    []float64
	s32    []float32
}

func (w *alongWalk) walk(i int32, lo, hi int) {
	nodes := w.nodes
	for lo < hi {
		n := &nodes[i]
		m := n.meta
		if m&flagLeaf != 0 {
			if w.s32 != nil {
				v := float32(n.value)
				for j := lo; j < hi; j++ {
					w.s32[j] += v
				}
			} else {
				for j := lo; j < hi; j++ {
					w.s64[j] += n.value
				}
			}
			return
		}
		if int32(m&featureMask) != w.f {
			i = next(nodes, i, w.row)
			continue
		}
		// The first value >= t, the split's right side (as next decides
		// for a value that is not NaN).
		a, b := lo, hi
		for a < b {
			h := int(uint(a+b) >> 1)
			if w.values[h] < n.value {
				a = h + 1
			} else {
				b = h
			}
		}
		if a > lo && a < hi {
			w.walk(n.left, lo, a)
		} else if a == hi {
			i = n.left
			continue
		}
		i, lo = n.left+1, a
	}
}
