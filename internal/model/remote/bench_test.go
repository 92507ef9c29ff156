package remote_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/model/remote"
)

// BenchmarkRemotePredict is the latency of one row through each
// model.Predictor the pipeline can use, in one run: the in-process
// endpoint, and remote clients of SageMaker and OIP over loopback (one
// caller at a time, keep-alive connection), with p50 and p99.
func BenchmarkRemotePredict(b *testing.B) {
	url, ep, _ := setup(b)
	rows := modeltest.ReadCases(b, testdata+"xgb_bench.input.csv", testdata+"xgb_bench.expected.csv").Rows
	for _, bc := range []struct {
		name string
		p    model.Predictor
	}{
		{"InProcess", ep},
		{"SageMaker", client(b, remote.Config{URL: url, Endpoint: "pricing"})},
		{"OIP", client(b, remote.Config{URL: url, Protocol: remote.OIP, Endpoint: "pricing"})},
	} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			lat := make([]time.Duration, 0, 1<<16)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				if _, err := bc.p.Predict(ctx, model.Features{Row: rows[i]}); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
				if i++; i == len(rows) {
					i = 0
				}
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}
