package sagemaker_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	smr "github.com/aws/aws-sdk-go-v2/service/sagemakerruntime"
)

// reportLatency reports the p50 and p99 of the per-request latencies, in
// µs.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(q(0.50), "p50-µs")
	b.ReportMetric(q(0.99), "p99-µs")
}

// BenchmarkSageMakerInvoke is the latency of one InvokeEndpoint call on
// loopback (one CSV row of the 100-tree benchmark model, keep-alive
// connection, one client at a time): HTTP, decoding, routing, prediction
// and the answer. Rows100 sends 100 rows per call.
func BenchmarkSageMakerInvoke(b *testing.B) {
	f := start(b)
	c := cases(b)
	for _, bc := range []struct {
		name string
		rows int
	}{{"Row", 1}, {"Rows100", 100}} {
		b.Run(bc.name, func(b *testing.B) {
			body := csvBody(c.Rows[:bc.rows])
			lat := make([]time.Duration, 0, 1<<16)
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				req, _ := http.NewRequest(http.MethodPost, f.url+"/endpoints/pricing/invocations", bytes.NewReader(body))
				req.Header.Set("Content-Type", "text/csv")
				resp, err := f.hc.Do(req)
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
			reportLatency(b, lat)
		})
	}
}

// BenchmarkSageMakerInvokeSDK is BenchmarkSageMakerInvoke/Row through the
// AWS SDK client (which signs every request with SigV4).
func BenchmarkSageMakerInvokeSDK(b *testing.B) {
	f := start(b)
	body := csvBody(cases(b).Rows[:1])
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<16)
	b.ReportAllocs()
	for b.Loop() {
		start := time.Now()
		if _, err := f.sm.InvokeEndpoint(ctx, &smr.InvokeEndpointInput{EndpointName: aws.String("pricing"), ContentType: aws.String("text/csv"), Body: body}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportLatency(b, lat)
}
