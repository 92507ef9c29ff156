package demo

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/pricing"
)

// The monitor counts each decision once (a redelivered features row
// records its decision again), reads every partition, checks each applied
// change against the guardrails from its record alone, and keeps the
// latencies of the applied ones; through the HTTP API and from the
// engine of its own process alike.
func TestMonitorCountsEachDecisionOnce(t *testing.T) {
	ctx := context.Background()
	decisions := []pricing.DecisionRecord{
		{DecisionID: "d1", ProductID: "p1", Action: "applied", OldPrice: 100, NewPrice: 105, MinPrice: 50, MaxPrice: 150, E2EMillis: 3},
		{DecisionID: "d1", ProductID: "p1", Action: "applied", OldPrice: 100, NewPrice: 105, MinPrice: 50, MaxPrice: 150, E2EMillis: 9}, // again
		{DecisionID: "d2", ProductID: "p2", Action: "refused", Reason: "cooldown", OldPrice: 80, NewPrice: 84},
		{DecisionID: "d3", ProductID: "p3", Action: "kept", OldPrice: 60, NewPrice: 60},
		{DecisionID: "d4", ProductID: "p4", Action: "applied", OldPrice: 100, NewPrice: 130, MinPrice: 50, MaxPrice: 150, E2EMillis: 5}, // a 30% step
	}
	for i := range 40 { // spread over every partition
		decisions = append(decisions, pricing.DecisionRecord{DecisionID: fmt.Sprintf("k%d", i), ProductID: fmt.Sprintf("q%d", i), Action: "kept", OldPrice: 10, NewPrice: 10})
	}
	p, err := Start(ctx, testConfig(t), slog.New(slog.DiscardHandler), func(ctx context.Context, c *client.Client) error {
		recs := make([]api.PutRecord, 0, len(decisions))
		for _, d := range decisions {
			b, err := json.Marshal(d)
			if err != nil {
				return err
			}
			recs = append(recs, api.PutRecord{PartitionKey: d.ProductID, Data: b})
		}
		res, err := c.PutRecords(ctx, "price_changes", recs)
		if err != nil {
			return err
		}
		if res.FailedRecordCount != 0 {
			return fmt.Errorf("%d records failed", res.FailedRecordCount)
		}
		return nil
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, p.Stop()) })

	for _, local := range []bool{false, true} {
		t.Run(map[bool]string{false: "http", true: "local"}[local], func(t *testing.T) {
			mon := NewMonitor(p.Client, "", 10)
			if local {
				mon.ReadLocal(p.App.Streams())
			}
			mctx, stop := context.WithCancel(ctx)
			done := make(chan error, 1)
			go func() { done <- mon.Run(mctx) }()
			defer func() {
				stop()
				require.NoError(t, <-done)
			}()
			want := Stats{Applied: 2, Kept: 41, Refused: 1, Violations: 1}
			deadline := time.Now().Add(30 * time.Second)
			for {
				st := mon.Stats(0)
				if st.Applied+st.Kept+st.Refused >= want.Applied+want.Kept+want.Refused || time.Now().After(deadline) {
					break
				}
				time.Sleep(10 * time.Millisecond) // polling interval
			}
			st := mon.Stats(0)
			require.Equal(t, want.Applied, st.Applied)
			require.Equal(t, want.Kept, st.Kept)
			require.Equal(t, want.Refused, st.Refused)
			require.Equal(t, want.Violations, st.Violations)
			require.Equal(t, 2, st.E2ECount)
			require.Equal(t, 3.0, st.E2EP50, "the first record of d1 counts, not its repetition")
		})
	}
}

// recentIDs forgets the oldest ids past its bound, and only those.
func TestMonitorRecentIDsBounded(t *testing.T) {
	var r recentIDs
	require.True(t, r.add("a"))
	require.False(t, r.add("a"))
	for i := range maxRecentIDs - 1 {
		require.True(t, r.add(fmt.Sprint(i)))
	}
	require.False(t, r.add("a"), "still within the bound")
	require.True(t, r.add("new"))
	require.Len(t, r.m, maxRecentIDs)
	require.True(t, r.add("a"), "the oldest was forgotten")
	require.False(t, r.add("new"))
	require.False(t, r.add("1"), "only the oldest, 0, made way for a")
	require.True(t, r.add("0"))
}

// readGC counts the collections that ran, the CPU time they took and the
// bytes allocated: a forced collection adds one cycle and takes some CPU,
// and a thousand kilobytes allocated count at least as much.
func TestBenchReadGC(t *testing.T) {
	before := readGC()
	sink := make([][]byte, 0, 1000)
	for range 1000 {
		sink = append(sink, make([]byte, 1024))
	}
	runtime.GC()
	after := readGC()
	require.NotEmpty(t, sink)
	require.GreaterOrEqual(t, after.cycles, before.cycles+1)
	require.Greater(t, after.cpu, before.cpu, "a collection took no CPU time")
	require.GreaterOrEqual(t, after.alloc-before.alloc, uint64(1000*1024), "the kilobytes allocated are not counted")
}

// Windows groups the applied changes' latencies by when they were decided:
// intervals of the width from the origin, empty ones left out, each with
// its count and percentiles; the changes before skip and those of no
// known decision time are not counted.
func TestMonitorWindows(t *testing.T) {
	origin := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	m := NewMonitor(nil, "", 10)
	at := func(d time.Duration) string { return origin.Add(d).Format(time.RFC3339Nano) }
	for i, c := range []struct {
		at  string
		e2e float64
	}{
		{at(-time.Second), 1000},        // skipped (the warm-up)
		{at(100 * time.Millisecond), 4}, // window 0
		{at(900 * time.Millisecond), 2},
		{at(999 * time.Millisecond), 3},
		{at(2500 * time.Millisecond), 50}, // window 2 (window 1 empty)
		{"", 7},                           // no decision time
		{at(-1500 * time.Millisecond), 9}, // before the origin: window -2
	} {
		m.add(&decisionHead{DecisionID: fmt.Sprint(i), Action: "applied", E2EMillis: c.e2e, DecidedAt: c.at})
	}
	m.add(&decisionHead{DecisionID: "kept", Action: "kept", DecidedAt: at(0)})
	require.Equal(t, []Window{
		{At: -2, Changes: 1, P50: 9, P99: 9},
		{At: 0, Changes: 3, P50: 3, P99: 4},
		{At: 2, Changes: 1, P50: 50, P99: 50},
	}, m.Windows(1, origin, time.Second))
	require.Len(t, m.Windows(0, origin, time.Second), 4, "the first change counts without the skip")
	require.Nil(t, m.Windows(0, origin, 0))
}
