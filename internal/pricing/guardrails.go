package pricing

import (
	"fmt"
	"math"
	"time"
)

// Guardrails bind every price change of a product.
type Guardrails struct {
	// MinPrice and MaxPrice bound the price (a zero MaxPrice means none).
	MinPrice, MaxPrice float64
	// MaxStepPct bounds one change, in percent of the current price.
	MaxStepPct float64
	// Cooldown is the least event time between two changes.
	Cooldown time.Duration
	// MaxChangesPerHour bounds the changes in any hour of event time.
	MaxChangesPerHour int
}

// Refusal reasons, recorded with refused decisions.
const (
	ReasonKillSwitch = "kill_switch"
	ReasonFrozen     = "frozen"
	ReasonCooldown   = "cooldown"
	ReasonRateLimit  = "max_changes_per_hour"
	ReasonNoGain     = "no_gain"
	ReasonNoProduct  = "unknown_product"
	ReasonBadFeature = "bad_features"
	ReasonModel      = "model_error"
	ReasonConflict   = "conflict"
	ReasonBounds     = "outside_guardrails"
)

// Range returns the prices a change from current may reach: within the
// maximum step and the minimum and maximum price. When the current price
// is itself outside the bounds, the range still moves toward them by at
// most one step.
func (g Guardrails) Range(current float64) (lo, hi float64) {
	step := current * g.MaxStepPct / 100
	lo, hi = current-step, current+step
	if g.MinPrice > 0 {
		lo = math.Max(lo, g.MinPrice)
	}
	if g.MaxPrice > 0 {
		hi = math.Min(hi, g.MaxPrice)
	}
	if lo > hi { // current is far outside [min, max]: move one step toward it
		if current < g.MinPrice {
			lo, hi = current+step, current+step
		} else {
			lo, hi = current-step, current-step
		}
	}
	return roundCents(lo + 0.004999), roundCents(hi - 0.004999)
}

// Allow checks the timing guardrails for a change at event time now, given
// the event times of the product's earlier changes. It returns "" when the
// change may go ahead, or the reason it may not.
func (g Guardrails) Allow(now time.Time, changes []time.Time) string {
	if len(changes) > 0 && g.Cooldown > 0 && now.Sub(changes[len(changes)-1]) < g.Cooldown {
		return ReasonCooldown
	}
	if g.MaxChangesPerHour > 0 {
		n := 0
		for _, c := range changes {
			if now.Sub(c) < time.Hour {
				n++
			}
		}
		if n >= g.MaxChangesPerHour {
			return ReasonRateLimit
		}
	}
	return ""
}

// Check verifies a proposed change against the price guardrails and returns
// an error naming the broken one, or nil. It is the last check before a
// write, independent of how the price was chosen.
func (g Guardrails) Check(current, proposed float64) error {
	if g.MinPrice > 0 && proposed < g.MinPrice-1e-9 {
		return fmt.Errorf("pricing: price %.2f below the minimum %.2f", proposed, g.MinPrice)
	}
	if g.MaxPrice > 0 && proposed > g.MaxPrice+1e-9 {
		return fmt.Errorf("pricing: price %.2f above the maximum %.2f", proposed, g.MaxPrice)
	}
	if step := math.Abs(proposed-current) / current * 100; current > 0 && step > g.MaxStepPct+1e-6 {
		return fmt.Errorf("pricing: step of %.2f%% exceeds the maximum %.2f%%", step, g.MaxStepPct)
	}
	return nil
}

func roundCents(v float64) float64 { return math.Round(v*100) / 100 }
