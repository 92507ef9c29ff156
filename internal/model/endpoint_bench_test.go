package model_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// benchEndpoint serves the benchmark model (XGBoost 1.7.4, 100 trees of
// depth 6, 20 features) from endpoint "bench", with the shadow given, and
// returns the endpoint, the bare runtime and the 620 test rows.
func benchEndpoint(b *testing.B, shadow bool) (*model.Endpoint, model.Runtime, [][]float64) {
	b.Helper()
	e := enginetest.Start(b)
	ctx := context.Background()
	reg, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(b, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, model.Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(b, err)
	b.Cleanup(func() { eps.Close() })
	_, err = reg.Register(ctx, model.Registration{Model: "bench", Artifact: readFixture(b, "xgb_bench.json"), Status: model.Approved})
	require.NoError(b, err)
	def := model.EndpointConfig{Name: "bench", Variants: []model.VariantConfig{{Model: "bench"}}}
	if shadow {
		def.Shadow = &model.VariantConfig{Model: "bench"}
	}
	_, err = eps.Create(ctx, def, false)
	require.NoError(b, err)
	ep, err := eps.Endpoint("bench")
	require.NoError(b, err)
	rt, _, err := reg.Runtime(ctx, "bench", 1)
	require.NoError(b, err)
	return ep, rt, modeltest.ReadCases(b, "testdata/xgb_bench.input.csv", "testdata/xgb_bench.expected.csv").Rows
}

// BenchmarkEndpointPredict is the in-process latency of one row through an
// endpoint (variant choice, checks, metrics: DESIGN.md budget under 3 µs);
// the Runtime sub-benchmark is the bare evaluator on the same rows in the
// same run.
func BenchmarkEndpointPredict(b *testing.B) {
	ep, rt, rows := benchEndpoint(b, false)
	ctx := context.Background()
	b.Run("Endpoint", func(b *testing.B) {
		var sink float64
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			p, err := ep.Predict(ctx, model.Features{Row: rows[i]})
			if err != nil {
				b.Fatal(err)
			}
			sink += p.Value
			if i++; i == len(rows) {
				i = 0
			}
		}
		_ = sink
	})
	b.Run("Runtime", func(b *testing.B) {
		var sink float64
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			sink += rt.Predict(rows[i])
			if i++; i == len(rows) {
				i = 0
			}
		}
		_ = sink
	})
}

// BenchmarkEndpointPredictShadow is BenchmarkEndpointPredict/Endpoint with
// a shadow variant taking a copy of every request: the caller pays for the
// copy and the enqueue, the async worker for the shadow's prediction.
func BenchmarkEndpointPredictShadow(b *testing.B) {
	ep, _, rows := benchEndpoint(b, true)
	ctx := context.Background()
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ep.Predict(ctx, model.Features{Row: rows[i]}); err != nil {
			b.Fatal(err)
		}
		if i++; i == len(rows) {
			i = 0
		}
	}
}

// BenchmarkEndpointPredictBatch is the throughput of one batch of all 620
// rows through an endpoint, in rows/s.
func BenchmarkEndpointPredictBatch(b *testing.B) {
	ep, _, rows := benchEndpoint(b, false)
	ctx := context.Background()
	r, err := ep.Routing()
	require.NoError(b, err)
	out := make([]float64, len(rows))
	b.ReportAllocs()
	start := time.Now()
	n := 0
	for b.Loop() {
		if _, err := r.PredictBatch(ctx, model.Batch{Rows: rows}, out); err != nil {
			b.Fatal(err)
		}
		n++
	}
	elapsed := time.Since(start)
	b.ReportMetric(float64(n*len(rows))/elapsed.Seconds(), "rows/s")
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(n*len(rows)), "ns/row")
}
