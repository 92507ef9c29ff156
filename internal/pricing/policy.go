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
	if best.Price == current {
		return best, nil
	}
	if best.Revenue < best.CurrentRevenue*(1+minGainPct/100) || best.Revenue-best.CurrentRevenue < 1e-9 {
		return Decision{Price: current, Units: units, Revenue: current * units, CurrentRevenue: current * units, Reason: ReasonNoGain}, nil
	}
	best.Change = true
	return best, nil
}
