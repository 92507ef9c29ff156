package pricing

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// linearDemand is units = a - b*price.
func linearDemand(a, b float64) Demand {
	return func(_ context.Context, p float64) (float64, error) { return a - b*p, nil }
}

// plateau is a demand whose revenue is 1000 below 150 and 2000 from 150.
func plateau(_ context.Context, p float64) (float64, error) {
	if p >= 150 {
		return 2000 / p, nil
	}
	return 1000 / p, nil
}

// dip is a plateau whose revenue falls between 101 and 149.
func dip(_ context.Context, p float64) (float64, error) {
	switch {
	case p >= 150:
		return 2000 / p, nil
	case p > 100.5:
		return 500 / p, nil
	}
	return 1000 / p, nil
}

func TestPricingDecide(t *testing.T) {
	g := Guardrails{MinPrice: 50, MaxPrice: 200, MaxStepPct: 10}
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		current   float64
		demand    Demand
		minGain   float64
		wantPrice float64
		change    bool
		reason    string
	}{
		// Revenue p(200-p) peaks at 100: from 120 the best reachable is 108.
		{"moves down toward the optimum, one step at most", 120, linearDemand(200, 1), 0, 108, true, ""},
		// From 80 the best reachable is 88.
		{"moves up toward the optimum", 80, linearDemand(200, 1), 0, 88, true, ""},
		// At the optimum nothing better exists.
		{"keeps the optimum", 100, linearDemand(200, 1), 0, 100, false, ""},
		// Near the optimum the gain is tiny: below a 1% threshold.
		{"keeps when the gain is below the threshold", 101, linearDemand(200, 1), 1, 101, false, ReasonNoGain},
		// Demand that does not depend on price: raise to the step's end.
		{"inelastic demand raises the price", 100, linearDemand(10, 0), 0, 110, true, ""},
		// The maximum price binds before the step.
		{"maximum price binds", 195, linearDemand(1000, 0), 0, 200, true, ""},
		// Negative predicted units count as zero: nothing sells within the
		// step, so the look-ahead steps toward where something does.
		{"negative demand is zero", 150, linearDemand(100, 1), 0, 135, true, ""},
		// A plateau (revenue flat within the step) with a better price two
		// steps away: a full step toward it, as it loses nothing now.
		{"climbs a plateau toward a better price beyond the step", 100, plateau, 1, 110, true, ""},
		// The way there would lose revenue now: keep.
		{"does not step into a dip", 100, dip, 1, 100, false, ReasonNoGain},
	} {
		d, err := Decide(ctx, g, tc.current, 21, tc.minGain, tc.demand)
		require.NoError(t, err, tc.name)
		require.InDelta(t, tc.wantPrice, d.Price, 0.005, tc.name)
		require.Equal(t, tc.change, d.Change, tc.name)
		require.Equal(t, tc.reason, d.Reason, tc.name)
		require.NoError(t, g.Check(tc.current, d.Price), "%s: a decision is inside the guardrails", tc.name)
	}
	_, err := Decide(ctx, g, 0, 9, 0, linearDemand(1, 0))
	require.Error(t, err)
	boom := errors.New("model down")
	_, err = Decide(ctx, g, 100, 9, 0, func(context.Context, float64) (float64, error) { return 0, boom })
	require.ErrorIs(t, err, boom)
}

func TestPricingGuardrailsRange(t *testing.T) {
	g := Guardrails{MinPrice: 90, MaxPrice: 120, MaxStepPct: 10}
	lo, hi := g.Range(100)
	require.Equal(t, 90.0, lo)
	require.Equal(t, 110.0, hi)
	lo, hi = g.Range(119.99)
	require.Equal(t, 108.0, lo, "107.99 would be a step of 12.00, more than 10% of 119.99")
	require.Equal(t, 120.0, hi)
	// Outside the bounds: one step back toward them.
	lo, hi = g.Range(200)
	require.Equal(t, 180.0, lo)
	require.Equal(t, 180.0, hi)
	// No bounds: only the step.
	lo, hi = Guardrails{MaxStepPct: 5}.Range(40)
	require.Equal(t, 38.0, lo)
	require.Equal(t, 42.0, hi)

	require.NoError(t, g.Check(100, 110))
	require.ErrorContains(t, g.Check(100, 111), "step")
	require.ErrorContains(t, g.Check(100, 89), "below the minimum")
	require.ErrorContains(t, g.Check(119, 121), "above the maximum")
}

func TestPricingGuardrailsAllow(t *testing.T) {
	g := Guardrails{Cooldown: time.Minute, MaxChangesPerHour: 3}
	t0 := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	require.Equal(t, "", g.Allow(t0, nil))
	require.Equal(t, ReasonCooldown, g.Allow(t0.Add(30*time.Second), []time.Time{t0}))
	require.Equal(t, "", g.Allow(t0.Add(time.Minute), []time.Time{t0}))
	three := []time.Time{t0, t0.Add(10 * time.Minute), t0.Add(20 * time.Minute)}
	require.Equal(t, ReasonRateLimit, g.Allow(t0.Add(30*time.Minute), three))
	require.Equal(t, "", g.Allow(t0.Add(61*time.Minute), three), "the first change left the hour")
}
