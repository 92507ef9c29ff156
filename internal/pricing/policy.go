package pricing

import (
	"context"
	"errors"
	"math"
	"slices"
)

// Demand predicts the expected units sold at candidate prices.
type Demand struct {
	// Units writes the expected units at prices[i] to units[i]
	// (len(units) == len(prices)). It must not keep the slices.
	Units func(ctx context.Context, prices, units []float64) error
	// Batched says that one call for many prices costs little more than
	// a call for a few (a tree ensemble answers them in one walk per
	// tree): Decide then asks for the look-ahead's candidates with the
	// step's, in one call, instead of only when the step gains nothing.
	Batched bool
}

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
//
// It asks demand for each price once: for the step's candidates in one
// call, and for the look-ahead's in a second one when it needs them, or in
// the first when demand is Batched.
func Decide(ctx context.Context, g Guardrails, current float64, n int, minGainPct float64, demand Demand) (Decision, error) {
	if current <= 0 || math.IsNaN(current) || math.IsInf(current, 0) {
		return Decision{}, errors.New("pricing: the current price must be a positive number")
	}
	if n < 2 {
		n = 2
	}
	// The current price and the candidates within one step (near), then
	// the look-ahead's over the whole range outside the step (far).
	lo, hi := g.Range(current)
	prices := make([]float64, 1, 2*n+1)
	prices[0] = current
	prev := math.NaN() // candidates ascend: a repeated one is the one before
	for i := range n {
		p := roundCents(lo + (hi-lo)*float64(i)/float64(n-1))
		if p <= 0 || p == current || p == prev {
			continue
		}
		prices, prev = append(prices, p), p
	}
	nNear := len(prices)
	lookAhead := g.MinPrice > 0 && g.MaxPrice > g.MinPrice
	if lookAhead {
		prev = math.NaN()
		for i := range n {
			p := roundCents(g.MinPrice + (g.MaxPrice-g.MinPrice)*float64(i)/float64(n-1))
			if p >= lo && p <= hi || p == prev {
				continue // within the step (a near candidate), or repeated
			}
			prices, prev = append(prices, p), p
		}
	}
	units := make([]float64, len(prices))
	asked := nNear
	if demand.Batched {
		asked = len(prices)
	}
	if err := demand.Units(ctx, prices[:asked], units[:asked]); err != nil {
		return Decision{}, err
	}

	u0 := math.Max(units[0], 0)
	best := Decision{Price: current, Units: u0, Revenue: current * u0, CurrentRevenue: current * u0}
	for i := 1; i < nNear; i++ {
		p, u := prices[i], math.Max(units[i], 0)
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
	keep := Decision{Price: current, Units: u0, Revenue: current * u0, CurrentRevenue: current * u0}
	if best.Price != current {
		keep.Reason = ReasonNoGain
	}
	if !lookAhead {
		return keep, nil
	}
	// Look ahead over the whole range.
	if asked < len(prices) {
		if err := demand.Units(ctx, prices[asked:], units[asked:]); err != nil {
			return Decision{}, err
		}
	}
	far, farRevenue := current, keep.Revenue
	for i := nNear; i < len(prices); i++ {
		p := prices[i]
		if r := p * math.Max(units[i], 0); r > farRevenue {
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
	// The step's end is a near candidate, but for a price those leave out
	// (not positive).
	var u float64
	if i := slices.Index(prices[:nNear], step); i >= 0 {
		u = units[i]
	} else {
		one := []float64{0}
		if err := demand.Units(ctx, []float64{step}, one); err != nil {
			return Decision{}, err
		}
		u = one[0]
	}
	u = math.Max(u, 0)
	if step*u < keep.Revenue {
		return keep, nil // the way there loses revenue now
	}
	return Decision{Price: step, Change: true, Units: u, Revenue: step * u, CurrentRevenue: keep.Revenue}, nil
}
