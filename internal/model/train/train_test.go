package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/train"
	"github.com/pricestream/pricestream/internal/model/tree"
)

// pricingMonotone is what the pricing policy needs of a demand model.
var pricingMonotone = map[string]int{"price": -1, "price_ratio": -1}

func fit(t *testing.T, d train.Data, cfg train.Config) (*train.Model, *train.Report) {
	t.Helper()
	m, rep, err := train.Train(context.Background(), d, cfg)
	require.NoError(t, err)
	return m, rep
}

// TestTrainLearns: on a demand of known form the held-out error is near
// the noise and far below predicting the mean.
func TestTrainLearns(t *testing.T) {
	const noise = 1.0
	d := synth(20000, noise, 0.1, 1)
	_, rep := fit(t, d, train.Config{ValidationFraction: 0.2, Seed: 7, Monotone: pricingMonotone})
	require.Equal(t, 16000, rep.TrainRows)
	require.Equal(t, 4000, rep.ValidationRows)
	require.Equal(t, 100, rep.TreesKept)
	v := rep.Validation
	require.NotNil(t, v)
	t.Logf("train RMSE %.3f, validation RMSE %.3f MAE %.3f, baseline RMSE %.3f", rep.Train.RMSE, v.RMSE, v.MAE, v.BaselineRMSE)
	require.Less(t, v.RMSE, 1.5*noise, "validation RMSE near the noise level")
	require.Greater(t, v.RMSE, 0.8*noise, "no model beats the noise on held-out rows")
	require.Less(t, v.RMSE, v.BaselineRMSE/10, "far below predicting the mean")
	require.Less(t, v.MAE, v.RMSE)
}

// TestTrainValidationLast: the held-out rows are the last ones.
func TestTrainValidationLast(t *testing.T) {
	d := synth(1000, 1, 0, 10)
	// The last 100 rows sell ten times more: a model trained on the first
	// 900 cannot know, so the validation error is huge; a random split
	// would mix them in.
	for i := 900; i < 1000; i++ {
		d.Labels[i] *= 10
	}
	_, last := fit(t, d, train.Config{Trees: 20, ValidationFraction: 0.1, ValidationLast: true})
	_, random := fit(t, d, train.Config{Trees: 20, ValidationFraction: 0.1})
	require.Equal(t, 100, last.ValidationRows)
	require.Greater(t, last.Validation.RMSE, 3*random.Validation.RMSE)
	require.Greater(t, last.Validation.RMSE, last.Validation.BaselineRMSE/2, "the base score is the mean of the first 900 rows")
}

// TestTrainReportMatchesModel: the report's figures are those of the
// model's own predictions.
func TestTrainReportMatchesModel(t *testing.T) {
	d := synth(3000, 2, 0.2, 2)
	m, rep := fit(t, d, train.Config{Trees: 30, Seed: 1})
	require.Nil(t, rep.Validation)
	var se, ae, mean float64
	for _, y := range d.Labels {
		mean += y
	}
	mean /= float64(len(d.Labels))
	for i, row := range d.Rows {
		e := m.Predict(row) - d.Labels[i]
		se += e * e
		ae += math.Abs(e)
	}
	n := float64(len(d.Rows))
	require.InDelta(t, math.Sqrt(se/n), rep.Train.RMSE, 1e-9)
	require.InDelta(t, ae/n, rep.Train.MAE, 1e-9)
	require.InDelta(t, mean, rep.BaseScore, 1e-4)
	require.InDelta(t, mean, m.BaseScore(), 1e-4)
	require.Equal(t, synthFeatures, m.Features())
	require.Equal(t, synthFeatures, rep.Features)
	require.Equal(t, 30, m.NumTrees())
}

// TestTrainDeterministic: a seed gives the same file, byte for byte; a
// different seed (with subsampling) another.
func TestTrainDeterministic(t *testing.T) {
	d := synth(5000, 1, 0.1, 3)
	cfg := train.Config{Trees: 20, Subsample: 0.7, ValidationFraction: 0.25, Seed: 42, Monotone: pricingMonotone}
	m1, r1 := fit(t, d, cfg)
	m2, r2 := fit(t, d, cfg)
	require.True(t, bytes.Equal(m1.XGBoostJSON(), m2.XGBoostJSON()), "same seed, same bytes")
	require.Equal(t, r1, r2)
	cfg.Seed = 43
	m3, _ := fit(t, d, cfg)
	require.False(t, bytes.Equal(m1.XGBoostJSON(), m3.XGBoostJSON()), "another seed samples other rows")
}

// randomRow returns a row for d's features: values drawn around those of
// a random training row, some exactly on training values (and so near
// thresholds), some far outside, some NaN.
func randomRow(rng *rand.Rand, d train.Data) []float64 {
	src := d.Rows[rng.IntN(len(d.Rows))]
	row := make([]float64, len(src))
	for j, v := range src {
		switch k := rng.IntN(10); {
		case k == 0:
			row[j] = math.NaN()
		case k == 1:
			row[j] = (rng.Float64() - 0.5) * 1e6
		case k < 5:
			row[j] = v
		default:
			o := d.Rows[rng.IntN(len(d.Rows))][j]
			row[j] = o + (rng.Float64()-0.5)*1e-3
		}
	}
	return row
}

// TestTrainFileMatchesModel: the XGBoost JSON file, loaded by model/tree
// as the registry loads it, predicts what the trained model predicts, NaN
// included, and carries the feature names and types.
func TestTrainFileMatchesModel(t *testing.T) {
	d := synth(5000, 1, 0.2, 4)
	// Missing values in the features that matter too, so that default
	// directions are learnt on them.
	rng := rand.New(rand.NewPCG(4, 4))
	for _, row := range d.Rows {
		if rng.IntN(20) == 0 {
			row[rng.IntN(3)] = math.NaN()
		}
	}
	for _, cfg := range []train.Config{
		{Trees: 40, Seed: 1, Monotone: pricingMonotone},
		{Trees: 20, MaxDepth: 8, Eta: 0.3, MaxBins: 16, Subsample: 0.5, Seed: 2},
		{Trees: 5, MaxDepth: 1, Lambda: math.SmallestNonzeroFloat64, MinChildWeight: 50},
		{Trees: 3, MaxDepth: 16, Eta: 1, MaxBins: 2000, Monotone: pricingMonotone},
	} {
		m, _ := fit(t, d, cfg)
		data := m.XGBoostJSON()
		e, err := tree.LoadXGBoostJSON(data)
		require.NoError(t, err)
		require.Equal(t, synthFeatures, e.FeatureNames())
		require.Equal(t, "reg:squarederror", e.Info().Objective)
		require.Equal(t, m.NumTrees(), e.Info().NumTrees)
		check := func(row []float64) {
			want, got := m.Predict(row), e.Predict(row)
			require.InDelta(t, want, got, 1e-6*max(1, math.Abs(want)), "row %v", row)
		}
		for _, row := range d.Rows[:500] {
			check(row)
		}
		for range 3000 {
			check(randomRow(rng, d))
		}

		rt, err := model.Load(model.FormatXGBoostJSON, data)
		require.NoError(t, err)
		require.Equal(t, synthFeatures, rt.FeatureNames())
		var doc struct {
			Learner struct {
				FeatureTypes []string `json:"feature_types"`
			} `json:"learner"`
		}
		require.NoError(t, json.Unmarshal(data, &doc))
		require.Equal(t, []string{"float", "float", "float", "float", "float"}, doc.Learner.FeatureTypes)
	}
}

// violations counts the steps of price sweeps, over random other
// features, where the prediction rises with the named feature.
func violations(m *train.Model, d train.Data, feature string, rng *rand.Rand) int {
	j := -1
	for i, f := range d.Features {
		if f == feature {
			j = i
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, row := range d.Rows {
		if v := row[j]; !math.IsNaN(v) {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	n := 0
	for range 100 {
		row := randomRow(rng, d)
		prev := math.Inf(1)
		for k := -2; k <= 202; k++ {
			row[j] = lo + (hi-lo)*float64(k)/200
			p := m.Predict(row)
			if p > prev {
				n++
			}
			prev = p
		}
	}
	return n
}

// TestTrainMonotone: with constraints, demand never rises with price or
// price_ratio for any other features; without them, on noisy data, it
// does (so the test can fail).
func TestTrainMonotone(t *testing.T) {
	d := synth(2000, 8, 0.1, 5)
	// Features that vary with price give the trees reasons to split on
	// price the wrong way.
	cfg := train.Config{Trees: 30, MaxDepth: 6, Eta: 0.3, Subsample: 0.8, Seed: 5}
	free, _ := fit(t, d, cfg)
	cfg.Monotone = pricingMonotone
	mono, _ := fit(t, d, cfg)
	rng := rand.New(rand.NewPCG(5, 5))
	require.Positive(t, violations(free, d, "price", rng)+violations(free, d, "price_ratio", rng), "an unconstrained model on noise is not monotone")
	require.Zero(t, violations(mono, d, "price", rng), "demand never rises with price")
	require.Zero(t, violations(mono, d, "price_ratio", rng), "demand never rises with price_ratio")

	// +1 constrains the other way, and the loaded file keeps it.
	cfg.Monotone = map[string]int{"views": 1}
	up, _ := fit(t, d, cfg)
	e, err := tree.LoadXGBoostJSON(up.XGBoostJSON())
	require.NoError(t, err)
	for range 100 {
		row := randomRow(rng, d)
		prev := math.Inf(-1)
		for v := -10.0; v <= 410; v += 3 {
			row[0] = v
			p := e.Predict(row)
			require.GreaterOrEqual(t, p, prev, "views %v", v)
			prev = p
		}
	}
}

// TestTrainMissingDirection: a split learns where missing values go.
func TestTrainMissingDirection(t *testing.T) {
	d := train.Data{Features: []string{"x", "y"}}
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range 2000 {
		x := rng.Float64()*2 - 1
		y := 0.0
		switch {
		case i%4 == 0:
			x, y = math.NaN(), 10 // missing x means high demand
		case x > 0:
			y = 5
		}
		d.Rows = append(d.Rows, []float64{x, rng.Float64()})
		d.Labels = append(d.Labels, y)
	}
	m, _ := fit(t, d, train.Config{Trees: 50, Eta: 0.5})
	require.InDelta(t, 10, m.Predict([]float64{math.NaN(), 0.5}), 0.01)
	require.InDelta(t, 10, m.Predict(nil), 0.01, "a short row reads as missing values")
	require.InDelta(t, 5, m.Predict([]float64{0.5, 0.5}), 0.01)
	require.InDelta(t, 0, m.Predict([]float64{-0.5, 0.5}), 0.01)

	// With nothing missing in training, a missing value goes to the side
	// with more rows: here x > -0.5, where demand is mostly 5.
	d2 := train.Data{Features: []string{"x"}}
	for i := range 1000 {
		x := float64(i)/1000*2 - 1
		y := 0.0
		if x > -0.5 {
			y = 5
		}
		d2.Rows = append(d2.Rows, []float64{x})
		d2.Labels = append(d2.Labels, y)
	}
	m2, _ := fit(t, d2, train.Config{Trees: 50, Eta: 0.5, MaxDepth: 1})
	require.InDelta(t, 5, m2.Predict([]float64{math.NaN()}), 0.01)
}

// TestTrainEarlyStopping: training stops once the validation error stops
// falling and keeps the best trees; the file says which.
func TestTrainEarlyStopping(t *testing.T) {
	d := synth(600, 5, 0, 8)
	m, rep := fit(t, d, train.Config{Trees: 500, Eta: 0.5, MaxDepth: 8, ValidationFraction: 0.3, EarlyStoppingRounds: 5, Seed: 3})
	require.Less(t, rep.TreesBuilt, 500)
	require.Equal(t, rep.TreesBuilt-5, rep.TreesKept)
	require.Equal(t, rep.TreesKept, m.NumTrees())
	var doc struct {
		Learner struct {
			Attributes map[string]string `json:"attributes"`
		} `json:"learner"`
	}
	require.NoError(t, json.Unmarshal(m.XGBoostJSON(), &doc))
	require.Equal(t, map[string]string{
		"best_iteration":   itoa(rep.TreesKept - 1),
		"best_ntree_limit": itoa(rep.TreesKept),
	}, doc.Learner.Attributes)

	// The kept trees are the best: one more round (the next model) is no
	// better on the same held-out rows.
	cfg := train.Config{Trees: rep.TreesKept + 1, Eta: 0.5, MaxDepth: 8, ValidationFraction: 0.3, Seed: 3}
	_, next := fit(t, d, cfg)
	require.GreaterOrEqual(t, next.Validation.RMSE, rep.Validation.RMSE)
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestTrainErrors: bad data and configs are refused with every problem
// named.
func TestTrainErrors(t *testing.T) {
	good := synth(10, 1, 0, 9)
	for _, tc := range []struct {
		name string
		data func(d *train.Data)
		cfg  train.Config
		want []string
	}{
		{name: "config", cfg: train.Config{Trees: -1, MaxDepth: 17, Eta: 2, Lambda: -1, MaxBins: 1, Subsample: 1.5, ValidationFraction: 0.95, Monotone: map[string]int{"price": -2}},
			want: []string{"train: trees: -1 out of range", "train: max_depth: 17 out of range", "train: eta: 2 out of range", "train: lambda: -1 must be >= 0",
				"train: max_bins: 1 out of range", "train: subsample: 1.5 out of range", "train: validation_fraction: 0.95 out of range", "train: monotone[price]: -2 is not -1, 0 or 1"}},
		{name: "early stopping without validation", cfg: train.Config{EarlyStoppingRounds: 3}, want: []string{"train: early_stopping_rounds: needs a validation_fraction above 0"}},
		{name: "monotone unknown feature", cfg: train.Config{Monotone: map[string]int{"cost": -1}}, want: []string{`train: monotone constraint on "cost", which is not a feature`}},
		{name: "no features", data: func(d *train.Data) { d.Features = nil }, want: []string{"train: no features"}},
		{name: "duplicate feature", data: func(d *train.Data) { d.Features = []string{"a", "a", "", "b", "c"} }, want: []string{`train: feature "a" appears twice`, "train: feature 2 has no name"}},
		{name: "labels", data: func(d *train.Data) { d.Labels = d.Labels[:3] }, want: []string{"train: 10 rows but 3 labels"}},
		{name: "one row", data: func(d *train.Data) { d.Rows, d.Labels = d.Rows[:1], d.Labels[:1] }, want: []string{"train: 1 rows; at least 2 are needed"}},
		{name: "short row", data: func(d *train.Data) { d.Rows[3] = d.Rows[3][:2] }, want: []string{"train: row 3 has 2 values for 5 features"}},
		{name: "inf value", data: func(d *train.Data) { d.Rows[4][1] = math.Inf(1) }, want: []string{"train: row 4: price is +Inf (use NaN for a missing value)"}},
		{name: "nan label", data: func(d *train.Data) { d.Labels[5] = math.NaN() }, want: []string{"train: row 5: label NaN is not a finite number"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := train.Data{Features: append([]string(nil), good.Features...), Labels: append([]float64(nil), good.Labels...)}
			for _, r := range good.Rows {
				d.Rows = append(d.Rows, append([]float64(nil), r...))
			}
			if tc.data != nil {
				tc.data(&d)
			}
			_, _, err := train.Train(context.Background(), d, tc.cfg)
			require.Error(t, err)
			for _, w := range tc.want {
				require.ErrorContains(t, err, w)
			}
		})
	}
}

// TestTrainCancel: a cancelled context stops training.
func TestTrainCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _, err := train.Train(ctx, synth(100, 1, 0, 1), train.Config{})
	require.ErrorIs(t, err, context.Canceled)
}

// TestTrainConstant: a label that never varies gives single-leaf trees
// that predict it.
func TestTrainConstant(t *testing.T) {
	d := synth(100, 0, 0, 1)
	for i := range d.Labels {
		d.Labels[i] = 3.25
	}
	m, rep := fit(t, d, train.Config{Trees: 3})
	require.Equal(t, 3.25, m.Predict(d.Rows[0]))
	require.Zero(t, rep.Train.RMSE)
	e, err := tree.LoadXGBoostJSON(m.XGBoostJSON())
	require.NoError(t, err)
	require.Equal(t, 3.25, e.Predict(d.Rows[0]))
}
