package pricing

import (
	"context"
	"errors"
	"math"
)

// Demand predicts the expected units sold at a candidate price.
type Demand func(ctx context.Context, price float64) (float64, error)

// Decision is the outcome of evaluating candidate prices.
type Decision struct {
	// Price is the chosen price (the current one when kept).
	Price float64
	// Change is true when Price differs from the current price.
	Change bool
	// Units and Revenue are the expected units and revenue at Price;
	// CurrentRevenue is the expected revenue at the current price.
	Units, Revenue, CurrentRevenue float64
	// Reason is ReasonNoGain when a better price gains less than the
	// threshold, "" otherwise.
	Reason string
}

// Decide evaluates n candidate prices spread evenly over the guardrails'
// range around current (current included) and picks the one with the best
// expected revenue (price × units); it keeps current when the best gains
// less than minGainPct percent of current's expected revenue.
//
// When nothing within one step gains enough, it looks further: n
// candidates over the product's whole [min, max] range. If the best of
// those gains enough and lies beyond the step, it takes the full step
// toward it, provided that step loses nothing. Tree models predict flat
// plateaus; without the look-ahead a step-limited policy would stay on one
// even when a much better price lies two steps away.
func Decide(ctx context.Context, g Guardrails, current float64, n int, minGainPct float64, demand Demand) (Decision, error) {
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
