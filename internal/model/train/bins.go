package train

import (
	"math"
	"slices"
	"sort"
)

// quantizer maps feature values to histogram bins. Bin 0 of every feature
// holds the missing values (NaN); value bin b (bin b+1) holds the values
// x with cuts[b-1] <= float32(x) < cuts[b]. A split after value bin b is
// XGBoost's "float32(x) < cuts[b] goes left", so rows are routed in
// training exactly as the saved model routes them.
type quantizer struct {
	cuts [][]float32 // per feature, ascending, finite
	offs []int       // per feature, the offset of its bins in a histogram
	size int         // bins of all features: the length of a histogram
}

// newQuantizer chooses the cuts of every feature from the rows listed in
// rows: between all distinct values if there are at most maxBins of them,
// else at equal-count quantiles.
func newQuantizer(d *Data, rows []int32, maxBins int) *quantizer {
	nf := len(d.Features)
	q := &quantizer{cuts: make([][]float32, nf), offs: make([]int, nf)}
	vals := make([]float32, 0, len(rows))
	for f := range nf {
		vals = vals[:0]
		for _, r := range rows {
			if x := d.Rows[r][f]; !math.IsNaN(x) {
				vals = append(vals, float32(x))
			}
		}
		slices.Sort(vals)
		q.cuts[f] = chooseCuts(vals, maxBins)
		q.offs[f] = q.size
		q.size += len(q.cuts[f]) + 2
	}
	return q
}

// chooseCuts returns at most maxBins-1 cuts for the sorted values.
func chooseCuts(sorted []float32, maxBins int) []float32 {
	distinct := 0
	for i := range sorted {
		if i == 0 || sorted[i] != sorted[i-1] {
			distinct++
		}
	}
	var cuts []float32
	n := float64(len(sorted))
	for i := 1; i < len(sorted); i++ {
		if sorted[i] == sorted[i-1] {
			continue
		}
		// A cut between sorted[i-1] and sorted[i]: always when every
		// distinct value gets its bin, else when the rows below reach the
		// next quantile.
		if distinct > maxBins && float64(i) < float64(len(cuts)+1)*n/float64(maxBins) {
			continue
		}
		cuts = append(cuts, between(sorted[i-1], sorted[i]))
		if len(cuts) == maxBins-1 {
			break
		}
	}
	return cuts
}

// between returns a finite float32 c with a < c <= b, near the midpoint.
func between(a, b float32) float32 {
	m := float32(float64(a)/2 + float64(b)/2)
	if !(m > a) || math.IsInf(float64(m), 0) {
		m = math.Nextafter32(a, float32(math.Inf(1)))
	}
	if m > b {
		m = b
	}
	return m
}

// bin returns the bin of value x of feature f.
func (q *quantizer) bin(f int, x float64) uint16 {
	if math.IsNaN(x) {
		return 0
	}
	c := q.cuts[f]
	x32 := float32(x)
	return uint16(1 + sort.Search(len(c), func(i int) bool { return c[i] > x32 }))
}

// binRows returns the bins of the listed rows, row-major.
func (q *quantizer) binRows(d *Data, rows []int32) []uint16 {
	nf := len(d.Features)
	out := make([]uint16, len(rows)*nf)
	for i, r := range rows {
		row := d.Rows[r]
		for f := range nf {
			out[i*nf+f] = q.bin(f, row[f])
		}
	}
	return out
}
