package pricing

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

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
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		f := start(t, cfg)
		for _, id := range products {
			f.product(t, id, 120, 60, 200)
		}
		_, err := f.tables.Create(ctx, table.Spec{Name: "pricing_features", StreamView: table.ViewNewImage,
			Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
		require.NoError(t, err)
		features, err := f.tables.Open(ctx, "pricing_features")
		require.NoError(t, err)

		spy := &spyFunction{p: f.pricer}
		var fn trigger.Function = spy
		if project {
			fn = projectingSpy{spy}
		}
		fns := trigger.NewRegistry()
		require.NoError(t, fns.Register(FunctionName, fn))
		m, err := trigger.New(trigger.Config{}, trigger.Deps{
			Engine:     f.eng,
			Sources:    &trigger.Sources{Streams: f.streams, Tables: &trigger.TableOpener{Tables: f.tables}},
			Streams:    f.streams,
			Functions:  fns,
			Registerer: prometheus.NewRegistry(),
		})
		require.NoError(t, err)
		mctx, stop := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- m.Run(mctx) }()
		defer func() {
			stop()
			require.NoError(t, <-done)
			require.NoError(t, m.Close())
		}()
		spec, err := trigger.ParseSpec([]byte("name: reprice\nsource: table:pricing_features\nfunction: go:pricing\nbatch_size: 7\n" +
			"filters:\n  - pattern: {dynamodb: {NewImage: {clicks: {N: [{numeric: ['>=', 0]}]}}}}\n"))
		require.NoError(t, err)
		_, _, err = m.Apply(ctx, spec)
		require.NoError(t, err)

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

// waitFor polls cond until it returns nil or d passes.
var waitFor = polltest.Until

// With pricing.features set, a model input outside it refuses the decision
// (model_error) rather than predicting from a missing value, and the
// record's features hold the configured ones only; unset, the pricer reads
// and records the whole row.
func TestPricingFeaturesConfig(t *testing.T) {
	f := start(t, Config{})
	require.Nil(t, f.pricer.ImageAttrs())

	f = start(t, Config{Features: []string{"conversion"}})
	require.Equal(t, []string{"product_id", "last_event_time", "window_end", "ingest_time", "conversion"}, f.pricer.ImageAttrs())
	f.product(t, "shoe", 120, 60, 200)
	r := f.row("shoe", 50, time.Now())
	r.Change.NewImage["conversion"] = item.IntValue(1)
	f.invoke(t, r)
	ds := f.decisions(t)
	require.Len(t, ds, 1)
	require.Equal(t, "refused", ds[0].Action)
	require.Equal(t, ReasonModel, ds[0].Reason)
	require.Equal(t, map[string]float64{"conversion": 1}, ds[0].Features)

	require.ErrorContains(t, Config{Features: []string{"views", ""}}.Validate("pricing"), "pricing.features[1]: must not be empty")
}
