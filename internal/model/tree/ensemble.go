package tree

import (
	"math"
	"slices"
	"sync"

	"github.com/pricestream/pricestream/internal/model/internal/base"
)

// node is one node of the flat tree layout: 16 bytes, so four share a
// cache line. Every tree of an ensemble lives in one slice; the two children
// of a split are adjacent (right = left+1), laid out breadth-first so that
// the top levels of a tree, which every row visits, share cache lines.
type node struct {
	// value is, for a leaf, the leaf value; for a plain numerical split,
	// the threshold t of the decision "go left iff x < t"; for a special
	// split (flagSpecial), the index of its record in Ensemble.specials.
	value float64
	// meta is the feature index (featureMask) and the flags.
	meta uint32
	// left is the index of the left child; the right child is left+1. A
	// leaf is its own left child.
	left int32
}

const (
	flagLeaf         = 1 << 31 // a leaf: value is the leaf value
	flagDefaultRight = 1 << 30 // a missing value (NaN) goes right
	flagSpecial      = 1 << 29 // decided by specials[int(value)]
	featureMask      = 1<<29 - 1

	// leafMeta is the meta of a leaf. Its feature index, featureMask, is
	// beyond every row Predict looks at (it cuts rows to maxFeatures), so
	// a step from a leaf reads NaN, compares false and, with no
	// flagDefaultRight, stays on the leaf.
	leafMeta = flagLeaf | featureMask

	// maxFeatures bounds the number of features of a model.
	maxFeatures = featureMask - 1
)

// specialKind is a split decided off the fast path.
type specialKind uint8

const (
	// lightGBMNumerical is a LightGBM numerical split that the fast path
	// cannot express: missing type Zero (values within kZeroThreshold of
	// zero take the missing direction) or a threshold of +Inf.
	lightGBMNumerical specialKind = iota + 1
	// xgboostCategorical is an XGBoost categorical split: a category in the
	// set goes right, any other category (or an invalid one) goes left.
	xgboostCategorical
	// lightGBMCategorical is a LightGBM categorical split: a category in the
	// set goes left, any other category (or a negative one) goes right.
	lightGBMCategorical
)

// special is the record of a split off the fast path. A missing value never
// reaches it: NaN takes the node's default direction first.
type special struct {
	kind        specialKind
	defaultLeft bool     // lightGBMNumerical: direction of a value counted as missing
	zeroMissing bool     // lightGBMNumerical: values within kZeroThreshold of 0 are missing
	threshold   float64  // lightGBMNumerical: go left iff x <= threshold
	bits        []uint32 // categorical: the category set, bit c of word c/32
}

// kZeroThreshold is LightGBM's kZeroThreshold: the float constant 1e-35f.
const kZeroThreshold = float64(float32(1e-35))

// goLeft decides a special split for x, which is not NaN.
func (s *special) goLeft(x float64) bool {
	switch s.kind {
	case lightGBMNumerical:
		if s.zeroMissing && x >= -kZeroThreshold && x <= kZeroThreshold {
			return s.defaultLeft
		}
		return x <= s.threshold
	case xgboostCategorical:
		// XGBoost: common::Decision on float32(x); a negative category, or
		// one of 2^24 or more, is invalid and goes left, as does one beyond
		// the set's bitset.
		c := float32(x)
		if c < 0 || c >= 1<<24 {
			return true
		}
		return !s.has(uint32(c))
	case lightGBMCategorical:
		// LightGBM: static_cast<int>(x); a negative int (also what x86 gives
		// for x out of int range) goes right, as does a category not in the
		// set.
		if !(x > -1) || x >= 1<<31 {
			return false
		}
		return s.has(uint32(int32(x)))
	}
	return false
}

func (s *special) has(c uint32) bool {
	w := c / 32
	return w < uint32(len(s.bits)) && s.bits[w]>>(c%32)&1 != 0
}

// link is the transformation from the summed margin to the prediction.
type link uint8

const (
	linkIdentity link = iota
	// linkSigmoid32 is XGBoost's common::Sigmoid, in float32.
	linkSigmoid32
	// linkSigmoid is LightGBM's 1/(1+exp(-scale*x)), in float64.
	linkSigmoid
)

// Ensemble is a loaded tree ensemble: XGBoost or LightGBM trees in one flat
// layout, evaluated by one loop. It satisfies model.Runtime.
//
// An Ensemble is immutable after loading and safe for concurrent use;
// Predict does not allocate.
type Ensemble struct {
	nodes    []node
	roots    []int32
	specials []special
	// depth is the number of steps from each root to its deepest leaf;
	// groupDepth the largest depth of each group of groupSize trees.
	depth      []int
	groupDepth []int

	numFeatures  int
	featureNames []string

	// base is the margin the tree outputs are added to.
	base float64
	// sum32 accumulates in float32, tree by tree, as XGBoost does;
	// otherwise in float64, as LightGBM does.
	sum32 bool
	// divisor, if not 0, divides the sum (LightGBM average_output).
	divisor float64
	link    link
	// scale multiplies the margin inside linkSigmoid.
	scale float64

	info base.Info

	// curves keeps PredictAlong's step functions (predict_curve.go),
	// made on first use.
	curvesOnce sync.Once
	curves     *curves
}

// NumFeatures returns the number of features a row has: the row's length.
func (e *Ensemble) NumFeatures() int { return e.numFeatures }

// FeatureNames returns the feature names the model file carries, in row
// order, or nil if it carries none. The slice is a copy.
func (e *Ensemble) FeatureNames() []string { return slices.Clone(e.featureNames) }

// Info describes the model.
func (e *Ensemble) Info() base.Info { return e.info }

// Predict returns the prediction for one row of NumFeatures values; NaN
// marks a missing value. Values beyond the row's length count as missing
// and extra values are ignored, so Predict never panics; use
// model.PredictChecked to reject such rows. Predict does not allocate and
// does not modify row.
//
// Predict walks groupSize trees at once: their walks do not depend on one
// another, so the processor overlaps their memory loads. Every step is
// free of data-dependent branches (a leaf steps to itself), so a group
// takes as many steps as its deepest tree. The leaf values are then added
// tree by tree in file order, as the libraries add them.
func (e *Ensemble) Predict(row []float64) float64 {
	if len(row) > maxFeatures {
		row = row[:maxFeatures] // keep leafMeta's index out of reach
	}
	nodes, roots := e.nodes, e.roots
	special := len(e.specials) > 0
	s64, s32 := e.base, float32(e.base)
	k := 0
	for g, depth := range e.groupDepth {
		r := roots[k : k+groupSize : k+groupSize]
		i0, i1, i2, i3, i4, i5, i6, i7 := r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
		if special {
			for range depth {
				i0 = e.nextSpecial(i0, row)
				i1 = e.nextSpecial(i1, row)
				i2 = e.nextSpecial(i2, row)
				i3 = e.nextSpecial(i3, row)
				i4 = e.nextSpecial(i4, row)
				i5 = e.nextSpecial(i5, row)
				i6 = e.nextSpecial(i6, row)
				i7 = e.nextSpecial(i7, row)
			}
		} else {
			for range depth {
				i0 = next(nodes, i0, row)
				i1 = next(nodes, i1, row)
				i2 = next(nodes, i2, row)
				i3 = next(nodes, i3, row)
				i4 = next(nodes, i4, row)
				i5 = next(nodes, i5, row)
				i6 = next(nodes, i6, row)
				i7 = next(nodes, i7, row)
			}
		}
		// Add in tree order.
		for _, i := range [groupSize]int32{i0, i1, i2, i3, i4, i5, i6, i7} {
			if e.sum32 {
				s32 += float32(nodes[i].value)
			} else {
				s64 += nodes[i].value
			}
		}
		k = (g + 1) * groupSize
	}
	for ; k < len(roots); k++ {
		i := roots[k]
		for range e.depth[k] {
			if special {
				i = e.nextSpecial(i, row)
			} else {
				i = next(nodes, i, row)
			}
		}
		s64 += nodes[i].value
		s32 += float32(nodes[i].value)
	}
	if e.sum32 {
		return e.finish(float64(s32))
	}
	return e.finish(s64)
}

// groupSize is the number of trees Predict walks at once.
const groupSize = 8

// next returns the node after i for row: its left child, its right child,
// or i itself if i is a leaf. It handles plain splits only; nextSpecial
// handles every kind.
func next(nodes []node, i int32, row []float64) int32 {
	n := &nodes[i]
	m := n.meta
	x := nan
	if f := int(m & featureMask); f < len(row) {
		x = row[f]
	}
	// Right iff x >= t, or x is NaN and the default is right; a leaf
	// reads NaN and stays (see leafMeta).
	right := b2i(x >= n.value) | b2i(x != x)&int32(m>>30&1)
	return n.left + right
}

// nan is a quiet NaN.
var nan = math.NaN()

// nextSpecial is next for ensembles with special splits.
func (e *Ensemble) nextSpecial(i int32, row []float64) int32 {
	n := &e.nodes[i]
	if n.meta&flagSpecial == 0 {
		return next(e.nodes, i, row)
	}
	x := nan
	if f := int(n.meta & featureMask); f < len(row) {
		x = row[f]
	}
	if x != x {
		return n.left + b2i(n.meta&flagDefaultRight != 0)
	}
	return n.left + b2i(!e.specials[int(n.value)].goLeft(x))
}

// PredictBatch writes the prediction for rows[i] to out[i], exactly as
// Predict would. It panics if out is shorter than rows.
//
// It takes the rows batchBlock at a time and walks each group of trees for
// every row of the block before it moves to the next group, so the nodes
// of a group come from memory once per block rather than once per row.
func (e *Ensemble) PredictBatch(rows [][]float64, out []float64) {
	if len(out) < len(rows) {
		panic("tree: PredictBatch: out is shorter than rows")
	}
	for start := 0; start < len(rows); start += batchBlock {
		block := rows[start:min(start+batchBlock, len(rows))]
		if !e.blockable(block) {
			for j, row := range block {
				out[start+j] = e.Predict(row)
			}
			continue
		}
		e.predictBlock(block, out[start:start+len(block)])
	}
}

// batchBlock is the number of rows PredictBatch walks through each group
// of trees together.
const batchBlock = 16

// blockable tells whether predictBlock can take rows: the ensemble has no
// special splits and no row is longer than maxFeatures (Predict cuts
// those).
func (e *Ensemble) blockable(rows [][]float64) bool {
	if len(e.specials) > 0 {
		return false
	}
	for _, row := range rows {
		if len(row) > maxFeatures {
			return false
		}
	}
	return true
}

// predictBlock is Predict for up to batchBlock rows at once, summing each
// row's tree values in the same order.
func (e *Ensemble) predictBlock(rows [][]float64, out []float64) {
	nodes, roots := e.nodes, e.roots
	var s64 [batchBlock]float64
	var s32 [batchBlock]float32
	for j := range rows {
		s64[j], s32[j] = e.base, float32(e.base)
	}
	k := 0
	for g, depth := range e.groupDepth {
		r := roots[k : k+groupSize : k+groupSize]
		for j, row := range rows {
			i0, i1, i2, i3, i4, i5, i6, i7 := r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]
			for range depth {
				i0 = next(nodes, i0, row)
				i1 = next(nodes, i1, row)
				i2 = next(nodes, i2, row)
				i3 = next(nodes, i3, row)
				i4 = next(nodes, i4, row)
				i5 = next(nodes, i5, row)
				i6 = next(nodes, i6, row)
				i7 = next(nodes, i7, row)
			}
			s64j, s32j := s64[j], s32[j]
			for _, i := range [groupSize]int32{i0, i1, i2, i3, i4, i5, i6, i7} {
				s64j += nodes[i].value
				s32j += float32(nodes[i].value)
			}
			s64[j], s32[j] = s64j, s32j
		}
		k = (g + 1) * groupSize
	}
	for ; k < len(roots); k++ {
		for j, row := range rows {
			i := roots[k]
			for range e.depth[k] {
				i = next(nodes, i, row)
			}
			s64[j] += nodes[i].value
			s32[j] += float32(nodes[i].value)
		}
	}
	for j := range rows {
		if e.sum32 {
			out[j] = e.finish(float64(s32[j]))
		} else {
			out[j] = e.finish(s64[j])
		}
	}
}

func b2i(b bool) int32 {
	if b {
		return 1
	}
	return 0
}

// finish turns the summed margin into the prediction.
func (e *Ensemble) finish(s float64) float64 {
	if e.divisor != 0 {
		s /= e.divisor
	}
	switch e.link {
	case linkSigmoid32:
		return float64(sigmoid32(float32(s)))
	case linkSigmoid:
		return 1 / (1 + math.Exp(-e.scale*s))
	}
	return s
}

// sigmoid32 is XGBoost's common::Sigmoid: 1/(1+expf(-x)) in float32, with
// -x capped at 88.7 so that expf does not overflow.
func sigmoid32(x float32) float32 {
	t := -x
	if t > 88.7 {
		t = 88.7
	}
	e := float32(math.Exp(float64(t)))
	return 1 / (e + 1)
}
