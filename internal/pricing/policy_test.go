package pricing

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// DemandOf is a Demand that asks f for one price at a time: the
// policy's tests write demand curves per price.
func DemandOf(f func(ctx context.Context, price float64) (float64, error)) Demand {
	return Demand{Units: func(ctx context.Context, prices, units []float64) error {
		for i, p := range prices {
			u, err := f(ctx, p)
			if err != nil {
				return err
			}
			units[i] = u
		}
		return nil
	}}
}

// linearDemand is units = a - b*price.
func linearDemand(a, b float64) Demand {
	return DemandOf(func(_ context.Context, p float64) (float64, error) { return a - b*p, nil })
}

// plateau is a demand whose revenue is 1000 below 150 and 2000 from 150.
var plateau = DemandOf(plateauUnits)

func plateauUnits(_ context.Context, p float64) (float64, error) {
	if p >= 150 {
		return 2000 / p, nil
	}
	return 1000 / p, nil
}

// dip is a plateau whose revenue falls between 101 and 149.
var dip = DemandOf(dipUnits)

func dipUnits(_ context.Context, p float64) (float64, error) {
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
	for _, batched := range []bool{false, true} {
		_, err = Decide(ctx, g, 100, 9, 0, Demand{Batched: batched, Units: func(context.Context, []float64, []float64) error { return boom }})
		require.ErrorIs(t, err, boom)
	}
}

// TestPricingDecideCalls: Decide asks for each price once, for a phase's
// candidates in one call (the step's, then the look-ahead's; both in one
// for a Batched demand), and decides as it did when it asked for one price
// at a time.
func TestPricingDecideCalls(t *testing.T) {
	ctx := context.Background()
	units := map[string]func(context.Context, float64) (float64, error){
		"linear":  func(_ context.Context, p float64) (float64, error) { return 200 - p, nil },
		"plateau": plateauUnits,
		"dip":     dipUnits,
		"flat":    func(context.Context, float64) (float64, error) { return 3, nil },
		"steps": func(_ context.Context, p float64) (float64, error) {
			return math.Floor(p/7) * 0.37, nil
		},
	}
	guards := []Guardrails{
		{MinPrice: 50, MaxPrice: 200, MaxStepPct: 10},
		{MinPrice: 50, MaxPrice: 200, MaxStepPct: 3},
		{MaxStepPct: 5},
		{MinPrice: 120, MaxPrice: 130, MaxStepPct: 10}, // current outside the bounds
		{MinPrice: 0.01, MaxPrice: 500, MaxStepPct: 100},
	}
	changed := 0
	for name, f := range units {
		for gi, g := range guards {
			for _, current := range []float64{0.5, 60, 99.99, 100, 101, 149.5, 151, 199} {
				for _, n := range []int{2, 5, 21} {
					want, err := decideEach(ctx, g, current, n, 1, f)
					require.NoError(t, err)
					if want.Change {
						changed++
					}
					for _, batched := range []bool{false, true} {
						calls := 0
						seen := map[float64]int{}
						got, err := Decide(ctx, g, current, n, 1, Demand{Batched: batched, Units: func(ctx context.Context, prices, out []float64) error {
							calls++
							require.Len(t, out, len(prices))
							for i, p := range prices {
								seen[p]++
								out[i], _ = f(ctx, p)
							}
							return nil
						}})
						require.NoError(t, err)
						at := fmt.Sprintf("%s guardrails %d current %v n %d batched %v", name, gi, current, n, batched)
						require.Equal(t, want, got, at)
						if batched {
							require.Equal(t, 1, calls, at)
						} else {
							require.LessOrEqual(t, calls, 2, at)
						}
						for p, k := range seen {
							require.Equal(t, 1, k, "%s: price %v asked %d times", at, p, k)
						}
					}
				}
			}
		}
	}
	require.NotZero(t, changed)
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

// decideEach is Decide as it was when it asked for one price at a time:
// the reference TestPricingDecideCalls holds the batched Decide to.
func decideEach(ctx context.Context, g Guardrails, current float64, n int, minGainPct float64, demand func(context.Context, float64) (float64, error)) (Decision, error) {
	if current <= 0 || math.IsNaN(current) || math.IsInf(current, 0) {
		return Decision{}, errors.New("pricing: the current price must be a positive number")
	}
	if n < 2 {
		n = 2
	}
	units, err := demand(ctx, current)
	if err != nil {
		return Decision{}, err
	}
	units = math.Max(units, 0)
	best := Decision{Price: current, Units: units, Revenue: current * units, CurrentRevenue: current * units}
	lo, hi := g.Range(current)
	for i := range n {
		p := lo
		if n > 1 {
			p = roundCents(lo + (hi-lo)*float64(i)/float64(n-1))
		}
		if p <= 0 || p == current {
			continue
		}
		u, err := demand(ctx, p)
		if err != nil {
			return Decision{}, err
		}
		u = math.Max(u, 0)
		if r := p * u; r > best.Revenue {
			best.Price, best.Units, best.Revenue = p, u, r
		}
	}
	gains := func(r float64) bool {
		return r >= best.CurrentRevenue*(1+minGainPct/100) && r-best.CurrentRevenue >= 1e-9
	}
	if best.Price != current && gains(best.Revenue) {
		best.Change = true
		return best, nil
	}
	keep := Decision{Price: current, Units: units, Revenue: current * units, CurrentRevenue: current * units}
	if best.Price != current {
		keep.Reason = ReasonNoGain
	}
	if g.MinPrice <= 0 || g.MaxPrice <= g.MinPrice {
		return keep, nil
	}
	// Look ahead over the whole range.
	far, farRevenue := current, keep.Revenue
	for i := range n {
		p := roundCents(g.MinPrice + (g.MaxPrice-g.MinPrice)*float64(i)/float64(n-1))
		if p >= lo && p <= hi {
			continue // within the step: evaluated above
		}
		u, err := demand(ctx, p)
		if err != nil {
			return Decision{}, err
		}
		if r := p * math.Max(u, 0); r > farRevenue {
			far, farRevenue = p, r
		}
	}
	if far == current || !gains(farRevenue) {
		return keep, nil
	}
	step := hi
	if far < current {
		step = lo
	}
	if step == current {
		return keep, nil
	}
	u, err := demand(ctx, step)
	if err != nil {
		return Decision{}, err
	}
	u = math.Max(u, 0)
	if step*u < keep.Revenue {
		return keep, nil // the way there loses revenue now
	}
	return Decision{Price: step, Change: true, Units: u, Revenue: step * u, CurrentRevenue: keep.Revenue}, nil
}
