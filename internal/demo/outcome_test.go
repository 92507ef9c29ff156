package demo

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/sim"
)

func testConfig(t *testing.T) app.Config {
	t.Helper()
	cfg := app.DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	cfg.Log.Level = "warn"
	// The outcome does not depend on durability; interval fsync keeps a
	// simulated day inside CI's time.
	fs, err := engine.ParseFsync("interval:100ms")
	require.NoError(t, err)
	cfg.Engine.Fsync = fs
	return cfg
}

// TestFastSneakersOutcome runs the whole pipeline, in lockstep with the
// simulated shop (seed 42), for a simulated day: a trend on one product
// must raise its price within one simulated second, no change may break a
// guardrail, and dynamic prices must earn more than static ones on the
// same visitors.
func TestFastSneakersOutcome(t *testing.T) {
	if testing.Short() {
		t.Skip("a simulated day of the whole pipeline; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cfg := testConfig(t)
	scfg := sim.Config{Seed: 42, Products: 10, ViewsPerSecond: 1, TrendsPerDay: 3}
	w, err := sim.NewWorld(scfg)
	require.NoError(t, err)
	trendAt := 20 * time.Hour // the busiest hour: a second of a trend is then a dozen views
	hot := w.MostPopular()
	scfg.Trends = []sim.Trend{{Product: hot, At: trendAt}}

	var s *sim.Simulator
	var p *Pipeline
	setup := func(ctx context.Context, c *client.Client) error {
		var err error
		s, err = sim.New(sim.Options{Config: scfg, Client: c, Step: 10 * time.Second, FineStep: 100 * time.Millisecond, Duration: 24 * time.Hour,
			Barrier: func(ctx context.Context) error { return p.Barrier()(ctx) }})
		if err != nil {
			return err
		}
		return s.Setup(ctx)
	}
	p, err = Start(ctx, cfg, nil, setup)
	require.NoError(t, err)
	defer func() { require.NoError(t, p.Stop()) }()

	started := time.Now()
	score, err := s.Run(ctx)
	require.NoError(t, err)
	t.Logf("a simulated day in %s: %+v", time.Since(started).Round(time.Second), score)
	decisions := readDecisions(t, ctx, p.Client)
	require.NotEmpty(t, decisions)

	// The shop's orders expire sim.DefaultOrderTTL after they were
	// written, by the orders table's Time to Live (wall clock: the
	// simulated day took minutes, the orders were written during them).
	orders, err := p.Client.DescribeTable(ctx, "orders")
	require.NoError(t, err)
	require.Equal(t, "expires_at", orders.TTLAttribute)
	recent, err := p.Client.Scan(ctx, "orders", api.ReadRequest{Limit: 5})
	require.NoError(t, err)
	require.NotEmpty(t, recent.Items)
	for _, raw := range recent.Items {
		var o sim.Order
		require.NoError(t, json.Unmarshal(raw, &o))
		left := time.Until(time.Unix(o.ExpiresAt, 0))
		written := sim.DefaultOrderTTL - left // before now
		require.True(t, written >= 0 && written <= time.Since(started)+time.Minute, "order %s expires in %s", o.OrderID, left)
	}

	start := time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)
	products := map[string]sim.Product{}
	for _, pr := range w.Products() {
		products[pr.ID] = pr
	}

	// The trend raises the hot product's price within a simulated second.
	onset := start.Add(trendAt)
	var first *pricing.DecisionRecord
	for i := range decisions {
		d := &decisions[i]
		if d.ProductID == hot && d.Action == "applied" && !d.EventTime.Before(onset) {
			first = d
			break
		}
	}
	if first == nil || first.EventTime.Sub(onset) > time.Second {
		for _, d := range decisions {
			if d.ProductID == hot && (d.Action == "applied" && d.EventTime.After(onset.Add(-time.Hour)) || d.EventTime.After(onset.Add(-2*time.Minute))) && d.EventTime.Before(onset.Add(2*time.Minute)) {
				t.Logf("%s %s %s %.2f→%.2f trend_now=%.2f view_rate=%.3f ratio=%.3f", d.EventTime.Format("15:04:05.000"), d.Action, d.Reason, d.OldPrice, d.NewPrice, d.Features["trend_now"], d.Features["view_rate"], d.Features["price_ratio"])
			}
		}
	}
	require.NotNil(t, first, "no price change of %s after its trend at %s", hot, onset)
	require.Greater(t, first.NewPrice, first.OldPrice, "the trend's first change lowers the price: %+v", first)
	require.LessOrEqual(t, first.EventTime.Sub(onset), time.Second, "the trend's first price change came %s after its onset", first.EventTime.Sub(onset))

	// Guardrails hold for every change: bounds, step, cooldown, changes
	// per hour — checked from the records and the catalog alone.
	g := pricing.DefaultConfig()
	last := map[string][]time.Time{}
	var applied int
	for _, d := range decisions {
		if d.Action != "applied" {
			continue
		}
		applied++
		pr := products[d.ProductID]
		require.False(t, Violates(d, g.MaxStepPct), "change breaks a guardrail: %+v", d)
		require.GreaterOrEqual(t, d.NewPrice, pr.MinPrice-0.005, "%+v", d)
		require.LessOrEqual(t, d.NewPrice, pr.MaxPrice+0.005, "%+v", d)
		times := last[d.ProductID]
		if n := len(times); n > 0 {
			require.GreaterOrEqual(t, d.EventTime.Sub(times[n-1]), g.Cooldown, "cooldown broken for %s at %s", d.ProductID, d.EventTime)
		}
		hour := 0
		for _, at := range times {
			if d.EventTime.Sub(at) < time.Hour {
				hour++
			}
		}
		require.Less(t, hour, g.MaxChangesPerHour, "too many changes of %s in the hour before %s", d.ProductID, d.EventTime)
		last[d.ProductID] = append(times, d.EventTime)
	}
	require.Positive(t, applied)
	page, err := p.Client.Scan(ctx, "products", api.ReadRequest{Consistent: true, Limit: 1000})
	require.NoError(t, err)
	for _, raw := range page.Items {
		var it struct {
			ID    string  `json:"product_id"`
			Price float64 `json:"price"`
		}
		require.NoError(t, json.Unmarshal(raw, &it))
		pr := products[it.ID]
		require.True(t, it.Price >= pr.MinPrice && it.Price <= pr.MaxPrice, "%s at %.2f outside [%.2f, %.2f]", it.ID, it.Price, pr.MinPrice, pr.MaxPrice)
	}

	// Over the day, dynamic pricing earns more than static prices.
	t.Logf("revenue %.2f dynamic vs %.2f static: %+.2f%% (%d price changes)", score.RevenueDynamic, score.RevenueStatic, score.UpliftPct, applied)
	require.Greater(t, score.RevenueDynamic, score.RevenueStatic)
}

// readDecisions reads every decision of the price_changes stream, in
// event-time order, once each.
func readDecisions(t *testing.T, ctx context.Context, c *client.Client) []pricing.DecisionRecord {
	t.Helper()
	info, err := c.DescribeStream(ctx, "price_changes")
	require.NoError(t, err)
	seen := map[string]bool{}
	var out []pricing.DecisionRecord
	for part := range info.Partitions {
		next := "trim_horizon"
		for {
			recs, err := c.GetRecords(ctx, "price_changes", client.ReadOptions{Partition: part, Start: next, Limit: 10_000})
			require.NoError(t, err)
			for _, r := range recs.Records {
				var d pricing.DecisionRecord
				require.NoError(t, json.Unmarshal(r.Data, &d))
				if !seen[d.DecisionID] {
					seen[d.DecisionID] = true
					out = append(out, d)
				}
			}
			if len(recs.Records) == 0 {
				break
			}
			next = recs.Next
		}
	}
	slices.SortStableFunc(out, func(a, b pricing.DecisionRecord) int { return a.EventTime.Compare(b.EventTime) })
	return out
}

// TestPricingNeverReadsGroundTruth: the pricing path cannot see the
// simulator's hidden demand, because no package of it imports the
// simulator.
func TestPricingNeverReadsGroundTruth(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go command on PATH to list package dependencies")
	}
	for _, pkg := range []string{"internal/pricing", "internal/etl", "internal/trigger", "internal/model", "internal/app"} {
		cmd := exec.Command(goTool, "list", "-deps", "github.com/pricestream/pricestream/"+pkg)
		cmd.Env = os.Environ()
		out, err := cmd.Output()
		require.NoError(t, err, pkg)
		for dep := range strings.SplitSeq(string(out), "\n") {
			require.NotEqual(t, "github.com/pricestream/pricestream/internal/sim", dep, "%s depends on the simulator", pkg)
		}
	}
}
