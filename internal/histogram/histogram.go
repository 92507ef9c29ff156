package histogram

import (
	"fmt"
	"io"
	"math"
	"slices"
	"sort"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series names one histogram series: its metric and the labels that pick
// it among the metric's (others may be set too).
type Series struct {
	Name   string // the key in what Parse returns
	Metric string
	Labels map[string]string
}

// Histogram is a series' cumulative bucket counts by upper bound; the last
// bound is +Inf and its count the series' count.
type Histogram struct {
	Bounds []float64
	Counts []uint64
}

// Parse reads the series asked for from a /metrics text in the Prometheus
// text format. A series missing, not a histogram, or whose buckets are
// not a histogram's (bounds not increasing, counts going down: a text
// from elsewhere may say anything) is left out; a text that does not
// parse is an error.
func Parse(r io.Reader, series []Series) (map[string]Histogram, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("histogram: %w", err)
	}
	out := map[string]Histogram{}
	for _, s := range series {
		mf, ok := mfs[s.Metric]
		if !ok || mf.GetType() != dto.MetricType_HISTOGRAM {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !hasLabels(m, s.Labels) {
				continue
			}
			var h Histogram
			for _, b := range m.GetHistogram().GetBucket() {
				h.Bounds = append(h.Bounds, b.GetUpperBound())
				h.Counts = append(h.Counts, b.GetCumulativeCount())
			}
			if n := len(h.Bounds); n == 0 || !math.IsInf(h.Bounds[n-1], 1) { // the text's +Inf bucket is the count
				h.Bounds = append(h.Bounds, math.Inf(1))
				h.Counts = append(h.Counts, m.GetHistogram().GetSampleCount())
			}
			if h.valid() {
				out[s.Name] = h
			}
			break
		}
	}
	return out, nil
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// valid reports whether h's bounds increase from a non-negative first one
// to +Inf and its counts do not decrease, as a histogram's do.
func (h Histogram) valid() bool {
	if len(h.Bounds) == 0 || len(h.Counts) != len(h.Bounds) || !(h.Bounds[0] >= 0) || !math.IsInf(h.Bounds[len(h.Bounds)-1], 1) {
		return false
	}
	for i := 1; i < len(h.Bounds); i++ {
		if !(h.Bounds[i] > h.Bounds[i-1]) || h.Counts[i] < h.Counts[i-1] {
			return false
		}
	}
	return true
}

// Since returns what h observed after earlier, a read of the same series
// before it, and whether that is a histogram: not when the buckets
// differ or a count went back (the process restarted between the reads).
func (h Histogram) Since(earlier Histogram) (Histogram, bool) {
	if !slices.Equal(h.Bounds, earlier.Bounds) || len(h.Counts) != len(earlier.Counts) {
		return Histogram{}, false
	}
	d := Histogram{Bounds: h.Bounds, Counts: make([]uint64, len(h.Counts))}
	for i, c := range h.Counts {
		if earlier.Counts[i] > c {
			return Histogram{}, false
		}
		d.Counts[i] = c - earlier.Counts[i]
	}
	return d, d.valid()
}

// Count returns the observations h holds.
func (h Histogram) Count() uint64 {
	if len(h.Counts) == 0 {
		return 0
	}
	return h.Counts[len(h.Counts)-1]
}

// Quantile returns the q-quantile (0 ≤ q ≤ 1) of h's observations,
// interpolated linearly within the bucket it falls in (from 0 for the
// first bucket); one in the +Inf bucket is the highest finite bound. It
// returns 0 for a histogram with no observations.
func (h Histogram) Quantile(q float64) float64 {
	n := h.Count()
	if n == 0 || !h.valid() {
		return 0
	}
	rank := min(max(q, 0), 1) * float64(n)
	i := sort.Search(len(h.Counts), func(i int) bool { return float64(h.Counts[i]) >= rank })
	if i >= len(h.Bounds)-1 { // the +Inf bucket
		if len(h.Bounds) < 2 {
			return 0
		}
		return h.Bounds[len(h.Bounds)-2]
	}
	lo, below := 0.0, uint64(0)
	if i > 0 {
		lo, below = h.Bounds[i-1], h.Counts[i-1]
	}
	in := h.Counts[i] - below
	if in == 0 {
		return h.Bounds[i]
	}
	return lo + (h.Bounds[i]-lo)*(rank-float64(below))/float64(in)
}
