package tree

// WalkAlong is PredictAlong by the walk alone, without the curves: the
// baseline of BenchmarkTreePredictAlong.
func (e *Ensemble) WalkAlong(row []float64, f int, values, out []float64) {
	e.walkAlong(row, f, values, out)
}
