package modeltest

import (
	"encoding/csv"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
)

// DefaultTolerance is the relative tolerance Runtime uses when Cases.Tol is
// zero: the 1e-5 agreement with the training library that issue 7 asks for.
const DefaultTolerance = 1e-5

// Cases are input rows and the predictions the training library made for
// them.
type Cases struct {
	// Rows are the inputs; NaN marks a missing value. Each has
	// NumFeatures values, and at least one has a missing value.
	Rows [][]float64
	// Want holds the library's prediction for each row.
	Want []float64
	// Tol is the tolerance: a prediction passes if |got-want| <= Tol *
	// max(1, |want|), relative for values of magnitude 1 and more,
	// absolute below. Zero means DefaultTolerance.
	Tol float64
}

// ReadCases reads the input rows and the expected predictions of a fixture:
// input is a CSV file whose header names the features and in which an
// empty field is a missing value; expected is a CSV file with a header and
// one prediction per line, one line per input row.
func ReadCases(t testing.TB, input, expected string) Cases {
	t.Helper()
	rows, header := readCSV(t, input)
	require.NotEmpty(t, header, "%s: no header", input)
	want, _ := readCSV(t, expected)
	require.Len(t, want, len(rows), "%s and %s differ in rows", input, expected)
	c := Cases{Rows: rows, Want: make([]float64, len(want))}
	for i, w := range want {
		require.Len(t, w, 1, "%s line %d", expected, i+2)
		c.Want[i] = w[0]
	}
	return c
}

func readCSV(t testing.TB, path string) (rows [][]float64, header []string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, "%s", path)
	require.NotEmpty(t, recs, "%s is empty", path)
	for n, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for i, s := range rec {
			if s == "" {
				row[i] = math.NaN()
				continue
			}
			row[i], err = strconv.ParseFloat(s, 64)
			require.NoError(t, err, "%s line %d field %d", path, n+2, i+1)
		}
		rows = append(rows, row)
	}
	return rows, recs[0]
}

// Runtime runs the conformance suite on r with cases, as subtests of t.
func Runtime(t *testing.T, r model.Runtime, cases Cases) {
	t.Helper()
	require.NotEmpty(t, cases.Rows, "the suite needs cases")
	require.Len(t, cases.Want, len(cases.Rows))
	n := r.NumFeatures()
	missing := false
	for i, row := range cases.Rows {
		require.Len(t, row, n, "case %d", i)
		missing = missing || slices.ContainsFunc(row, math.IsNaN)
	}
	require.True(t, missing, "the cases must include rows with missing values")
	tol := cases.Tol
	if tol == 0 {
		tol = DefaultTolerance
	}

	t.Run("Info", func(t *testing.T) { testInfo(t, r) })
	t.Run("Expected", func(t *testing.T) { testExpected(t, r, cases, tol) })
	t.Run("Missing", func(t *testing.T) { testMissing(t, r, cases) })
	t.Run("FeatureCount", func(t *testing.T) { testFeatureCount(t, r, cases) })
	t.Run("Batch", func(t *testing.T) { testBatch(t, r, cases) })
	t.Run("Along", func(t *testing.T) { testAlong(t, r, cases) })
	t.Run("NoAllocNoMutation", func(t *testing.T) { testNoAlloc(t, r, cases) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, r, cases) })
	t.Run("OddInputs", func(t *testing.T) { testOddInputs(t, r) })
}

func testInfo(t *testing.T, r model.Runtime) {
	info := r.Info()
	require.Contains(t, model.Formats(), info.Format)
	require.Contains(t, []model.Output{model.OutputRegression, model.OutputProbability}, info.Output)
	require.GreaterOrEqual(t, info.NumTrees, 0)
	require.GreaterOrEqual(t, r.NumFeatures(), 0)
	names := r.FeatureNames()
	if names == nil {
		return
	}
	require.Len(t, names, r.NumFeatures())
	// The caller owns the slice: changing it changes nothing in r.
	want := slices.Clone(names)
	for i := range names {
		names[i] = "changed"
	}
	require.Equal(t, want, r.FeatureNames())
}

func testExpected(t *testing.T, r model.Runtime, cases Cases, tol float64) {
	var maxAbs, maxRel float64
	for i, row := range cases.Rows {
		got, want := r.Predict(row), cases.Want[i]
		d := math.Abs(got - want)
		require.LessOrEqual(t, d, tol*max(1, math.Abs(want)), "case %d: row %v: got %v, want %v", i, row, got, want)
		maxAbs = max(maxAbs, d)
		if want != 0 {
			maxRel = max(maxRel, d/math.Abs(want))
		}
		if r.Info().Output == model.OutputProbability {
			require.True(t, got >= 0 && got <= 1, "case %d: probability %v out of [0, 1]", i, got)
		}
	}
	t.Logf("%d cases: max difference %.3g absolute, %.3g relative", len(cases.Rows), maxAbs, maxRel)
}

// testMissing checks what a missing value means: every value missing gives
// a number, and a row cut short reads as padded with NaN.
func testMissing(t *testing.T, r model.Runtime, cases Cases) {
	n := r.NumFeatures()
	allNaN := nanRow(n)
	p := r.Predict(allNaN)
	require.False(t, math.IsNaN(p) || math.IsInf(p, 0), "all missing: got %v", p)
	require.Equal(t, bits(p), bits(r.Predict(nil)), "a nil row is all missing")
	require.Equal(t, bits(p), bits(r.Predict([]float64{})), "an empty row is all missing")

	for i, row := range cases.Rows[:min(len(cases.Rows), 20)] {
		for k := 0; k <= n; k++ {
			padded := append(slices.Clone(row[:k]), nanRow(n-k)...)
			require.Equal(t, bits(r.Predict(padded)), bits(r.Predict(row[:k])), "case %d cut to %d values", i, k)
		}
		longer := append(slices.Clone(row), 1, -1, math.NaN())
		require.Equal(t, bits(r.Predict(row)), bits(r.Predict(longer)), "case %d with extra values", i)
	}
}

func testFeatureCount(t *testing.T, r model.Runtime, cases Cases) {
	n := r.NumFeatures()
	row := cases.Rows[0]
	got, err := model.PredictChecked(r, row)
	require.NoError(t, err)
	require.Equal(t, bits(r.Predict(row)), bits(got))

	bad := [][]float64{nil, nanRow(n + 1), append(slices.Clone(row), 0)}
	if n > 0 {
		bad = append(bad, row[:n-1], row[:0])
	}
	for _, b := range bad {
		if len(b) == n {
			continue // nil or empty when the model has no features
		}
		_, err := model.PredictChecked(r, b)
		require.ErrorIs(t, err, model.ErrFeatureCount, "row of %d values", len(b))
		require.ErrorContains(t, err, fmt.Sprintf("row has %d values, the model expects %d", len(b), n))

		rows := slices.Clone(cases.Rows[:min(3, len(cases.Rows))])
		rows = append(rows, b)
		out := []float64{7, 7, 7, 7}
		err = model.PredictBatchChecked(r, rows, out)
		require.ErrorIs(t, err, model.ErrFeatureCount)
		require.ErrorContains(t, err, fmt.Sprintf("row %d has %d values", len(rows)-1, len(b)))
		require.Equal(t, []float64{7, 7, 7, 7}, out, "out is unchanged on error")
	}

	out := make([]float64, len(cases.Rows)-1)
	err = model.PredictBatchChecked(r, cases.Rows, out)
	require.Error(t, err, "out too short")
	require.NotErrorIs(t, err, model.ErrFeatureCount)
}

func testBatch(t *testing.T, r model.Runtime, cases Cases) {
	const sentinel = -12345.5
	out := make([]float64, len(cases.Rows)+2)
	out[len(out)-2], out[len(out)-1] = sentinel, sentinel
	r.PredictBatch(cases.Rows, out)
	for i, row := range cases.Rows {
		require.Equal(t, bits(r.Predict(row)), bits(out[i]), "case %d", i)
	}
	require.Equal(t, []float64{sentinel, sentinel}, out[len(cases.Rows):], "PredictBatch wrote past len(rows)")

	require.NoError(t, model.PredictBatchChecked(r, cases.Rows, out))
	r.PredictBatch(nil, nil)
	r.PredictBatch([][]float64{nil, {}}, out[:2])
	require.Equal(t, bits(r.Predict(nil)), bits(out[0]))
	require.Panics(t, func() { r.PredictBatch(cases.Rows[:2], out[:1]) }, "out shorter than rows")
}

// testAlong checks model.PredictAlong (the runtime's own where it has one)
// against Predict, to the bit: every feature of the first cases, at values
// in and out of order, repeated, missing and the row's own.
func testAlong(t *testing.T, r model.Runtime, cases Cases) {
	_, own := r.(model.AlongPredictor)
	t.Logf("runtime has its own PredictAlong: %v", own)
	for i, row := range cases.Rows[:min(len(cases.Rows), 8)] {
		before := slices.Clone(row)
		for f := range row {
			values := []float64{math.NaN(), row[f], -1e9, 0, 1e9}
			for _, other := range cases.Rows[:min(len(cases.Rows), 16)] {
				values = append(values, other[f])
			}
			values = append(values, values[2], math.NaN(), math.Inf(1), math.Inf(-1))
			for _, vs := range [][]float64{values, sortedClean(values)} {
				const sentinel = -12345.5
				out := make([]float64, len(vs)+1)
				out[len(vs)] = sentinel
				model.PredictAlong(r, row, f, vs, out)
				scratch := slices.Clone(row)
				for k, v := range vs {
					scratch[f] = v
					require.Equal(t, bits(r.Predict(scratch)), bits(out[k]), "case %d feature %d value %v", i, f, v)
				}
				require.Equal(t, sentinel, out[len(vs)], "PredictAlong wrote past len(values)")
				require.Equal(t, bitsOf(before), bitsOf(row), "case %d: PredictAlong modified the row", i)
			}
		}
	}
	row := cases.Rows[0]
	model.PredictAlong(r, row, 0, nil, nil)
	require.Panics(t, func() { model.PredictAlong(r, row, 0, []float64{1, 2}, make([]float64, 1)) }, "out shorter than values")
	require.Panics(t, func() { model.PredictAlong(r, row, len(row), []float64{1}, make([]float64, 1)) }, "feature outside the row")
}

// sortedClean returns values in ascending order without NaN: the order
// PredictAlong walks without sorting.
func sortedClean(values []float64) []float64 {
	out := slices.DeleteFunc(slices.Clone(values), math.IsNaN)
	slices.Sort(out)
	return out
}

func testNoAlloc(t *testing.T, r model.Runtime, cases Cases) {
	for i, row := range cases.Rows[:min(len(cases.Rows), 10)] {
		before := slices.Clone(row)
		allocs := testing.AllocsPerRun(20, func() { r.Predict(row) })
		require.Zero(t, allocs, "case %d: Predict allocates", i)
		require.Equal(t, bitsOf(before), bitsOf(row), "case %d: Predict modified the row", i)
	}
	out := make([]float64, len(cases.Rows))
	// AllocsPerRun counts the allocations of the whole process: goroutines
	// of an engine that an earlier test closed can add a few while a long
	// batch runs. Take the least of three measurements.
	allocs := testing.AllocsPerRun(5, func() { r.PredictBatch(cases.Rows, out) })
	for range 2 {
		allocs = min(allocs, testing.AllocsPerRun(5, func() { r.PredictBatch(cases.Rows, out) }))
	}
	require.Zero(t, allocs, "PredictBatch allocates")
}

// testConcurrent predicts every case from several goroutines at once;
// under -race this checks that Predict shares no mutable state.
func testConcurrent(t *testing.T, r model.Runtime, cases Cases) {
	want := make([]uint64, len(cases.Rows))
	for i, row := range cases.Rows {
		want[i] = bits(r.Predict(row))
	}
	const goroutines = 8
	errs := make([]error, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			out := make([]float64, len(cases.Rows))
			for round := range 3 {
				// Start each goroutine at a different row.
				for k := range cases.Rows {
					i := (k + g*len(cases.Rows)/goroutines) % len(cases.Rows)
					if got := bits(r.Predict(cases.Rows[i])); got != want[i] {
						errs[g] = fmt.Errorf("goroutine %d round %d case %d: got %v, want %v",
							g, round, i, math.Float64frombits(got), math.Float64frombits(want[i]))
						return
					}
				}
				r.PredictBatch(cases.Rows, out)
				for i := range out {
					if bits(out[i]) != want[i] {
						errs[g] = fmt.Errorf("goroutine %d round %d: batch case %d: got %v", g, round, i, out[i])
						return
					}
				}
			}
		})
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
}

// testOddInputs feeds values no training set has; the runtime must answer
// without panicking.
func testOddInputs(t *testing.T, r model.Runtime) {
	n := r.NumFeatures()
	for _, v := range []float64{0, math.Copysign(0, -1), math.Inf(1), math.Inf(-1),
		math.MaxFloat64, -math.MaxFloat64, math.SmallestNonzeroFloat64, 1e300, -1e300, 1 << 31, -(1 << 31), 1 << 40} {
		row := make([]float64, n)
		for i := range row {
			row[i] = v
		}
		require.NotPanics(t, func() { r.Predict(row) }, "every value %v", v)
	}
}

func nanRow(n int) []float64 {
	row := make([]float64, n)
	for i := range row {
		row[i] = math.NaN()
	}
	return row
}

func bits(f float64) uint64 { return math.Float64bits(f) }

func bitsOf(row []float64) []uint64 {
	out := make([]uint64, len(row))
	for i, v := range row {
		out[i] = bits(v)
	}
	return out
}
