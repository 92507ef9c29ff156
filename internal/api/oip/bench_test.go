package oip_test

import (
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pricestream/pricestream/internal/model/modeltest"
)

// BenchmarkOIPInfer is the latency of one Open Inference Protocol infer
// call on loopback (the 100-tree benchmark model, FP64 tensor, keep-alive
// connection, one client at a time); Rows100 sends 100 rows per call.
func BenchmarkOIPInfer(b *testing.B) {
	url, hc := start(b)
	c := modeltest.ReadCases(b, testdata+"xgb_bench.input.csv", testdata+"xgb_bench.expected.csv")
	for _, bc := range []struct {
		name string
		rows int
	}{{"Row", 1}, {"Rows100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			body := inferBody(c.Rows[:bc.rows], "FP64")
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				resp, err := hc.Post(url+"/v2/models/pricing/infer", "application/json", strings.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("status %d", resp.StatusCode)
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
			b.ReportMetric(q(0.50), "p50-µs")
			b.ReportMetric(q(0.99), "p99-µs")
		})
	}
}
