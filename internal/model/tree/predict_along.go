package tree

// PredictAlong writes to out[i] the prediction for row with its feature f
// set to values[i], exactly as Predict would give it for that row (values
// may hold NaN, a missing value). row is not changed. It panics if out is
// shorter than values.
//
// Rows that differ in one feature take the same way through every split
// on another, so each tree is walked once for all values: at a split on f
// the values part to the two sides, elsewhere they go together. A policy
// that asks for many candidate prices of one product (the feature being
// the price, or its ratio to a base) pays about one walk per tree instead
// of one per candidate. Each value's tree outputs are added in tree order,
// as Predict adds them, so the results are equal to the bit.
func (e *Ensemble) PredictAlong(row []float64, f int, values []float64, out []float64) {
	if len(out) < len(values) {
		panic("tree: PredictAlong: out is shorter than values")
	}
	if len(values) == 0 {
		return
	}
	if len(row) > maxFeatures {
		row = row[:maxFeatures]
	}
	if len(e.specials) > 0 || f < 0 || f >= len(row) {
		e.predictEach(row, f, values, out)
		return
	}
	w := alongWalk{nodes: e.nodes, row: row, f: int32(f), values: values, sorted: true}
	for i := 1; i < len(values); i++ {
		if !(values[i-1] <= values[i]) { // NaN too
			w.sorted = false
			break
		}
	}
	if values[0] != values[0] {
		w.sorted = false
	}
	if !w.sorted {
		w.idx = make([]int32, len(values))
		for i := range w.idx {
			w.idx[i] = int32(i)
		}
	}
	if e.sum32 {
		w.s32 = make([]float32, len(values))
		for i := range w.s32 {
			w.s32[i] = float32(e.base)
		}
	} else {
		w.s64 = make([]float64, len(values))
		for i := range w.s64 {
			w.s64[i] = e.base
		}
	}
	for _, root := range e.roots {
		if w.sorted {
			w.walkSorted(root, 0, len(values))
		} else {
			w.walk(root, 0, len(values))
		}
	}
	for i := range values {
		if e.sum32 {
			out[i] = e.finish(float64(w.s32[i]))
		} else {
			out[i] = e.finish(w.s64[i])
		}
	}
}

// predictEach is PredictAlong one row at a time, for the ensembles and
// features the walk does not take (special splits, a feature beyond the
// row).
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

// alongWalk routes the values of PredictAlong through one tree at a time.
// When the values are sorted (ascending, no NaN, as candidate prices are)
// a node's values are values[lo:hi], which a split on f cuts in two by a
// binary search; otherwise idx holds the values' indices, a node's values
// are idx[lo:hi], and a split on f partitions them in place (left first).
type alongWalk struct {
	nodes  []node
	row    []float64
	f      int32
	values []float64
	sorted bool
	idx    []int32
	s64    []float64
	s32    []float32
}

// walkSorted is walk for sorted values: those left of a split on f (x <
// t) are a prefix.
func (w *alongWalk) walkSorted(i int32, lo, hi int) {
	nodes := w.nodes
	for {
		n := &nodes[i]
		m := n.meta
		if m&flagLeaf != 0 {
			v := n.value
			if w.s32 != nil {
				v32 := float32(v)
				for j := lo; j < hi; j++ {
					w.s32[j] += v32
				}
			} else {
				for j := lo; j < hi; j++ {
					w.s64[j] += v
				}
			}
			return
		}
		if int32(m&featureMask) != w.f {
			i = next(nodes, i, w.row)
			continue
		}
		t := n.value
		a, b := lo, hi // the first value >= t is in [a, b]
		for a < b {
			h := int(uint(a+b) >> 1)
			if w.values[h] < t {
				a = h + 1
			} else {
				b = h
			}
		}
		switch {
		case a == hi:
			i = n.left
		case a == lo:
			i = n.left + 1
		default:
			w.walkSorted(n.left, lo, a)
			i, lo = n.left+1, a
		}
	}
}

func (w *alongWalk) walk(i int32, lo, hi int) {
	nodes := w.nodes
	for {
		n := &nodes[i]
		m := n.meta
		if m&flagLeaf != 0 {
			v := n.value
			for _, j := range w.idx[lo:hi] {
				if w.s32 != nil {
					w.s32[j] += float32(v)
				} else {
					w.s64[j] += v
				}
			}
			return
		}
		if int32(m&featureMask) != w.f {
			i = next(nodes, i, w.row)
			continue
		}
		// Partition: the values that go left (x < t, or NaN with the
		// default left) before those that go right, as next decides.
		defRight := m>>30&1 == 1
		mid := lo
		for k := lo; k < hi; k++ {
			x := w.values[w.idx[k]]
			if right := x >= n.value || (x != x && defRight); !right {
				w.idx[k], w.idx[mid] = w.idx[mid], w.idx[k]
				mid++
			}
		}
		switch {
		case mid == hi:
			i = n.left
		case mid == lo:
			i = n.left + 1
		default:
			w.walk(n.left, lo, mid)
			i, lo = n.left+1, mid
		}
	}
}
