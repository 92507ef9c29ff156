package demo

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/sim"
)

// The demo runs the pipeline in real (scaled) time with the shop sending
// through the Kinesis API, prints its live line and sums up.
func TestDemoRunsAndSumsUp(t *testing.T) {
	cfg := testConfig(t)
	var out bytes.Buffer
	s, err := Run(context.Background(), Options{App: cfg, Sim: sim.Config{Seed: 42, Products: 10}, Speed: 30, Duration: 4 * time.Second, API: "kinesis", Out: &out})
	require.NoError(t, err)
	require.Contains(t, out.String(), "dashboard at http://127.0.0.1:")
	require.Contains(t, out.String(), "events/s")
	require.Positive(t, s.Events)
	require.Zero(t, s.EventsFailed)
	require.Positive(t, s.SimSeconds)
	require.Positive(t, s.PriceChanges+s.KeptDecisions+s.RefusedChanges, "no decision reached price_changes: %+v", s)
	require.Zero(t, s.GuardrailViolations)
	require.Positive(t, s.RevenueStatic)
}

// The bench drives the embedded pipeline at a steady rate and reports
// what `pricestream bench` prints: the events sent, the latency of the
// applied changes read from their records, the process's CPU and memory,
// and its collections.
func TestBenchReports(t *testing.T) {
	res, err := Bench(context.Background(), BenchOptions{App: testConfig(t), Rate: 300, Duration: 3 * time.Second, Warmup: 500 * time.Millisecond, Window: time.Second, Products: 100})
	require.NoError(t, err)
	require.Positive(t, res.Events)
	require.InDelta(t, 300, res.EventsPerSec, 150, "the rate asked")
	require.Zero(t, res.Dropped)
	require.Positive(t, res.PriceChanges, "%+v", res)
	require.GreaterOrEqual(t, res.Decisions, res.PriceChanges)
	require.Positive(t, res.E2ESamples)
	require.Positive(t, res.E2EP50)
	require.GreaterOrEqual(t, res.E2EP99, res.E2EP50)
	require.GreaterOrEqual(t, res.E2EP999, res.E2EP99)
	require.Positive(t, res.RSSMB)
	require.Positive(t, res.CPUMicrosPerEvent)
	require.GreaterOrEqual(t, res.GCCPUPct, 0.0)
	require.Positive(t, res.AllocBytesPerEvent, "the pipeline allocates for every event")
	require.Zero(t, res.Violations)
	require.Equal(t, "interval:100ms", res.Fsync)
	// The shop's revenue, at the pipeline's prices and at static ones.
	require.Positive(t, res.RevenueStatic, "%+v", res)
	require.Positive(t, res.RevenueDynamic, "%+v", res)
	require.InDelta(t, 100*(res.RevenueDynamic/res.RevenueStatic-1), res.RevenueUpliftPct, 0.02, "rounded to cents and hundredths of a percent")
	// Its orders: about one event in 75 by default, as in a real shop
	// (the demo's shop, 0.3, makes one in ten).
	require.Positive(t, res.Orders, "%+v", res)
	require.Less(t, float64(res.Orders), 0.05*float64(res.Events), "%+v", res)
	// The same changes by decision time, in windows after the warm-up.
	require.NotEmpty(t, res.E2EWindows)
	n := 0
	for i, w := range res.E2EWindows {
		n += w.Changes
		require.Positive(t, w.Changes)
		require.GreaterOrEqual(t, w.P99, w.P50)
		require.GreaterOrEqual(t, w.At, 0.0)
		if i > 0 {
			require.Greater(t, w.At, res.E2EWindows[i-1].At)
		}
	}
	require.Equal(t, res.E2ESamples, n, "every change measured is in a window")
	// Each hop's percentiles over the measured interval, from the
	// pipeline's histograms.
	for _, name := range []string{"ingest_put", "etl_source_wait", "etl_process", "etl_sink_write", "trigger_delivery", "trigger_invocation", "pricing_decision", "pricing_end_to_end"} {
		st, ok := res.Stages[name]
		require.True(t, ok, "stage %s missing from %v", name, res.Stages)
		require.Positive(t, st.Count, name)
		require.Positive(t, st.P50, name)
		require.GreaterOrEqual(t, st.P99, st.P50, name)
	}
	require.NotContains(t, res.Stages, "engine_group_sync", "no group syncs with interval fsync")
}

func TestViolates(t *testing.T) {
	d := pricing.DecisionRecord{Action: "applied", OldPrice: 100, NewPrice: 110, MinPrice: 70, MaxPrice: 140}
	require.False(t, Violates(d, 10))
	d.NewPrice = 110.02
	require.True(t, Violates(d, 10), "a step over 10%%")
	d.NewPrice, d.OldPrice = 141, 140
	require.True(t, Violates(d, 10), "above the maximum")
	d.NewPrice, d.OldPrice = 69.5, 70
	require.True(t, Violates(d, 10), "below the minimum")
}
