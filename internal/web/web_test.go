package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, enginetest.LeakOptions()...) }

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

type fixture struct {
	streams  *stream.Manager
	tables   *table.Manager
	products *table.Table
	changes  *stream.Stream
	clicks   *stream.Stream
	controls *pricing.Controls
	dash     *Dashboard
}

// start runs a dashboard on a real engine with the products table and the
// clicks and price-changes streams.
func start(t testing.TB, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	eng := enginetest.Start(t)
	f := &fixture{}
	var err error
	f.streams, err = stream.New(stream.Config{}, stream.Deps{Engine: eng})
	require.NoError(t, err)
	t.Cleanup(func() { f.streams.Close() })
	f.tables, err = table.New(table.Config{}, table.Deps{Engine: eng})
	require.NoError(t, err)
	t.Cleanup(func() { f.tables.Close() })
	_, err = f.tables.Create(ctx, table.Spec{Name: "products", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	f.products, err = f.tables.Open(ctx, "products")
	require.NoError(t, err)
	for name, parts := range map[string]int{"price_changes": 2, "clicks": 2} {
		_, err = f.streams.Create(ctx, stream.Spec{Name: name, Partitions: parts})
		require.NoError(t, err)
	}
	f.changes, err = f.streams.Open(ctx, "price_changes")
	require.NoError(t, err)
	f.clicks, err = f.streams.Open(ctx, "clicks")
	require.NoError(t, err)
	f.controls, err = pricing.OpenControls(ctx, eng, nil)
	require.NoError(t, err)
	t.Cleanup(f.controls.Close)
	f.dash, err = New(cfg, Deps{Streams: f.streams, Tables: f.tables, Controls: f.controls})
	require.NoError(t, err)
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- f.dash.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	return f
}

func (f *fixture) product(t testing.TB, id, name, brand string, price, previous float64) {
	t.Helper()
	it := item.Item{"product_id": item.StringValue(id), "name": item.StringValue(name), "brand": item.StringValue(brand),
		"price": n(price), "base_price": n(price), "min_price": n(price / 2), "max_price": n(price * 2), "inventory": item.IntValue(7)}
	if previous > 0 {
		it["price_previous"] = n(previous)
	}
	_, err := f.products.Put(context.Background(), it, table.WriteOptions{})
	require.NoError(t, err)
}

func n(v float64) item.Value {
	num, _ := item.ParseNumber(strconv.FormatFloat(v, 'f', -1, 64))
	return item.NumberValue(num)
}

var decisionSeq int

func (f *fixture) decide(t *testing.T, recs ...pricing.DecisionRecord) {
	t.Helper()
	var entries []stream.Entry
	for _, r := range recs {
		if r.DecisionID == "" {
			decisionSeq++
			r.DecisionID = strconv.Itoa(decisionSeq)
		}
		if r.DecidedAt.IsZero() {
			r.DecidedAt = time.Now().UTC()
		}
		b, err := json.Marshal(r)
		require.NoError(t, err)
		entries = append(entries, stream.Entry{PartitionKey: r.ProductID, Data: b})
	}
	res, err := f.changes.Append(context.Background(), entries)
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
	}
}

func (f *fixture) snapshot(t *testing.T, v View) *Snapshot {
	t.Helper()
	s, err := f.dash.Snapshot(context.Background(), v)
	require.NoError(t, err)
	return s
}

func TestWebSnapshot(t *testing.T) {
	f := start(t, Config{Interval: 50 * time.Millisecond, Rows: 3})
	f.product(t, "p1", "Air Runner", "Swoosh", 110, 100)
	f.product(t, "p2", "Court Classic", "Stripes", 90, 100)
	f.product(t, "p3", "Trail Blazer", "Swoosh", 120, 0)
	f.product(t, "p4", "Quiet One", "Other", 50, 0)

	// Before any decision: the table's products in key order.
	s := f.snapshot(t, View{})
	require.Equal(t, []string{"p1", "p2", "p3"}, ids(s.Products))
	require.Equal(t, "up", s.Products[0].Direction)
	require.Equal(t, "down", s.Products[1].Direction)
	require.Equal(t, "", s.Products[2].Direction)
	require.Equal(t, "Air Runner", s.Products[0].Name)
	require.Equal(t, 100.0, s.Products[0].Previous)
	require.Equal(t, 7.0, s.Products[0].Inventory)
	require.Zero(t, s.Latency.Count)
	require.True(t, s.Viewer.CanControl, "open when authentication is off")

	// Decisions: p4 the most active, then p3; the log newest first and
	// without kept decisions; latency from the applied ones.
	f.decide(t,
		pricing.DecisionRecord{ProductID: "p4", Action: "applied", OldPrice: 50, NewPrice: 52, E2EMillis: 2, Features: map[string]float64{"views": 10}},
		pricing.DecisionRecord{ProductID: "p4", Action: "kept", OldPrice: 52, NewPrice: 52, Features: map[string]float64{"views": 12}},
		pricing.DecisionRecord{ProductID: "p4", Action: "applied", OldPrice: 52, NewPrice: 54, E2EMillis: 4, Features: map[string]float64{"views": 15}},
		pricing.DecisionRecord{ProductID: "p3", Action: "refused", Reason: "cooldown", OldPrice: 120, NewPrice: 120},
	)
	// A redelivered decision (same id) counts once.
	f.decide(t, pricing.DecisionRecord{DecisionID: "dup", ProductID: "p3", Action: "applied", OldPrice: 120, NewPrice: 125, E2EMillis: 100})
	f.decide(t, pricing.DecisionRecord{DecisionID: "dup", ProductID: "p3", Action: "applied", OldPrice: 120, NewPrice: 125, E2EMillis: 100})
	waitFor(t, 10*time.Second, func() error {
		s = f.snapshot(t, View{})
		if got := s.Counts["applied"] + s.Counts["kept"] + s.Counts["refused"]; got != 5 {
			return fmt.Errorf("%d decisions seen: %v", got, s.Counts)
		}
		if s.Latency.Count != 3 {
			return fmt.Errorf("latency over %d decisions", s.Latency.Count)
		}
		// The ranking is made again at most every half interval.
		if got := ids(s.Products); !slices.Equal(got, []string{"p4", "p3", "p1"}) {
			return fmt.Errorf("rows %v; want the most active first, then the table", got)
		}
		return nil
	})
	require.Equal(t, map[string]int64{"applied": 3, "kept": 1, "refused": 1}, s.Counts)
	require.Equal(t, 3, s.Products[0].Activity)
	require.Equal(t, "applied", s.Products[0].LastAction)
	require.Equal(t, 4.0, s.Latency.P50)
	require.Equal(t, 100.0, s.Latency.P99)
	require.Equal(t, 100.0, s.Latency.Max)
	require.Equal(t, 2, s.Tracked)
	require.Len(t, s.Decisions, 4, "applied and refused only")
	for _, d := range s.Decisions {
		require.NotEqual(t, "kept", d.Action)
	}
	refused := 0
	for _, d := range s.Decisions {
		if d.Action == "refused" {
			refused++
			require.Equal(t, "cooldown", d.Reason)
		}
	}
	require.Equal(t, 1, refused)

	// The chart: the first row by default, or the one asked for; price
	// steps with applied changes, demand is the views feature.
	require.NotNil(t, s.Series)
	require.Equal(t, "p4", s.Series.ProductID)
	require.Equal(t, []float64{50, 52, 52, 54}, s.Series.Price, "from the old price of the first change")
	require.Equal(t, []float64{10, 10, 12, 15}, s.Series.Demand)
	require.Equal(t, "views", s.Series.DemandName)
	s = f.snapshot(t, View{Product: "p1"})
	require.Equal(t, []float64{110}, s.Series.Price, "no decision: the current price alone")

	// The filter matches id, name or brand, among active products and
	// the rest of the table.
	s = f.snapshot(t, View{Filter: "SWOOSH"})
	require.Equal(t, []string{"p3", "p1"}, ids(s.Products))
	s = f.snapshot(t, View{Filter: "court"})
	require.Equal(t, []string{"p2"}, ids(s.Products))
	s = f.snapshot(t, View{Filter: "nothing-matches"})
	require.Empty(t, s.Products)
	require.Nil(t, s.Series)

	// Controls: a freeze shows on its row and in the controls.
	require.NoError(t, f.controls.Freeze(context.Background(), "p4", true, "test", "me"))
	require.NoError(t, f.controls.SetKillSwitch(context.Background(), true, "stop", "me"))
	waitFor(t, 5*time.Second, func() error {
		s = f.snapshot(t, View{})
		if s.Controls.KillSwitch == nil || len(s.Controls.Frozen) != 1 || !s.Products[0].Frozen {
			return fmt.Errorf("controls %+v", s.Controls)
		}
		return nil
	})
	require.Equal(t, "stop", s.Controls.KillSwitch.Reason)

	// A flood of refusals does not push the price changes out of the log.
	var flood []pricing.DecisionRecord
	for range 2 * DefaultConfig().Decisions {
		flood = append(flood, pricing.DecisionRecord{ProductID: "p2", Action: "refused", Reason: "kill_switch", OldPrice: 90, NewPrice: 90})
	}
	f.decide(t, flood...)
	waitFor(t, 10*time.Second, func() error {
		s = f.snapshot(t, View{})
		if s.Counts["refused"] != int64(1+len(flood)) {
			return fmt.Errorf("%d refused", s.Counts["refused"])
		}
		return nil
	})
	applied := 0
	for i, d := range s.Decisions {
		if d.Action == "applied" {
			applied++
		}
		if i > 0 {
			require.False(t, d.At.After(s.Decisions[i-1].At), "newest first")
		}
	}
	require.Equal(t, 3, applied)
	require.Len(t, s.Decisions, 3+DefaultConfig().Decisions)

	// Events per second come from the tips of the events stream.
	require.Zero(t, s.EventsTotal)
	put := func(k int) {
		var es []stream.Entry
		for i := range k {
			es = append(es, stream.Entry{PartitionKey: "p" + strconv.Itoa(i%4), Data: []byte(`{"event_type":"view"}`)})
		}
		_, err := f.clicks.Append(context.Background(), es)
		require.NoError(t, err)
	}
	waitFor(t, 10*time.Second, func() error {
		put(50)
		s = f.snapshot(t, View{})
		if s.EventsPerSecond <= 0 || s.EventsTotal == 0 {
			return fmt.Errorf("events/s %v, total %d", s.EventsPerSecond, s.EventsTotal)
		}
		return nil
	})
}

func ids(ps []Product) []string {
	out := []string{}
	for _, p := range ps {
		out = append(out, p.ID)
	}
	return out
}

// TestWebEventStream reads the event stream over HTTP: snapshots arrive
// about every interval, and the stream ends when the dashboard drains.
func TestWebEventStream(t *testing.T) {
	f := start(t, Config{Interval: 50 * time.Millisecond})
	f.product(t, "p1", "Air Runner", "Swoosh", 110, 100)
	mux := http.NewServeMux()
	f.dash.Mount(mux)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/ui/events?filter=air")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, "text/event-stream", resp.Header.Get("Content-Type"))
	dec := newSSEReader(resp)
	for range 3 {
		ev, data, err := dec.next()
		require.NoError(t, err)
		require.Equal(t, "snapshot", ev)
		var s Snapshot
		require.NoError(t, json.Unmarshal([]byte(data), &s))
		require.Equal(t, []string{"p1"}, ids(s.Products))
		require.Equal(t, "air", s.Filter)
	}
	f.dash.Drain()
	waitFor(t, 5*time.Second, func() error {
		if _, _, err := dec.next(); err != nil {
			return nil // ended
		}
		return fmt.Errorf("still streaming")
	})

	// The page and its assets are embedded, with a strict policy.
	for path, want := range map[string]string{"/": "<title>pricestream</title>", "/ui/static/app.js": "EventSource", "/ui/static/style.css": "--bg"} {
		r, err := http.Get(srv.URL + path)
		require.NoError(t, err)
		var b strings.Builder
		_, _ = fmt.Fprint(&b, readAll(t, r))
		require.Equal(t, 200, r.StatusCode, path)
		require.Contains(t, b.String(), want, path)
		require.Contains(t, r.Header.Get("Content-Security-Policy"), "default-src 'self'", path)
	}
	r, err := http.Get(srv.URL + "/ui/static/nope.js")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, 404, r.StatusCode)
	// Without authentication there is no login.
	nr := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r, err = nr.Get(srv.URL + "/ui/login")
	require.NoError(t, err)
	r.Body.Close()
	require.Equal(t, http.StatusSeeOther, r.StatusCode)
}

func TestWebConfig(t *testing.T) {
	require.NoError(t, Config{}.Validate("dashboard"))
	require.NoError(t, DefaultConfig().Validate("dashboard"))
	err := Config{Interval: time.Millisecond, Rows: 10, MaxRows: 5, Backfill: -1}.Validate("dashboard")
	require.ErrorContains(t, err, "dashboard.interval: must be at least 50ms")
	require.ErrorContains(t, err, "dashboard.rows: 10 is more than max_rows 5")
	require.ErrorContains(t, err, "must not be negative")
}

// manyProducts puts count products in the products table and gives the
// dashboard decisions for active of them (some beyond the table), product
// i having i%7 of them.
func manyProducts(t testing.TB, f *fixture, count, active int) {
	t.Helper()
	ctx := context.Background()
	var reqs []table.WriteRequest
	flush := func() {
		_, err := f.products.BatchWrite(ctx, reqs)
		require.NoError(t, err)
		reqs = reqs[:0]
	}
	for i := range max(count, active) {
		id := fmt.Sprintf("sku-%05d", i)
		if i < count {
			reqs = append(reqs, table.WriteRequest{Put: item.Item{"product_id": item.StringValue(id), "name": item.StringValue("Model " + strconv.Itoa(i)),
				"brand": item.StringValue([]string{"Swoosh", "Stripes", "Other"}[i%3]), "price": n(100 + float64(i%50)), "price_previous": n(100)}})
			if len(reqs) == table.MaxBatchWrite {
				flush()
			}
		}
		if i >= active {
			continue
		}
		for range i % 7 {
			f.dash.add(&decision{DecisionID: strconv.Itoa(decisionSeq), ProductID: id, Action: "refused", Reason: "cooldown", OldPrice: 100, NewPrice: 100, DecidedAt: time.Now()})
			decisionSeq++
		}
	}
	if len(reqs) > 0 {
		flush()
	}
}

// TestWebSnapshotManyProducts: with thousands of products the table shows
// the most active ones, the filter finds any, and memory stays bounded.
func TestWebSnapshotManyProducts(t *testing.T) {
	f := start(t, Config{Interval: time.Second})
	manyProducts(t, f, 1200, maxTracked+1000)
	s := f.snapshot(t, View{})
	require.Len(t, s.Products, DefaultConfig().Rows)
	for _, p := range s.Products {
		require.Equal(t, 6, p.Activity, p.ID)
	}
	require.LessOrEqual(t, s.Tracked, maxTracked, "the least recently active are forgotten")
	s = f.snapshot(t, View{Filter: "model 1199"})
	require.Equal(t, []string{"sku-01199"}, ids(s.Products))
	s = f.snapshot(t, View{Filter: "stripes", Rows: 300})
	require.Len(t, s.Products, 300)
	for _, p := range s.Products {
		require.Equal(t, "Stripes", p.Brand)
	}
	s = f.snapshot(t, View{Rows: 100000})
	require.Len(t, s.Products, DefaultConfig().Rows, "more than max_rows asks for the default")

	// An event stream reuses its filter's matches for a while.
	var mc matchCache
	s, err := f.dash.snapshot(context.Background(), View{Filter: "model 1199"}, &mc)
	require.NoError(t, err)
	require.Equal(t, []string{"sku-01199"}, mc.ids)
	mc.ids = []string{"sku-00001"}
	s, err = f.dash.snapshot(context.Background(), View{Filter: "model 1199"}, &mc)
	require.NoError(t, err)
	require.Equal(t, []string{"sku-00001"}, ids(s.Products), "within filterRescan the matches are reused")
	mc.at = mc.at.Add(-filterRescan)
	s, err = f.dash.snapshot(context.Background(), View{Filter: "model 1199"}, &mc)
	require.NoError(t, err)
	require.Equal(t, []string{"sku-01199"}, ids(s.Products))
}

// BenchmarkWebSnapshot measures one viewer's snapshot over 10,000
// products, plain and filtered (a filter that matches one product scans
// the whole table).
func BenchmarkWebSnapshot(b *testing.B) {
	f := start(b, Config{})
	manyProducts(b, f, 10_000, 10_000)
	for _, filter := range []string{"", "model 9999"} {
		b.Run("filter="+filter, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := f.dash.Snapshot(context.Background(), View{Filter: filter}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
