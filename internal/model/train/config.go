package train

import (
	"errors"
	"fmt"
	"math"
	"slices"
)

// Config sets how [Train] fits a model. A zero field means its default
// (given in its doc, mostly XGBoost's); [DefaultConfig] returns them all.
type Config struct {
	// Trees is the number of boosting rounds, one tree each (default 100).
	// With early stopping, fewer may be kept.
	Trees int
	// MaxDepth is the depth limit of every tree: a root alone has depth 0
	// (default 6, at most 16).
	MaxDepth int
	// Eta is the learning rate that scales every tree's leaves (default
	// 0.1; XGBoost's is 0.3).
	Eta float64
	// MinChildWeight is the least hessian sum of a child: for squared
	// error, the least number of training rows in a leaf (default 1). For
	// XGBoost's 0, give math.SmallestNonzeroFloat64.
	MinChildWeight float64
	// Lambda is the L2 regularisation of leaf weights (default 1). For no
	// regularisation, give math.SmallestNonzeroFloat64.
	Lambda float64
	// Gamma is the least loss reduction a split must bring (XGBoost's
	// min_split_loss, default 0).
	Gamma float64
	// MaxBins is the most histogram bins per feature (XGBoost's max_bin,
	// default 256, at most 65,000). Candidate thresholds lie between bins.
	MaxBins int
	// Subsample is the fraction of training rows each tree sees, drawn
	// afresh per tree from Seed (default 1: all rows).
	Subsample float64
	// Seed seeds the validation split and the row subsampling: a seed and
	// the same data and Config give the same model, byte for byte.
	Seed uint64
	// Monotone constrains the model's prediction in a feature, by name,
	// as XGBoost's monotone_constraints: -1 means non-increasing, +1
	// non-decreasing, 0 (or absent) unconstrained.
	Monotone map[string]int
	// ValidationFraction is the share of rows held out of training to
	// measure the model and for early stopping, in [0, 0.9] (default 0:
	// none held out).
	ValidationFraction float64
	// ValidationLast holds out the last rows (in the order of Data.Rows)
	// instead of a random sample of them. For data in time order it is the
	// fairer test of a model that will predict the future: neighbouring
	// windows of one product are alike, so a random split flatters.
	ValidationLast bool
	// EarlyStoppingRounds stops training when the validation RMSE has not
	// improved for this many rounds, and keeps the trees up to the best
	// round (default 0: off). It needs a ValidationFraction.
	EarlyStoppingRounds int
}

// DefaultConfig returns the defaults of every field.
func DefaultConfig() Config {
	return Config{
		Trees:          100,
		MaxDepth:       6,
		Eta:            0.1,
		MinChildWeight: 1,
		Lambda:         1,
		MaxBins:        256,
		Subsample:      1,
	}
}

// withDefaults fills the zero fields.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	if c.Trees == 0 {
		c.Trees = d.Trees
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = d.MaxDepth
	}
	if c.Eta == 0 {
		c.Eta = d.Eta
	}
	if c.MinChildWeight == 0 {
		c.MinChildWeight = d.MinChildWeight
	}
	if c.Lambda == 0 {
		c.Lambda = d.Lambda
	}
	if c.MaxBins == 0 {
		c.MaxBins = d.MaxBins
	}
	if c.Subsample == 0 {
		c.Subsample = d.Subsample
	}
	return c
}

const (
	maxDepth = 16
	maxBins  = 65000
	maxTrees = 100000
)

// Validate reports every problem of c (after defaults) at once.
func (c Config) Validate() error {
	c = c.withDefaults()
	var errs []error
	bad := func(field, f string, args ...any) {
		errs = append(errs, fmt.Errorf("train: %s: %s", field, fmt.Sprintf(f, args...)))
	}
	finite := func(v float64) bool { return !math.IsNaN(v) && !math.IsInf(v, 0) }
	if c.Trees < 0 || c.Trees > maxTrees {
		bad("trees", "%d out of range [1, %d]", c.Trees, maxTrees)
	}
	if c.MaxDepth < 0 || c.MaxDepth > maxDepth {
		bad("max_depth", "%d out of range [1, %d]", c.MaxDepth, maxDepth)
	}
	if !finite(c.Eta) || c.Eta <= 0 || c.Eta > 1 {
		bad("eta", "%v out of range (0, 1]", c.Eta)
	}
	if !finite(c.MinChildWeight) || c.MinChildWeight < 0 {
		bad("min_child_weight", "%v must be >= 0", c.MinChildWeight)
	}
	if !finite(c.Lambda) || c.Lambda < 0 {
		bad("lambda", "%v must be >= 0", c.Lambda)
	}
	if !finite(c.Gamma) || c.Gamma < 0 {
		bad("gamma", "%v must be >= 0", c.Gamma)
	}
	if c.MaxBins < 2 || c.MaxBins > maxBins {
		bad("max_bins", "%d out of range [2, %d]", c.MaxBins, maxBins)
	}
	if !finite(c.Subsample) || c.Subsample <= 0 || c.Subsample > 1 {
		bad("subsample", "%v out of range (0, 1]", c.Subsample)
	}
	if !finite(c.ValidationFraction) || c.ValidationFraction < 0 || c.ValidationFraction > 0.9 {
		bad("validation_fraction", "%v out of range [0, 0.9]", c.ValidationFraction)
	}
	if c.EarlyStoppingRounds < 0 {
		bad("early_stopping_rounds", "%d must be >= 0", c.EarlyStoppingRounds)
	}
	if c.EarlyStoppingRounds > 0 && c.ValidationFraction == 0 {
		bad("early_stopping_rounds", "needs a validation_fraction above 0")
	}
	names := make([]string, 0, len(c.Monotone))
	for name := range c.Monotone {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if v := c.Monotone[name]; v < -1 || v > 1 {
			bad("monotone["+name+"]", "%d is not -1, 0 or 1", v)
		}
	}
	return errors.Join(errs...)
}
