package sim

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func run(t *testing.T, cfg Config, d time.Duration, price func(p Product) float64) (*World, []Event) {
	t.Helper()
	w, err := NewWorld(cfg)
	require.NoError(t, err)
	if price != nil {
		for _, p := range w.Products() {
			w.SetPrice(p.ID, price(p))
		}
	}
	var all []Event
	for w.Elapsed() < d {
		evs, _ := w.Step(10*time.Second, nil)
		all = append(all, evs...)
	}
	return w, all
}

func TestWorldIsDeterministic(t *testing.T) {
	cfg := Config{Seed: 42, Products: 20, ViewsPerSecond: 5}
	_, a := run(t, cfg, time.Hour, nil)
	_, b := run(t, cfg, time.Hour, nil)
	require.NotEmpty(t, a)
	require.Equal(t, a, b)
	cfg.Seed = 43
	_, c := run(t, cfg, time.Hour, nil)
	require.NotEqual(t, a, c)
}

func TestWorldEventsAreInTimeOrderPerStep(t *testing.T) {
	w, err := NewWorld(Config{Seed: 1, Products: 30, ViewsPerSecond: 50})
	require.NoError(t, err)
	var last time.Time
	for range 100 {
		from := w.Now()
		evs, _ := w.Step(time.Second, nil)
		for _, e := range evs {
			// Nothing is sent before it happens, nor after its step.
			require.False(t, e.Time.Before(last), "events out of order")
			require.False(t, e.Time.Before(from.Add(-30*time.Second)))
			require.True(t, e.Time.Before(w.Now()), "an event from the future: %s at %s", e.Time, w.Now())
			last = e.Time
		}
	}
}

// With prices at base, the shop and its static twin are the same shop.
func TestStaticTwinMatchesAtBasePrices(t *testing.T) {
	w, _ := run(t, Config{Seed: 9, Products: 15, ViewsPerSecond: 10}, 2*time.Hour, nil)
	s := w.Score()
	require.Positive(t, s.Purchases)
	require.Equal(t, s.Purchases, s.PurchasesStatic)
	require.InDelta(t, s.RevenueStatic, s.RevenueDynamic, 0.01)
	require.InDelta(t, 0, s.UpliftPct, 1e-9)
}

// Common random numbers: the optimal prices of the ground truth earn more
// than base prices, and prices far above it earn less, on the same
// visitors.
func TestScoreRewardsBetterPrices(t *testing.T) {
	cfg := Config{Seed: 5, Products: 15, ViewsPerSecond: 10, TrendsPerDay: -1}
	best, _ := run(t, cfg, 6*time.Hour, func(p Product) float64 { return p.OptimalPrice(1) })
	high, _ := run(t, cfg, 6*time.Hour, func(p Product) float64 { return p.MaxPrice })
	require.Greater(t, best.Score().UpliftPct, 0.5)
	require.Less(t, high.Score().UpliftPct, best.Score().UpliftPct)
	for _, p := range best.Products() {
		o := p.OptimalPrice(1)
		require.True(t, o >= p.MinPrice && o <= p.MaxPrice)
		// Hype raises what a visitor will pay, and so the best price.
		require.GreaterOrEqual(t, p.OptimalPrice(1.3), o)
	}
}

func TestTrendBoostsTrafficThenDecays(t *testing.T) {
	cfg := Config{Seed: 3, Products: 10, ViewsPerSecond: 5, Flat: true, TrendsPerDay: -1,
		Trends: []Trend{{Product: "p00004", At: time.Hour, HalfLife: 10 * time.Minute}}}
	w, err := NewWorld(cfg)
	require.NoError(t, err)
	views := map[string]int{}
	for w.Elapsed() < 3*time.Hour {
		phase := "before"
		switch at := w.Elapsed(); {
		case at >= time.Hour && at < time.Hour+10*time.Minute:
			phase = "onset"
		case at >= 2*time.Hour+50*time.Minute:
			phase = "after"
		case at >= time.Hour:
			phase = ""
		}
		evs, _ := w.Step(10*time.Second, nil)
		for _, e := range evs {
			if e.ProductID == "p00004" && e.Type == "view" && phase != "" && e.Device != "bot" {
				views[phase]++
			}
		}
	}
	perMinute := func(phase string, minutes float64) float64 { return float64(views[phase]) / minutes }
	require.Greater(t, perMinute("onset", 10), 10*perMinute("before", 60), "%v", views)
	require.Less(t, perMinute("after", 10), 2*perMinute("before", 60), "%v", views)
}

func TestConfigErrors(t *testing.T) {
	err := Config{Products: -1, ViewsPerSecond: -2, IntentShare: 2, Trends: []Trend{{}}}.Validate()
	require.ErrorContains(t, err, "products")
	require.ErrorContains(t, err, "views_per_second")
	require.ErrorContains(t, err, "intent_share")
	require.ErrorContains(t, err, "trends[0]")
	_, err = NewWorld(Config{Products: 3, Trends: []Trend{{Product: "nope", At: time.Minute}}})
	require.ErrorContains(t, err, `unknown product "nope"`)
}

func TestEventJSON(t *testing.T) {
	e := Event{ID: "e1", Type: "view", ProductID: "p00001", UserID: "u1", SessionID: "s", Time: time.Date(2026, 11, 2, 8, 0, 0, 5e8, time.UTC), Price: 129.9, Quantity: 1, Referrer: "search", Device: "mobile"}
	require.JSONEq(t, `{"event_id":"e1","event_type":"view","product_id":"p00001","user_id":"u1","session_id":"s","event_time":"2026-11-02T08:00:00.5Z","price":129.90,"quantity":1,"referrer":"search","device":"mobile"}`, string(e.AppendJSON(nil)))
}
