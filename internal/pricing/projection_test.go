package pricing

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
	"github.com/pricestream/pricestream/internal/trigger"
)

// spyFunction runs the pricer and notes the widest features row it got.
type spyFunction struct {
	p      *Pricer
	widest atomic.Int64
}

func (s *spyFunction) Invoke(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
	for _, r := range b.Records {
		if r.Change != nil {
			for {
				w := s.widest.Load()
				if int64(len(r.Change.NewImage)) <= w || s.widest.CompareAndSwap(w, int64(len(r.Change.NewImage))) {
					break
				}
			}
		}
	}
	return s.p.Invoke(ctx, b)
}

// projectingSpy is a spyFunction that declares the pricer's attributes, as
// the pricer does.
type projectingSpy struct{ *spyFunction }

func (s projectingSpy) ImageAttrs() []string { return s.p.ImageAttrs() }

// The pricing function decides the same with the features rows projected
// to its attributes (pricing.features set) as with whole rows: the same
// features changes, delivered by a trigger on the features table (with a
// filter on an attribute the pricer does not read) to the pricer that
// declares its attributes and to the same pricer hidden behind a function
// that does not, give the same decision records and the same prices.
func TestPricingProjectedRowsDecideAlike(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	cfg := Config{Cooldown: time.Minute, MaxChangesPerHour: 3, MaxStepPct: 10, MinGainPct: 0.01, Features: []string{"views", "conversion", "trend"}}
	products := []string{"p0", "p1", "p2", "p3"}
	run := func(project bool) ([]DecisionRecord, []float64, int64) {
		ctx := context.Background()
		f := start(t, cfg)
		for _, id := range products {
			f.product(t, id, 120, 60, 200)
		}
		spy := &spyFunction{p: f.pricer}
		var fn trigger.Function = spy
		if project {
			fn = projectingSpy{spy}
		}
		features, _ := f.reprice(t, fn, "name: reprice\nsource: table:pricing_features\nfunction: go:pricing\nbatch_size: 7\n"+
			"filters:\n  - pattern: {dynamodb: {NewImage: {clicks: {N: [{numeric: ['>=', 0]}]}}}}\n")

		// Rows as the click-features job writes them (25 attributes), some
		// filtered out by their clicks, and a removed row.
		want := 0
		for step := range 12 {
			for p, id := range products {
				at := t0.Add(time.Duration(step)*20*time.Second + time.Duration(p)*time.Second)
				clicks := step + p
				if (step+p)%5 == 4 {
					clicks = -1
				} else {
					want++
				}
				js := fmt.Sprintf(`{"product_id":%q,"window_start":%q,"window_end":%q,"views":%d,"clicks":%d,"add_to_carts":4,`+
					`"remove_from_carts":1,"purchases":%d,"revenue":259.98,"users":52,"price":119.99,"base_price":129.99,"inventory":420,`+
					`"sales_units_1h":12,"sales_revenue_1h":1439.88,"views_5m":25,"views_1h":1532,"first_event_time":%q,"last_event_time":%q,`+
					`"conversion":0.%02d,"trend":1.%d,"price_ratio":0.92309,"view_rate":0.83,"source_position":"clicks/3/%d","ingest_time":%q}`,
					id, t0.Format(time.RFC3339), at.Add(time.Minute).Format(time.RFC3339), (step*37+p*71)%250, clicks, step%3,
					t0.Format(time.RFC3339Nano), at.Format(time.RFC3339Nano), step*7%100, p, step, time.Now().UTC().Format(time.RFC3339Nano))
				row, err := item.ParseJSON([]byte(js), "")
				require.NoError(t, err)
				_, err = features.Put(ctx, row, table.WriteOptions{})
				require.NoError(t, err)
			}
			if step == 6 {
				k, err := features.ParseKey(item.Item{"product_id": item.StringValue("p2")})
				require.NoError(t, err)
				_, err = features.Delete(ctx, k, table.WriteOptions{})
				require.NoError(t, err)
			}
		}
		var ds []DecisionRecord
		waitFor(t, 30*time.Second, func() error {
			if ds = f.decisions(t); len(ds) < want {
				return fmt.Errorf("%d of %d decisions", len(ds), want)
			}
			return nil
		})
		require.Len(t, ds, want)
		for i := range ds {
			ds[i].DecidedAt, ds[i].IngestTime, ds[i].E2EMillis = time.Time{}, time.Time{}, 0
		}
		// Decision ids are 21-digit sequence numbers: in text order.
		slices.SortFunc(ds, func(a, b DecisionRecord) int { return strings.Compare(a.DecisionID, b.DecisionID) })
		var prices []float64
		for _, id := range products {
			prices = append(prices, f.price(t, id))
		}
		return ds, prices, spy.widest.Load()
	}
	projected, projectedPrices, narrow := run(true)
	whole, wholePrices, wide := run(false)
	require.Equal(t, whole, projected)
	require.Equal(t, wholePrices, projectedPrices)
	require.EqualValues(t, 25, wide, "whole rows")
	require.EqualValues(t, 8, narrow, "product_id, 3 times, 3 features and clicks (the filter's)")

	actions := map[string]bool{}
	for _, d := range projected {
		actions[d.Action+":"+d.Reason] = true
		for name := range d.Features {
			require.Contains(t, cfg.Features, name)
		}
	}
	require.True(t, actions["applied:"], "%v", actions)
	require.True(t, actions["refused:cooldown"], "%v", actions)
}

// reprice creates the features table and runs a trigger (spec) on its
// changes that calls fn; it returns the table and the trigger manager's
// registry. The trigger stops when the test ends.
func (f *fixture) reprice(t *testing.T, fn trigger.Function, spec string) (*table.Table, *prometheus.Registry) {
	t.Helper()
	ctx := context.Background()
	_, err := f.tables.Create(ctx, table.Spec{Name: "pricing_features", StreamView: table.ViewNewImage,
		Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
	require.NoError(t, err)
	features, err := f.tables.Open(ctx, "pricing_features")
	require.NoError(t, err)
	fns := trigger.NewRegistry()
	require.NoError(t, fns.Register(FunctionName, fn))
	reg := prometheus.NewRegistry()
	m, err := trigger.New(trigger.Config{RetryBaseDelay: time.Millisecond, RetryMaxDelay: 10 * time.Millisecond}, trigger.Deps{
		Engine:     f.eng,
		Sources:    &trigger.Sources{Streams: f.streams, Tables: &trigger.TableOpener{Tables: f.tables}},
		Streams:    f.streams,
		Functions:  fns,
		Registerer: reg,
	})
	require.NoError(t, err)
	mctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(mctx) }()
	t.Cleanup(func() {
		stop()
		require.NoError(t, <-done)
		require.NoError(t, m.Close())
	})
	sp, err := trigger.ParseSpec([]byte(spec))
	require.NoError(t, err)
	_, _, err = m.Apply(ctx, sp)
	require.NoError(t, err)
	return features, reg
}

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// With pricing.features set, the pricer reads and records those and the
// endpoint's model inputs (but the price and its ratio, which the policy
// fills in); a row decoded without a model input is not priced, but read
// again (trigger.ErrReread). Unset, the pricer reads and records the
// whole row.
func TestPricingFeaturesConfig(t *testing.T) {
	f := start(t, Config{})
	require.Nil(t, f.pricer.ImageAttrs())

	f = start(t, Config{Features: []string{"conversion"}})
	require.Equal(t, []string{"product_id", "last_event_time", "window_end", "ingest_time", "conversion", "views"}, f.pricer.ImageAttrs())
	f.product(t, "shoe", 120, 60, 200)
	r := f.row("shoe", 50, time.Now())
	r.Change.NewImage["conversion"] = item.IntValue(1)
	r.Change.NewImage["clicks"] = item.IntValue(3)
	f.invoke(t, r)
	ds := f.decisions(t)
	require.Len(t, ds, 1)
	require.Equal(t, "applied", ds[0].Action, ds[0].Reason)
	require.Equal(t, map[string]float64{"conversion": 1, "views": 50}, ds[0].Features)

	r = f.row("shoe", 50, time.Now())
	r.Change.Projected = []string{"conversion", "ingest_time", "last_event_time", "product_id", "window_end"}
	delete(r.Change.NewImage, "views")
	_, err := f.pricer.Invoke(context.Background(), &trigger.Batch{Trigger: "reprice", Records: []*trigger.Record{r}})
	require.ErrorIs(t, err, trigger.ErrReread)
	require.ErrorContains(t, err, `model input "views"`)
	require.Len(t, f.decisions(t), 1, "nothing decided for the row")

	require.ErrorContains(t, Config{Features: []string{"views", ""}}.Validate("pricing"), "pricing.features[1]: must not be empty")
}

// A model with other inputs deployed while the pricing trigger runs with
// pricing.features set: the trigger reads the rows decoded without the new
// input again, with it, so that no decision is refused for a missing input
// and the decisions after the switch record it.
func TestPricingModelChangeRereads(t *testing.T) {
	ctx := context.Background()
	f := start(t, Config{Features: []string{"conversion"}, Cooldown: time.Nanosecond, MaxChangesPerHour: 1000, MinGainPct: 0.01})
	f.product(t, "shoe", 120, 60, 200)
	features, reg := f.reprice(t, f.pricer, "name: reprice\nsource: table:pricing_features\nfunction: go:pricing\n")
	t0 := time.Now().Add(-time.Hour)
	put := func(i int) {
		t.Helper()
		js := fmt.Sprintf(`{"product_id":"shoe","views":%d,"trend":%d.5,"conversion":0.1,"clicks":2,"last_event_time":%q,"ingest_time":%q}`,
			40+i, i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), time.Now().UTC().Format(time.RFC3339Nano))
		row, err := item.ParseJSON([]byte(js), "")
		require.NoError(t, err)
		_, err = features.Put(ctx, row, table.WriteOptions{})
		require.NoError(t, err)
	}
	wait := func(n int) []DecisionRecord {
		t.Helper()
		var ds []DecisionRecord
		waitFor(t, 30*time.Second, func() error {
			if ds = f.decisions(t); len(ds) < n {
				return fmt.Errorf("%d of %d decisions", len(ds), n)
			}
			return nil
		})
		slices.SortFunc(ds, func(a, b DecisionRecord) int { return strings.Compare(a.DecisionID, b.DecisionID) })
		return ds
	}
	for i := range 3 {
		put(i)
	}
	for _, d := range wait(3) {
		require.Equal(t, []string{"conversion", "views"}, slices.Sorted(maps.Keys(d.Features)), "%+v", d)
	}

	// units = 300 - price + 3*trend: a model reading trend, not views.
	_, err := f.models.Register(ctx, model.Registration{Model: "trendy", Status: model.Approved,
		Artifact: []byte(`{"type":"linear","features":["trend","price","price_ratio"],"coefficients":[3,-1,0],"intercept":300}`)})
	require.NoError(t, err)
	_, err = f.eps.Update(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{{Model: "trendy"}}}, true)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, func() error {
		ep, err := f.eps.Endpoint("pricing")
		if err != nil {
			return err
		}
		if fs := ep.Features(); len(fs) == 0 || fs[0].Name != "trend" {
			return fmt.Errorf("endpoint features %v", fs)
		}
		return nil
	})
	for i := 3; i < 6; i++ {
		put(i)
	}
	ds := wait(6)
	require.Len(t, ds, 6)
	for _, d := range ds[3:] {
		require.NotEqual(t, ReasonModel, d.Reason, "%+v", d)
		require.Equal(t, "trendy", d.Model, "%+v", d)
		require.Equal(t, []string{"conversion", "trend"}, slices.Sorted(maps.Keys(d.Features)), "%+v", d)
	}
	require.Contains(t, f.pricer.ImageAttrs(), "trend")
	mfs, err := reg.Gather()
	require.NoError(t, err)
	rereads := 0.0
	for _, mf := range mfs {
		if mf.GetName() == "pricestream_trigger_rereads_total" {
			for _, m := range mf.GetMetric() {
				rereads += m.GetCounter().GetValue()
			}
		}
	}
	require.Equal(t, 1.0, rereads, "the rows decoded before the switch were read again once")
}
