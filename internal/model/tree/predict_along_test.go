package tree_test

import (
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model/tree"
)

// alongModels are the fixture models (XGBoost and LightGBM, with and
// without categorical splits) and the shipped Fast Sneakers demand model,
// whose price_ratio (feature 1) is what the pricing policy varies.
func alongModels(t testing.TB) map[string]*tree.Ensemble {
	t.Helper()
	out := map[string]*tree.Ensemble{}
	for _, name := range []string{"xgb_bench", "xgb_reg", "xgb_binary", "xgb_reglogistic", "xgb_categorical"} {
		e, err := tree.LoadXGBoostJSON(readFile(t, name+".json"))
		require.NoError(t, err, name)
		out[name] = e
	}
	for _, name := range []string{"lgb_reg", "lgb_binary"} {
		e, err := tree.LoadLightGBM(readFile(t, name+".txt"))
		require.NoError(t, err, name)
		out[name] = e
	}
	data, err := os.ReadFile("../../../examples/fastsneakers/model/pricing-model.json")
	require.NoError(t, err)
	e, err := tree.LoadXGBoostJSON(data)
	require.NoError(t, err)
	out["fastsneakers"] = e
	return out
}

// PredictAlong gives, for each value, Predict's result for the row with
// the feature set to it, to the bit: every feature of every model, values
// from the fixture rows, random ones, NaN and the split thresholds' edges
// (values equal to a row's own), rows with missing values, and a feature
// beyond the row.
func TestTreePredictAlongMatchesPredict(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for name, e := range alongModels(t) {
		rows := [][]float64{}
		if c, err := os.Stat("../testdata/" + name + ".input.csv"); err == nil && !c.IsDir() {
			rows = cases(t, name).Rows
		}
		for range 20 {
			row := make([]float64, e.NumFeatures())
			for j := range row {
				row[j] = rng.NormFloat64() * 3
				if rng.IntN(10) == 0 {
					row[j] = math.NaN()
				}
			}
			rows = append(rows, row)
		}
		for ri, row := range rows[:min(len(rows), 60)] {
			for f := range e.NumFeatures() + 1 {
				values := []float64{math.NaN(), 0, -1, 1}
				for range 16 {
					values = append(values, rng.NormFloat64()*3, rows[rng.IntN(len(rows))][min(f, len(row)-1)])
				}
				// Sorted values (as candidate prices come) take a walk of
				// their own; ties included.
				sorted := slices.DeleteFunc(slices.Clone(values), math.IsNaN)
				sorted = append(sorted, sorted[len(sorted)/2])
				slices.Sort(sorted)
				// Each set three times: the walk, then the context's curve
				// built, then read.
				for _, values := range [][]float64{values, sorted, values, sorted, values, sorted} {
					got := make([]float64, len(values))
					before := append([]float64(nil), row...)
					e.PredictAlong(row, f, values, got)
					for j := range row {
						require.Equal(t, math.Float64bits(before[j]), math.Float64bits(row[j]), "%s: the row is not changed", name)
					}
					for i, v := range values {
						r := append([]float64(nil), row...)
						for len(r) <= f {
							r = append(r, math.NaN())
						}
						r[f] = v
						want := e.Predict(r)
						require.Equal(t, math.Float64bits(want), math.Float64bits(got[i]), "%s row %d feature %d value %v: %v, want %v", name, ri, f, v, got[i], want)
					}
				}
			}
		}
	}
}

// BenchmarkTreePredictAlong: the 19 candidate prices a pricing decision
// asks for at most (9 within the step, 9 over the range, the current one),
// through the shipped demand model, as 19 Predict calls, as one walk of
// the trees for all of them, and as PredictAlong (a context's curve).
//
//	go test -run '^$' -bench TreePredictAlong -count 6 -benchmem ./internal/model/tree/
func BenchmarkTreePredictAlong(b *testing.B) {
	data, err := os.ReadFile("../../../examples/fastsneakers/model/pricing-model.json")
	require.NoError(b, err)
	e, err := tree.LoadXGBoostJSON(data)
	require.NoError(b, err)
	row := []float64{1.3, 1}
	values := make([]float64, 19)
	for i := range values {
		values[i] = 0.7 + 0.6*float64(i)/18
	}
	out := make([]float64, len(values))
	b.Run("predict", func(b *testing.B) {
		r := append([]float64(nil), row...)
		b.ReportAllocs()
		for b.Loop() {
			for i, v := range values {
				r[1] = v
				out[i] = e.Predict(r)
			}
		}
	})
	b.Run("walk", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.WalkAlong(row, 1, values, out)
		}
	})
	// PredictAlong: the context's curve, after its first two requests.
	b.Run("along", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.PredictAlong(row, 1, values, out)
		}
	})
	// A new context each time (trend_now moving across its ~370
	// intervals, then around again): the curves built as the pipeline
	// meets them, then read.
	b.Run("along-moving", func(b *testing.B) {
		e, err := tree.LoadXGBoostJSON(data)
		require.NoError(b, err)
		r := append([]float64(nil), row...)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			r[0] = float64(i%1000) / 250
			i++
			e.PredictAlong(r, 1, values, out)
		}
	})
}

// PredictAlong from many goroutines at once: the curves are built once
// per context while others read them, and every answer is Predict's.
func TestTreePredictAlongConcurrent(t *testing.T) {
	data, err := os.ReadFile("../../../examples/fastsneakers/model/pricing-model.json")
	require.NoError(t, err)
	e, err := tree.LoadXGBoostJSON(data)
	require.NoError(t, err)
	values := make([]float64, 19)
	for i := range values {
		values[i] = 0.7 + 0.6*float64(i)/18
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			out := make([]float64, len(values))
			for i := range 200 {
				row := []float64{float64((i*7+g)%40) / 10, 1}
				e.PredictAlong(row, 1, values, out)
				for j, v := range values {
					if want := e.Predict([]float64{row[0], v}); math.Float64bits(want) != math.Float64bits(out[j]) {
						t.Errorf("trend_now %v price_ratio %v: %v, want %v", row[0], v, out[j], want)
						return
					}
				}
			}
		})
	}
	wg.Wait()
}
