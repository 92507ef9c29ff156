package demo

import (
	"context"
	"fmt"
	"io"
	"net/http"

	"github.com/pricestream/pricestream/internal/histogram"
)

// The bench's stages: the pipeline's own latency histograms, read from its
// /metrics at the end of the warm-up and at the end of the load, give the
// percentiles of each hop an event takes on its way to a price over the
// measured interval, so that a run says where its end-to-end latency goes
// without a profile (docs/performance.md took them apart by scraping by
// hand). A percentile is interpolated within its bucket
// ([histogram.Histogram.Quantile]): it is as good as the buckets are fine.

// benchStages are the hops, in the order an event takes them.
var benchStages = []histogram.Series{
	{Name: "ingest_put", Metric: "pricestream_stream_put_seconds", Labels: map[string]string{"stream": "clicks"}},
	{Name: "etl_source_wait", Metric: "pricestream_etl_stage_seconds", Labels: map[string]string{"job": "click-features", "stage": "source_wait"}},
	{Name: "etl_inbox", Metric: "pricestream_etl_stage_seconds", Labels: map[string]string{"job": "click-features", "stage": "inbox"}},
	{Name: "etl_process", Metric: "pricestream_etl_stage_seconds", Labels: map[string]string{"job": "click-features", "stage": "process"}},
	{Name: "etl_sink_queue", Metric: "pricestream_etl_stage_seconds", Labels: map[string]string{"job": "click-features", "stage": "sink_queue"}},
	{Name: "etl_sink_write", Metric: "pricestream_etl_stage_seconds", Labels: map[string]string{"job": "click-features", "stage": "sink_write"}},
	{Name: "trigger_delivery", Metric: "pricestream_trigger_delivery_seconds", Labels: map[string]string{"trigger": "reprice"}},
	{Name: "trigger_invocation", Metric: "pricestream_trigger_invocation_seconds", Labels: map[string]string{"trigger": "reprice"}},
	{Name: "pricing_decision", Metric: "pricestream_pricing_decision_seconds"},
	{Name: "price_write", Metric: "pricestream_table_write_seconds", Labels: map[string]string{"table": "products"}},
	{Name: "engine_group_sync", Metric: "pricestream_engine_group_sync_seconds"},
	{Name: "pricing_end_to_end", Metric: "pricestream_pricing_end_to_end_seconds"},
}

// StageNames returns the names of [BenchResult.Stages] in the order an
// event takes the hops.
func StageNames() []string {
	names := make([]string, len(benchStages))
	for i, s := range benchStages {
		names[i] = s.Name
	}
	return names
}

// StageLatency is one hop's latency over a bench's measured interval.
type StageLatency struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P99   float64 `json:"p99_ms"`
}

// scrapeStages reads benchStages' histograms from a /metrics endpoint.
func scrapeStages(ctx context.Context, url, token string) (map[string]histogram.Histogram, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return histogram.Parse(resp.Body, benchStages)
}

// stageLatencies are the percentiles of what each stage observed between
// two reads, before and after (a stage missing from before counts from
// zero; one with nothing observed in between, or whose counts went back,
// as after a restart, is left out).
func stageLatencies(before, after map[string]histogram.Histogram) map[string]StageLatency {
	out := map[string]StageLatency{}
	for name, a := range after {
		d := a
		if b, ok := before[name]; ok {
			if d, ok = a.Since(b); !ok {
				continue
			}
		}
		if n := d.Count(); n > 0 {
			out[name] = StageLatency{Count: n, P50: round2(d.Quantile(0.5) * 1e3), P99: round2(d.Quantile(0.99) * 1e3)}
		}
	}
	return out
}
