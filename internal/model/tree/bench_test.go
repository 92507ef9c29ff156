package tree_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model/tree"
)

// The benchmark model: XGBoost 1.7.4, reg:squarederror, 100 trees of depth
// 6 over 20 features (testdata/xgb_bench.json), and its 620 test rows, 5%
// of values missing. Each benchmark cycles through the rows so the branch
// predictor cannot learn one path.

func benchModel(b *testing.B) (*tree.Ensemble, [][]float64) {
	b.Helper()
	e, err := tree.LoadXGBoostJSON(readFile(b, "xgb_bench.json"))
	require.NoError(b, err)
	return e, cases(b, "xgb_bench").Rows
}

// BenchmarkTreePredict is the in-process latency of one row through the
// flat evaluator (DESIGN.md budget: under 3 µs).
func BenchmarkTreePredict(b *testing.B) {
	e, rows := benchModel(b)
	var sink float64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		sink += e.Predict(rows[i])
		if i++; i == len(rows) {
			i = 0
		}
	}
	_ = sink
}

// BenchmarkTreePredictPlainWalk evaluates the same trees with a plain Go
// pointer-based recursive walk, the baseline the flat layout must beat.
func BenchmarkTreePredictPlainWalk(b *testing.B) {
	_, rows := benchModel(b)
	p := loadPlain(b, readFile(b, "xgb_bench.json"))
	var sink float64
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		sink += p.predict(rows[i])
		if i++; i == len(rows) {
			i = 0
		}
	}
	_ = sink
}

// BenchmarkTreePredictBatch is the throughput of PredictBatch over all 620
// rows at once, reported as rows/s and ns/row.
func BenchmarkTreePredictBatch(b *testing.B) {
	e, rows := benchModel(b)
	out := make([]float64, len(rows))
	b.ReportAllocs()
	for b.Loop() {
		e.PredictBatch(rows, out)
	}
	perRow := float64(b.Elapsed().Nanoseconds()) / float64(b.N*len(rows))
	b.ReportMetric(perRow, "ns/row")
	b.ReportMetric(1e9/perRow, "rows/s")
}
