package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
)

// nextSnapshot reads the next snapshot of an event stream.
func nextSnapshot(t *testing.T, r *sseReader) *Snapshot {
	t.Helper()
	ev, data, err := r.next()
	require.NoError(t, err)
	require.Equal(t, "snapshot", ev, data)
	var s Snapshot
	require.NoError(t, json.Unmarshal([]byte(data), &s))
	return &s
}

func openEvents(t *testing.T, url string) (*http.Response, *sseReader) {
	t.Helper()
	resp, err := http.Get(url + "/ui/events")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp, newSSEReader(resp)
}

// TestWebWatchLazy: while nobody watches, the dashboard reads nothing; the
// first viewer's first snapshot already shows the decisions read back;
// decisions made while someone watches show live; and once the last viewer
// has been gone for Config.Linger, the dashboard stops reading again and
// forgets, until the next viewer.
func TestWebWatchLazy(t *testing.T) {
	f := start(t, Config{Interval: 50 * time.Millisecond, Linger: 200 * time.Millisecond})
	f.product(t, "p1", "Air Runner", "Swoosh", 110, 100)
	mux := http.NewServeMux()
	f.dash.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	f.decide(t,
		pricing.DecisionRecord{ProductID: "p1", Action: "applied", OldPrice: 100, NewPrice: 110, E2EMillis: 3, Features: map[string]float64{"view_rate": 2}},
		pricing.DecisionRecord{ProductID: "p1", Action: "refused", Reason: "cooldown", OldPrice: 110, NewPrice: 110, Features: map[string]float64{"view_rate": 3}},
		pricing.DecisionRecord{ProductID: "p1", Action: "kept", OldPrice: 110, NewPrice: 110, Features: map[string]float64{"view_rate": 4}},
	)
	require.False(t, f.dash.following(), "nobody watches")
	require.Zero(t, f.dash.read.Load(), "nobody watches: nothing read")

	// The first viewer: the first snapshot shows what was read back.
	resp, sse := openEvents(t, srv.URL)
	defer resp.Body.Close()
	s := nextSnapshot(t, sse)
	require.Equal(t, map[string]int64{"applied": 1, "refused": 1, "kept": 1}, s.Counts)
	require.Len(t, s.Decisions, 2)
	require.Equal(t, "cooldown", s.Decisions[0].Reason, "the log has the reasons")
	require.Equal(t, 1, s.Latency.Count)
	require.Equal(t, 3.0, s.Latency.P50)
	require.Equal(t, []string{"p1"}, ids(s.Products))
	require.Equal(t, 3, s.Products[0].Activity)
	require.Equal(t, []float64{100, 110, 110, 110}, s.Series.Price)
	require.Equal(t, []float64{2, 2, 3, 4}, s.Series.Demand)
	require.Equal(t, "view_rate", s.Series.DemandName)
	require.Equal(t, 3, int(f.dash.read.Load()))

	// Mid-run: a decision made while the viewer watches shows live.
	f.decide(t, pricing.DecisionRecord{ProductID: "p1", Action: "applied", OldPrice: 110, NewPrice: 115, E2EMillis: 5})
	waitFor(t, 10*time.Second, func() error {
		s = nextSnapshot(t, sse)
		if s.Counts["applied"] != 2 || s.Decisions[0].NewPrice != 115 || s.Latency.Count != 2 {
			return fmt.Errorf("counts %v, newest %+v", s.Counts, s.Decisions[0])
		}
		return nil
	})
	waitFor(t, 10*time.Second, func() error {
		if s = nextSnapshot(t, sse); s.DecisionsPerSecond <= 0 {
			return fmt.Errorf("decisions/s %v", s.DecisionsPerSecond)
		}
		return nil
	})

	// The viewer goes: after Config.Linger the dashboard stops reading and
	// forgets.
	resp.Body.Close()
	waitFor(t, 10*time.Second, func() error {
		if f.dash.sessions.Load() != 1 || f.dash.following() {
			return fmt.Errorf("%d sessions ended, following %v", f.dash.sessions.Load(), f.dash.following())
		}
		return nil
	})
	read := f.dash.read.Load()
	f.decide(t, pricing.DecisionRecord{ProductID: "p1", Action: "refused", Reason: "frozen", OldPrice: 115, NewPrice: 115})
	require.False(t, f.dash.following())
	require.Equal(t, read, f.dash.read.Load(), "nobody watches: nothing read")
	f.dash.mu.Lock()
	require.Zero(t, f.dash.mu.total, "forgotten")
	require.Empty(t, f.dash.mu.products)
	f.dash.mu.Unlock()

	// The next viewer (a snapshot) sees everything of the last minute.
	s = f.snapshot(t, View{})
	require.Equal(t, map[string]int64{"applied": 2, "refused": 2, "kept": 1}, s.Counts)
	require.Equal(t, "frozen", s.Decisions[0].Reason)
	require.True(t, f.dash.following())
}

// TestWebWatchNoStream: a viewer's first snapshot does not wait for a
// price-changes stream that does not exist.
func TestWebWatchNoStream(t *testing.T) {
	f := start(t, Config{Changes: "nothing-here"})
	at := time.Now()
	s := f.snapshot(t, View{})
	require.Less(t, time.Since(at), readyWait)
	require.Empty(t, s.Decisions)
}

// TestWebBackfillBound: where the last Config.Backfill holds more than the
// limit, the dashboard reads back about the newest limit records.
func TestWebBackfillBound(t *testing.T) {
	f := start(t, Config{})
	ctx := context.Background()
	_, err := f.streams.Create(ctx, stream.Spec{Name: "one", Partitions: 1})
	require.NoError(t, err)
	one, err := f.streams.Open(ctx, "one")
	require.NoError(t, err)
	for i := range 10 {
		var es []stream.Entry
		for j := range 100 {
			es = append(es, stream.Entry{PartitionKey: "p", Data: []byte(strconv.Itoa(100*i + j))})
		}
		_, err := one.Append(ctx, es)
		require.NoError(t, err)
		<-time.After(2 * time.Millisecond) // spreads the arrivals, which the estimate assumes even
	}
	left := func(limit uint64) uint64 {
		from, tip, err := f.dash.backfillFrom(ctx, one, 0, limit)
		require.NoError(t, err)
		require.EqualValues(t, 1000, tip.Records)
		res, err := one.Read(ctx, 0, from, stream.ReadOptions{MaxRecords: 1})
		require.NoError(t, err)
		require.NotEmpty(t, res.Records)
		return tip.Records - res.Records[0].Offset
	}
	require.EqualValues(t, 1000, left(2000), "within the limit: the whole backfill")
	n := left(100)
	require.Greater(t, n, uint64(0))
	require.Less(t, n, uint64(500), "about the newest 100")
}
