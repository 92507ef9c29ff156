package demo

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/histogram"
)

// A stage's figures are what it observed between the two reads: from
// zero when the first read lacked it; none when it observed nothing in
// between or its counts went back (the pipeline restarted).
func TestBenchStageLatencies(t *testing.T) {
	h := func(counts ...uint64) histogram.Histogram {
		return histogram.Histogram{Bounds: []float64{0.001, 0.002, math.Inf(1)}, Counts: counts}
	}
	before := map[string]histogram.Histogram{"a": h(10, 10, 10), "quiet": h(1, 2, 3), "restarted": h(5, 5, 5)}
	after := map[string]histogram.Histogram{"a": h(20, 30, 30), "new": h(0, 4, 4), "quiet": h(1, 2, 3), "restarted": h(1, 1, 1)}
	require.Equal(t, map[string]StageLatency{
		"a":   {Count: 20, P50: 1, P99: 1.98},  // 10 under 1 ms, 10 in (1, 2]: rank 19.8 is the 9.8th of 10
		"new": {Count: 4, P50: 1.5, P99: 1.99}, // all 4 in (1, 2]: ranks 2 and 3.96 of 4
	}, stageLatencies(before, after))
}
