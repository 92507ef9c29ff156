package histogram_test

import (
	"bytes"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/histogram"
)

const before = `# TYPE pricestream_trigger_delivery_seconds histogram
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.001"} 10
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.002"} 10
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.004"} 10
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="+Inf"} 10
pricestream_trigger_delivery_seconds_sum{trigger="reprice"} 0.005
pricestream_trigger_delivery_seconds_count{trigger="reprice"} 10
pricestream_trigger_delivery_seconds_bucket{trigger="other",le="0.001"} 0
pricestream_trigger_delivery_seconds_bucket{trigger="other",le="+Inf"} 0
pricestream_trigger_delivery_seconds_sum{trigger="other"} 0
pricestream_trigger_delivery_seconds_count{trigger="other"} 0
# TYPE pricestream_pricing_decision_seconds histogram
pricestream_pricing_decision_seconds_bucket{le="0.001"} 3
pricestream_pricing_decision_seconds_bucket{le="+Inf"} 3
pricestream_pricing_decision_seconds_sum 0.001
pricestream_pricing_decision_seconds_count 3
# TYPE pricestream_http_requests_total counter
pricestream_http_requests_total{route="/v1",code="200"} 12
`

// In between: 100 deliveries, 50 under 1 ms, 40 in (1, 2] ms, 9 in (2, 4]
// ms, one over 4 ms; no decision.
const after = `# TYPE pricestream_trigger_delivery_seconds histogram
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.001"} 60
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.002"} 100
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="0.004"} 109
pricestream_trigger_delivery_seconds_bucket{trigger="reprice",le="+Inf"} 110
pricestream_trigger_delivery_seconds_sum{trigger="reprice"} 0.2
pricestream_trigger_delivery_seconds_count{trigger="reprice"} 110
pricestream_trigger_delivery_seconds_bucket{trigger="other",le="0.001"} 7
pricestream_trigger_delivery_seconds_bucket{trigger="other",le="+Inf"} 7
pricestream_trigger_delivery_seconds_sum{trigger="other"} 0.001
pricestream_trigger_delivery_seconds_count{trigger="other"} 7
# TYPE pricestream_pricing_decision_seconds histogram
pricestream_pricing_decision_seconds_bucket{le="0.001"} 3
pricestream_pricing_decision_seconds_bucket{le="+Inf"} 3
pricestream_pricing_decision_seconds_sum 0.001
pricestream_pricing_decision_seconds_count 3
`

var series = []histogram.Series{
	{Name: "delivery", Metric: "pricestream_trigger_delivery_seconds", Labels: map[string]string{"trigger": "reprice"}},
	{Name: "decision", Metric: "pricestream_pricing_decision_seconds"},
	{Name: "requests", Metric: "pricestream_http_requests_total"}, // not a histogram
	{Name: "absent", Metric: "pricestream_nothing_seconds"},
}

// Parse picks the series asked for by metric and labels; Since is what
// they observed in between, and a quantile is read from its buckets as
// Prometheus' histogram_quantile reads it.
func TestHistogramBetweenReads(t *testing.T) {
	b, err := histogram.Parse(strings.NewReader(before), series)
	require.NoError(t, err)
	require.Equal(t, []string{"decision", "delivery"}, keys(b), "a counter and an absent metric are left out")
	a, err := histogram.Parse(strings.NewReader(after), series)
	require.NoError(t, err)

	d, ok := a["delivery"].Since(b["delivery"])
	require.True(t, ok)
	require.Equal(t, uint64(100), d.Count())
	// rank 50 of 100 is the 50th of the first bucket's 50: its top; rank
	// 99 the 9th of the (2, 4] bucket's 9: its top.
	require.InDelta(t, 0.001, d.Quantile(0.5), 1e-12)
	require.InDelta(t, 0.004, d.Quantile(0.99), 1e-12)
	require.InDelta(t, 0.004, d.Quantile(1), 1e-12, "the one in +Inf: the highest bound")
	dec, ok := a["decision"].Since(b["decision"])
	require.True(t, ok)
	require.Zero(t, dec.Count())
	require.Zero(t, dec.Quantile(0.5))

	_, ok = b["delivery"].Since(a["delivery"])
	require.False(t, ok, "counts that went back: a restart between the reads")
	_, ok = a["delivery"].Since(a["decision"])
	require.False(t, ok, "other buckets")

	// Within a bucket, linearly.
	h := histogram.Histogram{Bounds: []float64{1, 2, 4, math.Inf(1)}, Counts: []uint64{0, 4, 8, 10}}
	require.InDelta(t, 1.25, h.Quantile(0.1), 1e-9) // rank 1 of the (1, 2] bucket's 4
	require.InDelta(t, 3, h.Quantile(0.6), 1e-9)    // rank 6: the 2nd of the (2, 4] bucket's 4

	_, err = histogram.Parse(strings.NewReader("not { metrics"), series)
	require.Error(t, err)
}

func keys(m map[string]histogram.Histogram) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// FuzzHistogram: whatever a /metrics text says (it may come from a server
// elsewhere), reading it neither panics nor gives a histogram whose
// quantiles are not numbers, are negative or go down as q goes up.
func FuzzHistogram(f *testing.F) {
	f.Add([]byte(before), []byte(after))
	f.Add([]byte(after), []byte(before))
	f.Add([]byte(""), []byte("# TYPE pricestream_pricing_decision_seconds histogram\npricestream_pricing_decision_seconds_bucket{le=\"-1\"} 5\npricestream_pricing_decision_seconds_bucket{le=\"+Inf\"} 2\npricestream_pricing_decision_seconds_count 2\n"))
	f.Fuzz(func(t *testing.T, first, second []byte) {
		b, err := histogram.Parse(bytes.NewReader(first), series)
		if err != nil {
			return
		}
		a, err := histogram.Parse(bytes.NewReader(second), series)
		if err != nil {
			return
		}
		for name, h := range a {
			check := func(h histogram.Histogram) {
				p50, p99 := h.Quantile(0.5), h.Quantile(0.99)
				if math.IsNaN(p50) || math.IsNaN(p99) || p50 < 0 || p99 < p50 {
					t.Fatalf("%s: p50 %v, p99 %v of %+v", name, p50, p99, h)
				}
			}
			check(h)
			if d, ok := h.Since(b[name]); ok {
				check(d)
			}
		}
	})
}
