package tree

import (
	"math"
	"slices"
	"sync"
	"sync/atomic"
)

// Demand curves: PredictAlong's results kept for a context.
//
// A tree routes a value of feature f by the splits on f alone, and a value
// takes the same way as every other value between the same two of f's
// split thresholds (x >= t goes right). So for a fixed rest of the row the
// ensemble's output, as a function of f, is a step function over the
// intervals that f's distinct thresholds cut the line into; and the rest
// of the row matters only through the same kind of interval of each other
// feature. A curve is that step function for one context (f and the
// interval of each other feature's value, or its being missing): computed
// once by the walk over one value per interval, it answers every later
// value by a binary search over f's thresholds, to the bit what Predict
// gives (the walk is exact, and a value's interval fixes its way through
// every tree).
//
// The pricing policy asks for 9–19 candidate prices of a product per
// decision, the features other than the price moving by small steps: with
// the shipped model (300 trees, two features) a context's curve is built
// from ~750 values, and the contexts repeat (trend_now has ~370
// intervals). A curve is built on a context's second request, so that
// contexts that never repeat (models of many features) cost a map lookup
// each, not a curve; the curves held are bounded (maxCurveValues), and
// past the bound requests walk as before.

// maxCurveContext is the most features an ensemble may have for curves:
// a context is one interval index per feature.
const maxCurveContext = 8

// maxCurveValues bounds the values the curves of one ensemble hold
// (8 bytes each: 16 MiB), and maxCurveContexts the contexts it counts.
const (
	maxCurveValues   = 1 << 21
	maxCurveContexts = 1 << 16
)

// curveKey is a context: the varied feature and, for each feature, the
// interval of its value (-1: missing; the varied feature's own is 0).
type curveKey struct {
	f   int32
	idx [maxCurveContext]int32
}

// curve is a context's step function, once built: vals[k] is the output
// for a value of f with k of f's thresholds at or below it.
type curve struct {
	requests atomic.Int32
	once     sync.Once
	vals     atomic.Pointer[[]float64] // nil until built, or when the bound refused it
}

// curves is an ensemble's cache of curves.
type curves struct {
	thresholds [][]float64 // per feature, the distinct split thresholds, ascending
	m          sync.Map    // curveKey -> *curve
	contexts   atomic.Int64
	values     atomic.Int64
}

// curveSet returns the ensemble's curves, or nil when it has none
// (special splits, or more features than a context holds).
func (e *Ensemble) curveSet() *curves {
	e.curvesOnce.Do(func() {
		if len(e.specials) > 0 || e.numFeatures > maxCurveContext {
			return
		}
		c := &curves{thresholds: make([][]float64, e.numFeatures)}
		for _, n := range e.nodes {
			if n.meta&flagLeaf != 0 {
				continue
			}
			if math.IsNaN(n.value) {
				return // a threshold that orders nothing: walk
			}
			if f := int(n.meta & featureMask); f < len(c.thresholds) {
				c.thresholds[f] = append(c.thresholds[f], n.value)
			}
		}
		for f, ts := range c.thresholds {
			slices.Sort(ts)
			c.thresholds[f] = slices.Compact(ts)
		}
		e.curves = c
	})
	return e.curves
}

// interval returns how many of ts are at or below x: the interval of x
// (x not NaN).
func interval(ts []float64, x float64) int {
	lo, hi := 0, len(ts)
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if ts[h] <= x {
			lo = h + 1
		} else {
			hi = h
		}
	}
	return lo
}

// alongCurve answers PredictAlong from the context's curve and reports
// true, or reports false when the context has none (yet, or beyond the
// bound). values hold no NaN.
func (e *Ensemble) alongCurve(c *curves, row []float64, f int, values, out []float64) bool {
	k := curveKey{f: int32(f)}
	for g := range c.thresholds {
		switch {
		case g == f:
		case g >= len(row) || math.IsNaN(row[g]):
			k.idx[g] = -1
		default:
			k.idx[g] = int32(interval(c.thresholds[g], row[g]))
		}
	}
	v, ok := c.m.Load(k)
	if !ok {
		if c.contexts.Load() >= maxCurveContexts {
			return false
		}
		var loaded bool
		if v, loaded = c.m.LoadOrStore(k, &curve{}); !loaded {
			c.contexts.Add(1)
		}
	}
	cv := v.(*curve)
	vals := cv.vals.Load() // built: read without writing to the shared curve
	if vals == nil {
		if cv.requests.Add(1) < 2 {
			return false // a context seen once: walk
		}
		cv.once.Do(func() { cv.build(e, c, row, f) })
		if vals = cv.vals.Load(); vals == nil {
			return false
		}
	}
	ts := c.thresholds[f]
	for i, x := range values {
		out[i] = (*vals)[interval(ts, x)]
	}
	return true
}

// build computes the curve of row's context for feature f, unless the
// ensemble's curves are at their bound.
func (cv *curve) build(e *Ensemble, c *curves, row []float64, f int) {
	ts := c.thresholds[f]
	if c.values.Add(int64(len(ts)+1)) > maxCurveValues {
		c.values.Add(-int64(len(ts) + 1))
		return
	}
	// One value per interval: below every threshold, then each
	// threshold itself (x >= t goes right).
	reps := make([]float64, len(ts)+1)
	reps[0] = math.Inf(-1)
	copy(reps[1:], ts)
	vals := make([]float64, len(reps))
	e.walkAlong(row, f, reps, vals)
	cv.vals.Store(&vals)
}
