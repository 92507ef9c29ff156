package pricing

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m, enginetest.LeakOptions()...) }

type fixture struct {
	eng      *engine.Engine
	tables   *table.Manager
	streams  *stream.Manager
	products *table.Table
	changes  *stream.Stream
	controls *Controls
	pricer   *Pricer
	reg      *prometheus.Registry
	models   *model.Registry
	eps      *model.Endpoints
	seq      int
}

// demandModel is units = 200 - price + 2*views, a linear demand curve whose
// revenue peaks at price = (200 + 2*views) / 2.
const demandModel = `{"type":"linear","features":["views","price","price_ratio"],"coefficients":[2,-1,0],"intercept":200}`

func start(t *testing.T, cfg Config) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{eng: enginetest.Start(t), reg: prometheus.NewRegistry()}
	var err error
	f.streams, err = stream.New(stream.Config{}, stream.Deps{Engine: f.eng})
	require.NoError(t, err)
	t.Cleanup(func() { f.streams.Close() })
	f.tables, err = table.New(table.Config{}, table.Deps{Engine: f.eng})
	require.NoError(t, err)
	t.Cleanup(func() { f.tables.Close() })
	_, err = f.tables.Create(ctx, table.Spec{Name: "products", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	f.products, err = f.tables.Open(ctx, "products")
	require.NoError(t, err)
	_, err = f.streams.Create(ctx, stream.Spec{Name: "price_changes", Partitions: 2})
	require.NoError(t, err)
	f.changes, err = f.streams.Open(ctx, "price_changes")
	require.NoError(t, err)

	mdeps := model.Deps{Engine: f.eng}
	reg, err := model.NewRegistry(ctx, model.Config{}, mdeps)
	require.NoError(t, err)
	_, err = reg.Register(ctx, model.Registration{Model: "demand", Artifact: []byte(demandModel), Status: model.Approved})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, mdeps)
	require.NoError(t, err)
	t.Cleanup(func() { eps.Close() })
	_, err = eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "demand"}}}, false)
	require.NoError(t, err)

	f.models, f.eps = reg, eps

	f.controls, err = OpenControls(ctx, f.eng, nil)
	require.NoError(t, err)
	t.Cleanup(f.controls.Close)
	f.pricer, err = New(cfg, Deps{
		Tables: f.tables, Streams: f.streams, Controls: f.controls, Registerer: f.reg,
		Predictors: func(name string) (Predictor, error) { return eps.Endpoint(name) },
	})
	require.NoError(t, err)
	return f
}

func (f *fixture) product(t *testing.T, id string, price, minP, maxP float64) {
	t.Helper()
	_, err := f.products.Put(context.Background(), item.Item{
		"product_id": item.StringValue(id), "price": priceValue(price), "base_price": priceValue(price),
		"min_price": priceValue(minP), "max_price": priceValue(maxP), "price_revision": item.IntValue(0),
	}, table.WriteOptions{})
	require.NoError(t, err)
}

// row makes a features change for a product at an event time, as the
// click-features job writes it.
func (f *fixture) row(id string, views float64, at time.Time) *trigger.Record {
	f.seq++
	n, _ := item.ParseNumber(strconv.FormatFloat(views, 'f', -1, 64))
	return &trigger.Record{
		SequenceNumber: strconv.Itoa(1000 + f.seq),
		Key:            id,
		Arrival:        time.Now(),
		Change: &trigger.Change{EventName: "MODIFY", NewImage: item.Item{
			"product_id":      item.StringValue(id),
			"views":           item.NumberValue(n),
			"last_event_time": item.StringValue(at.UTC().Format(time.RFC3339Nano)),
			"ingest_time":     item.StringValue(time.Now().Add(-time.Millisecond).UTC().Format(time.RFC3339Nano)),
		}},
	}
}

func (f *fixture) invoke(t *testing.T, recs ...*trigger.Record) {
	t.Helper()
	res, err := f.pricer.Invoke(context.Background(), &trigger.Batch{Trigger: "reprice", Records: recs})
	require.NoError(t, err)
	require.Empty(t, res.BatchItemFailures)
	if res.Complete != nil {
		require.NoError(t, res.Complete(context.Background()), "the decisions are recorded")
	}
}

func (f *fixture) price(t *testing.T, id string) float64 {
	t.Helper()
	it, err := f.products.Get(context.Background(), mustKey(t, f.products, id), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	p, _ := num(it, "price")
	return p
}

func mustKey(t *testing.T, tb *table.Table, id string) item.Key {
	t.Helper()
	k, err := tb.ParseKey(item.Item{"product_id": item.StringValue(id)})
	require.NoError(t, err)
	return k
}

// decisions reads every decision recorded so far.
func (f *fixture) decisions(t *testing.T) []DecisionRecord {
	t.Helper()
	var out []DecisionRecord
	for part := range f.changes.Partitions() {
		r, err := f.changes.Read(context.Background(), part, stream.Position{}, stream.ReadOptions{MaxRecords: 10000})
		require.NoError(t, err)
		for _, rec := range r.Records {
			var d DecisionRecord
			require.NoError(t, json.Unmarshal(rec.Data, &d))
			out = append(out, d)
		}
	}
	return out
}

func TestPricingAppliesWithinGuardrails(t *testing.T) {
	f := start(t, Config{Cooldown: time.Minute, MaxChangesPerHour: 3, MaxStepPct: 10, MinGainPct: 0.01})
	f.product(t, "shoe", 120, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	// Demand 200 - p: revenue peaks at 100, so from 120 the best reachable
	// price is 108 (one 10% step).
	f.invoke(t, f.row("shoe", 0, t0))
	require.Equal(t, 108.0, f.price(t, "shoe"))

	// Within the cooldown: refused.
	f.invoke(t, f.row("shoe", 0, t0.Add(30*time.Second)))
	require.Equal(t, 108.0, f.price(t, "shoe"))

	// After it: the next step reaches the optimum 100 (97.20..118.80, in
	// candidates 2.70 apart: 99.90 is the best of them).
	f.invoke(t, f.row("shoe", 0, t0.Add(2*time.Minute)))
	require.Equal(t, 99.9, f.price(t, "shoe"))
	// At the optimum: kept.
	f.invoke(t, f.row("shoe", 0, t0.Add(4*time.Minute)))
	require.Equal(t, 99.9, f.price(t, "shoe"))

	// Hype (many views) moves the optimum up: (200+2*200)/2 = 300, capped
	// by the step (109.89), then max changes per hour.
	f.invoke(t, f.row("shoe", 200, t0.Add(6*time.Minute)))
	require.Equal(t, 109.89, f.price(t, "shoe"))
	f.invoke(t, f.row("shoe", 200, t0.Add(8*time.Minute)))
	require.Equal(t, 109.89, f.price(t, "shoe"), "a fourth change in the hour is refused")

	ds := f.decisions(t)
	require.Len(t, ds, 6)
	var actions []string
	for _, d := range ds {
		actions = append(actions, d.Action+":"+d.Reason)
		require.Equal(t, "shoe", d.ProductID)
		if d.Action != "refused" {
			require.Equal(t, "demand", d.Model, "%+v", d)
		}
		if d.Action == "applied" {
			require.Positive(t, d.E2EMillis)
			require.Greater(t, d.ExpectedRevenue, d.CurrentRevenue)
			require.LessOrEqual(t, math.Abs(d.NewPrice-d.OldPrice)/d.OldPrice, 0.1+1e-9, "no step over 10%")
			require.GreaterOrEqual(t, d.NewPrice, 60.0)
			require.LessOrEqual(t, d.NewPrice, 200.0)
		}
	}
	require.Equal(t, []string{"applied:", "refused:cooldown", "applied:", "kept:", "applied:", "refused:max_changes_per_hour"}, actions)
	requireMetric(t, f.reg, "pricestream_pricing_guardrail_violations_total", 0)
}

func requireMetric(t *testing.T, reg *prometheus.Registry, name string, want float64) {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			require.Equal(t, want, mf.GetMetric()[0].GetCounter().GetValue(), name)
			return
		}
	}
	t.Fatalf("no metric %s", name)
}

func TestPricingReplayNeverAppliesTwice(t *testing.T) {
	f := start(t, Config{Cooldown: time.Nanosecond})
	f.product(t, "shoe", 120, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	r := f.row("shoe", 0, t0)
	f.invoke(t, r)
	require.Equal(t, 108.0, f.price(t, "shoe"))
	// The trigger delivers the same row again (at least once): the price
	// does not move a second step, and the applied record is emitted again
	// with the same decision id.
	f.invoke(t, r)
	require.Equal(t, 108.0, f.price(t, "shoe"))
	ds := f.decisions(t)
	require.Len(t, ds, 2)
	require.Equal(t, ds[0].DecisionID, ds[1].DecisionID)
	require.Equal(t, "applied", ds[1].Action)
	require.Equal(t, 120.0, ds[1].OldPrice)
	require.Equal(t, 108.0, ds[1].NewPrice)
	// Whole, from what the product kept, but for the latency.
	require.False(t, ds[0].RecordedAgain)
	require.True(t, ds[1].RecordedAgain)
	require.Equal(t, "demand", ds[1].Model)
	require.Equal(t, ds[0].ModelVersion, ds[1].ModelVersion)
	require.Equal(t, ds[0].Features, ds[1].Features)
	require.Equal(t, ds[0].ExpectedRevenue, ds[1].ExpectedRevenue)
	require.True(t, ds[0].IngestTime.Equal(ds[1].IngestTime))
	require.Positive(t, ds[0].E2EMillis)
	require.Zero(t, ds[1].E2EMillis)
	it, err := f.products.Get(context.Background(), mustKey(t, f.products, "shoe"), table.GetOptions{})
	require.NoError(t, err)
	rev, _ := num(it, "price_revision")
	require.Equal(t, 1.0, rev)
}

func TestPricingKillSwitchAndFreeze(t *testing.T) {
	f := start(t, Config{Cooldown: time.Nanosecond, MinGainPct: 0.01})
	ctx := context.Background()
	f.product(t, "a", 120, 60, 200)
	f.product(t, "b", 120, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

	require.NoError(t, f.controls.Freeze(ctx, "a", true, "launch week", "test"))
	f.invoke(t, f.row("a", 0, t0), f.row("b", 0, t0))
	require.Equal(t, 120.0, f.price(t, "a"), "frozen")
	require.Equal(t, 108.0, f.price(t, "b"))

	require.NoError(t, f.controls.SetKillSwitch(ctx, true, "incident", "test"))
	f.invoke(t, f.row("b", 0, t0.Add(time.Minute)))
	require.Equal(t, 108.0, f.price(t, "b"), "kill switch")
	st := f.controls.State()
	require.NotNil(t, st.KillSwitch)
	require.Equal(t, "a", st.Frozen[0].Product)

	require.NoError(t, f.controls.SetKillSwitch(ctx, false, "", "test"))
	require.NoError(t, f.controls.Freeze(ctx, "a", false, "", "test"))
	f.invoke(t, f.row("a", 0, t0.Add(2*time.Minute)), f.row("b", 0, t0.Add(2*time.Minute)))
	require.Equal(t, 108.0, f.price(t, "a"))
	require.Equal(t, 99.9, f.price(t, "b"))
	var reasons []string
	for _, d := range f.decisions(t) {
		if d.Action == "refused" {
			reasons = append(reasons, d.Reason)
		}
	}
	require.ElementsMatch(t, []string{ReasonFrozen, ReasonKillSwitch}, reasons)

	// A second Controls (another process) sees the switches.
	other, err := OpenControls(ctx, f.eng, nil)
	require.NoError(t, err)
	defer other.Close()
	require.NoError(t, f.controls.Freeze(ctx, "weird id/with spaces", true, "", "test"))
	require.Eventually(t, func() bool { return other.Blocked("weird id/with spaces") == ReasonFrozen }, 10*time.Second, time.Millisecond)
}

// TestPricingConcurrentWritersNeverLoseUpdates races the pricer against a
// merchandiser writing the same product: every write lands on the version it
// read, so the revision counts every change and no guardrail breaks.
func TestPricingConcurrentWritersNeverLoseUpdates(t *testing.T) {
	f := start(t, Config{Cooldown: time.Nanosecond, MaxChangesPerHour: 1000})
	f.product(t, "shoe", 150, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	const rounds = 40
	wg.Go(func() {
		for i := range rounds {
			f.invoke(t, f.row("shoe", float64(i%7)*20, t0.Add(time.Duration(i)*time.Minute)))
		}
	})
	var touched int
	wg.Go(func() {
		for range rounds {
			_, err := f.products.Modify(context.Background(), mustKey(t, f.products, "shoe"), func(cur item.Item) (item.Item, error) {
				next := cur.Clone()
				n, _ := num(cur, "touches")
				next["touches"] = item.IntValue(int64(n) + 1)
				return next, nil
			})
			if err == nil {
				touched++
			}
		}
	})
	wg.Wait()
	it, err := f.products.Get(context.Background(), mustKey(t, f.products, "shoe"), table.GetOptions{Consistent: true})
	require.NoError(t, err)
	touches, _ := num(it, "touches")
	require.Equal(t, float64(touched), touches, "no merchandiser write lost")
	applied := 0
	for _, d := range f.decisions(t) {
		if d.Action == "applied" {
			applied++
			require.LessOrEqual(t, math.Abs(d.NewPrice-d.OldPrice)/d.OldPrice, 0.1+1e-9)
		}
	}
	rev, _ := num(it, "price_revision")
	require.Equal(t, float64(applied), rev, "every applied change counted once")
	require.Positive(t, applied)
}

// A price change is decided from the product's guardrail attributes and
// applied by Modify only when the product still holds them: a write that
// changes one of them between the decision and its write (an operator's
// price) has the decision made again from the product as it is then; one
// that changes another attribute (a merchandiser's name) neither moves the
// decision nor is lost.
func TestPricingDecidesAgainWhenProductChanged(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		change item.Item // set on the product between decision and write
		old    float64   // the price the change is decided from
		want   float64   // the price after it
	}{
		// Demand 200 - p: from 120 the best price within a 10% step is
		// 108; from 150 it is 135.
		{name: "price", change: item.Item{"price": priceValue(150)}, old: 150, want: 135},
		{name: "other", change: item.Item{"name": item.StringValue("Runner 2")}, old: 120, want: 108},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := start(t, Config{Cooldown: time.Minute, MaxStepPct: 10, MinGainPct: 0.01})
			f.product(t, "shoe", 120, 60, 200)
			ran := 0
			f.pricer.beforeApply = func() {
				ran++
				_, err := f.products.Modify(context.Background(), mustKey(t, f.products, "shoe"), func(cur item.Item) (item.Item, error) {
					next := cur.Clone()
					maps.Copy(next, tc.change)
					next["price_revision"] = item.IntValue(7)
					return next, nil
				})
				require.NoError(t, err)
			}
			f.invoke(t, f.row("shoe", 0, t0))
			require.Equal(t, 1, ran, "the change was decided before its write")

			ds := f.decisions(t)
			require.Len(t, ds, 1)
			require.Equal(t, "applied", ds[0].Action)
			require.Equal(t, tc.old, ds[0].OldPrice)
			require.Equal(t, tc.want, ds[0].NewPrice)
			it, err := f.products.Get(context.Background(), mustKey(t, f.products, "shoe"), table.GetOptions{Consistent: true})
			require.NoError(t, err)
			price, _ := num(it, "price")
			rev, _ := num(it, "price_revision")
			require.Equal(t, tc.want, price)
			require.Equal(t, 8.0, rev, "the write between counted, and the change once")
			for name, v := range tc.change {
				if name != "price" {
					require.True(t, item.Equal(v, it[name]), "%s kept: %v", name, it[name])
				}
			}
		})
	}
}

// TestPricingConcurrentProducts prices a batch of interleaved rows of
// several products concurrently: each product's rows apply in order, so
// every product ends where pricing the batch one row at a time leaves it,
// and every decision is recorded once.
func TestPricingConcurrentProducts(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const products, rows = 12, 4
	run := func(concurrency int) (map[string]float64, []DecisionRecord) {
		f := start(t, Config{Cooldown: time.Nanosecond, MinGainPct: 0.01, Concurrency: concurrency})
		var batch []*trigger.Record
		for p := range products {
			f.product(t, fmt.Sprintf("p%02d", p), 120, 60, 200)
		}
		for r := range rows {
			for p := range products {
				// Views differ by product and row, so the decisions do too.
				batch = append(batch, f.row(fmt.Sprintf("p%02d", p), float64((p*7+r*13)%40), t0.Add(time.Duration(r)*time.Minute)))
			}
		}
		f.invoke(t, batch...)
		prices := map[string]float64{}
		for p := range products {
			id := fmt.Sprintf("p%02d", p)
			prices[id] = f.price(t, id)
		}
		return prices, f.decisions(t)
	}
	seqPrices, seqDecisions := run(1)
	prices, decisions := run(8)
	require.Equal(t, seqPrices, prices)
	require.Len(t, decisions, products*rows)
	require.Len(t, seqDecisions, products*rows)
	last := map[string]int{}
	seen := map[string]bool{}
	for _, d := range decisions {
		id, err := strconv.Atoi(d.DecisionID)
		require.NoError(t, err)
		require.Greater(t, id, last[d.ProductID], "a product's decisions are recorded in order")
		last[d.ProductID] = id
		require.False(t, seen[d.DecisionID], "decision %s recorded twice", d.DecisionID)
		seen[d.DecisionID] = true
	}
}

// The decisions made from the product's guardrail attributes (outside
// Modify) are the decisions Modify would have made from the whole item: the
// same sequence of rows (applied, refused by the cooldown and by the
// changes per hour, kept, replayed) gives the same records and prices
// either way.
func TestPricingDecidesAsModifyWould(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	run := func(inModify bool) ([]DecisionRecord, float64) {
		f := start(t, Config{Cooldown: time.Minute, MaxChangesPerHour: 3, MaxStepPct: 10, MinGainPct: 0.01})
		f.pricer.inModify = inModify
		f.product(t, "shoe", 120, 60, 200)
		var replay *trigger.Record
		for i, step := range []struct {
			views float64
			at    time.Duration
		}{{0, 0}, {0, 30 * time.Second}, {0, 59 * time.Second}, {0, 2 * time.Minute}, {0, 4 * time.Minute},
			{200, 6 * time.Minute}, {200, 6*time.Minute + 10*time.Second}, {200, 8 * time.Minute}, {200, 30 * time.Minute}} {
			r := f.row("shoe", step.views, t0.Add(step.at))
			f.invoke(t, r)
			if i == 1 {
				replay = r
			}
		}
		f.invoke(t, replay) // a refused row delivered again
		ds := f.decisions(t)
		for i := range ds {
			ds[i].DecidedAt, ds[i].IngestTime, ds[i].E2EMillis = time.Time{}, time.Time{}, 0
		}
		return ds, f.price(t, "shoe")
	}
	with, priceWith := run(false)
	without, priceWithout := run(true)
	require.Equal(t, without, with)
	require.Equal(t, priceWithout, priceWith)
	var reasons []string
	for _, d := range with {
		reasons = append(reasons, d.Action+":"+d.Reason)
	}
	require.Contains(t, reasons, "refused:cooldown")
	require.Contains(t, reasons, "refused:max_changes_per_hour")
	require.Contains(t, reasons, "applied:")
	require.True(t, slices.ContainsFunc(reasons, func(r string) bool { return strings.HasPrefix(r, "kept:") }), "%v", reasons)
}

// Decision records are stored without an fsync each; Sync (called by the
// trigger before it commits a checkpoint) makes them durable, and does
// nothing when no record was stored since the last one.
func TestPricingSyncsRecordsOnDemand(t *testing.T) {
	f := start(t, Config{Cooldown: time.Hour})
	f.product(t, "shoe", 120, 60, 200)
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	f.invoke(t, f.row("shoe", 0, t0)) // applied: the price write is fsynced
	require.NoError(t, f.pricer.Sync(context.Background()))

	_, waits := f.eng.SyncStats()
	f.invoke(t, f.row("shoe", 0, t0.Add(time.Minute)), f.row("shoe", 0, t0.Add(2*time.Minute))) // refused: cooldown
	require.Len(t, f.decisions(t), 3, "the records are stored")
	_, after := f.eng.SyncStats()
	require.Equal(t, waits, after, "no record waited for an fsync")

	require.NoError(t, f.pricer.Sync(context.Background()))
	_, synced := f.eng.SyncStats()
	require.Equal(t, after+uint64(f.changes.Partitions()), synced, "one sync per partition of price_changes")
	require.NoError(t, f.pricer.Sync(context.Background()))
	_, again := f.eng.SyncStats()
	require.Equal(t, synced, again, "nothing stored since: no sync")

	// The trigger's partitions sync at once: records stored after their
	// syncs are still synced by the next one.
	f.invoke(t, f.row("shoe", 0, t0.Add(3*time.Minute)))
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { require.NoError(t, f.pricer.Sync(context.Background())) })
	}
	wg.Wait()
	f.invoke(t, f.row("shoe", 0, t0.Add(4*time.Minute)))
	_, before := f.eng.SyncStats()
	require.NoError(t, f.pricer.Sync(context.Background()))
	_, after = f.eng.SyncStats()
	require.Greater(t, after, before, "a record stored after concurrent syncs is synced")
}

// A batch's records are encoded into a buffer that the next batches reuse
// once the stream has stored them; as the trigger's lanes do, each batch is
// priced while the previous one's records are still being stored. Every
// record comes back whole, once (under -race, a buffer handed on before
// the stream was done with it is a data race).
func TestPricingRecordBuffersReused(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	const products, batches = 5, 40
	f := start(t, Config{Cooldown: time.Nanosecond, MinGainPct: 0.01})
	for p := range products {
		f.product(t, fmt.Sprintf("p%02d", p), 120, 60, 200)
	}
	want := map[string]string{} // decision id → product
	var wg sync.WaitGroup
	for b := range batches {
		var batch []*trigger.Record
		for p := range products {
			id := fmt.Sprintf("p%02d", p)
			r := f.row(id, float64((p*7+b*13)%40), t0.Add(time.Duration(b)*time.Minute))
			want[r.SequenceNumber] = id
			batch = append(batch, r)
		}
		res, err := f.pricer.Invoke(context.Background(), &trigger.Batch{Trigger: "reprice", Records: batch})
		require.NoError(t, err)
		require.Empty(t, res.BatchItemFailures)
		require.NotNil(t, res.Complete)
		wg.Go(func() {
			if err := res.Complete(context.Background()); err != nil {
				t.Errorf("batch %d not recorded: %v", b, err)
			}
		})
	}
	wg.Wait()
	got := map[string]string{}
	for _, d := range f.decisions(t) {
		_, dup := got[d.DecisionID]
		require.False(t, dup, "decision %s recorded twice", d.DecisionID)
		got[d.DecisionID] = d.ProductID
		require.NotEmpty(t, d.Action)
		require.Contains(t, d.Features, "views")
	}
	require.Equal(t, want, got)
}

// TestPricingEachQuick: each tries quick on every record in the caller's
// goroutine and hands fn a product's records from the first quick did not
// finish, in order, the products so handed on at once (here their first
// rows wait until each has begun); a product whose quick or fn refused a
// record gets no more calls for it.
func TestPricingEachQuick(t *testing.T) {
	for _, concurrency := range []int{1, 4} {
		t.Run(fmt.Sprintf("concurrency=%d", concurrency), func(t *testing.T) {
			p := &Pricer{cfg: Config{Concurrency: concurrency}}
			var recs []*trigger.Record
			for r := range 3 {
				for k := range 4 {
					recs = append(recs, &trigger.Record{Key: fmt.Sprintf("p%d", k), Data: []byte(strconv.Itoa(r))})
				}
			}
			var mu sync.Mutex
			var calls []string // key/row/how, in call order
			slow := map[string]bool{"p1/1": true, "p2/0": true}
			quickGoroutine := goid()
			begun := map[string]bool{}
			allBegun := make(chan struct{})
			p.each(recs, func(i int, r *trigger.Record) (done, ok bool) {
				require.Equal(t, quickGoroutine, goid(), "quick runs in the caller's goroutine")
				id := r.Key + "/" + string(r.Data)
				calls = append(calls, id+"/quick")
				if id == "p3/1" {
					return true, false // p3 stops after its second row
				}
				return !slow[id], true
			}, func(i int, r *trigger.Record) bool {
				id := r.Key + "/" + string(r.Data)
				mu.Lock()
				calls = append(calls, id+"/fn")
				first := !begun[r.Key]
				begun[r.Key] = true
				if first && len(begun) == 2 {
					close(allBegun)
				}
				mu.Unlock()
				if first && concurrency > 1 {
					select {
					case <-allBegun:
					case <-time.After(10 * time.Second):
						t.Errorf("%s: the products handed on were not priced at once", r.Key)
					}
				}
				return id != "p2/1" // p2 stops after its second row
			})
			perKey := map[string][]string{}
			for _, c := range calls {
				k, rest, _ := strings.Cut(c, "/")
				perKey[k] = append(perKey[k], rest)
			}
			if concurrency > 1 {
				require.Equal(t, []string{"0/quick", "1/quick", "2/quick"}, perKey["p0"])
				require.Equal(t, []string{"0/quick", "1/quick", "1/fn", "2/fn"}, perKey["p1"])
				require.Equal(t, []string{"0/quick", "0/fn", "1/fn"}, perKey["p2"])
				require.Equal(t, []string{"0/quick", "1/quick"}, perKey["p3"])
				return
			}
			// One at a time: the batch in order, each record after the
			// first handed on going to fn too, up to the first refused.
			require.Equal(t, []string{"p0/0/quick", "p1/0/quick", "p2/0/quick", "p2/0/fn", "p3/0/fn", "p0/1/fn", "p1/1/fn", "p2/1/fn"}, calls)
		})
	}
}

// goid returns the calling goroutine's id (from its stack's header).
func goid() string {
	var buf [64]byte
	n := runtime.Stack(buf[:], false)
	id, _, _ := strings.Cut(strings.TrimPrefix(string(buf[:n]), "goroutine "), " ")
	return id
}

// TestPricingEachConcurrency: each prices a product's rows in order, at
// most Concurrency products at once, and the products of a batch at once
// when their decisions wait (here each product's first row waits until
// every product has begun: with fewer than all of them at once it would
// never end); a product's rows stop after fn refuses one.
func TestPricingEachConcurrency(t *testing.T) {
	for _, tc := range []struct{ concurrency, products int }{{2, 2}, {4, 4}, {16, 9}, {2, 5}} {
		t.Run(fmt.Sprintf("concurrency=%d,products=%d", tc.concurrency, tc.products), func(t *testing.T) {
			p := &Pricer{cfg: Config{Concurrency: tc.concurrency}}
			var recs []*trigger.Record
			for r := range 3 {
				for k := range tc.products {
					recs = append(recs, &trigger.Record{Key: fmt.Sprintf("p%d", k), Data: []byte(strconv.Itoa(r))})
				}
			}
			var mu sync.Mutex
			running, most := 0, 0
			begun := map[string]bool{}
			allBegun := make(chan struct{})
			seen := map[string][]string{}
			p.each(recs, nil, func(i int, r *trigger.Record) bool {
				mu.Lock()
				running++
				most = max(most, running)
				seen[r.Key] = append(seen[r.Key], string(r.Data))
				if !begun[r.Key] {
					begun[r.Key] = true
					if len(begun) == tc.products && tc.concurrency >= tc.products {
						close(allBegun)
					}
				}
				mu.Unlock()
				if tc.concurrency >= tc.products && string(r.Data) == "0" {
					select {
					case <-allBegun:
					case <-time.After(10 * time.Second):
						t.Errorf("%s: the batch's products were not priced at once", r.Key)
					}
				}
				mu.Lock()
				running--
				mu.Unlock()
				return !(r.Key == "p1" && string(r.Data) == "1") // p1 stops after its second row
			})
			require.LessOrEqual(t, most, min(tc.concurrency, tc.products))
			for k := range tc.products {
				want := []string{"0", "1", "2"}
				if k == 1 {
					want = want[:2]
				}
				require.Equal(t, want, seen[fmt.Sprintf("p%d", k)], "p%d's rows in order", k)
			}
		})
	}
}
