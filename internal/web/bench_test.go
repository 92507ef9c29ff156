package web

import (
	"fmt"
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
)

// A decision record as the pricing function writes it: 20 features.
func benchDecision(b *testing.B) []byte {
	b.Helper()
	f := map[string]float64{}
	for _, n := range []string{"views", "clicks", "add_to_carts", "remove_from_carts", "purchases", "revenue", "users", "price", "base_price", "inventory",
		"sales_units_1h", "sales_revenue_1h", "views_5m", "views_1h", "conversion", "trend", "price_ratio", "view_rate", "hour_view_rate", "trend_now"} {
		f[n] = 12.3456789
	}
	now := time.Now()
	data, err := gojson.Marshal(pricing.DecisionRecord{DecisionID: "pricing_features/3/123456", ProductID: "sku-00042", Action: "kept", Reason: "gain below threshold",
		OldPrice: 99.5, NewPrice: 101.2, ExpectedUnits: 0.3, ExpectedRevenue: 30, CurrentRevenue: 29, Model: "pricing", ModelVersion: 1, Features: f,
		MinPrice: 80, MaxPrice: 120, EventTime: now, IngestTime: now, DecidedAt: now})
	if err != nil {
		b.Fatal(err)
	}
	return data
}

// BenchmarkWebDecisionDecode: what the dashboard pays per decision to read
// it (whole = the record with its features decoded into a map, as before;
// view = the fields shown, and the one feature charted).
func BenchmarkWebDecisionDecode(b *testing.B) {
	data := benchDecision(b)
	b.Run("whole", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d pricing.DecisionRecord
			if err := gojson.Unmarshal(data, &d); err != nil || d.Features["view_rate"] == 0 {
				b.Fatal(err)
			}
		}
	})
	b.Run("view", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var d decision
			if err := gojson.Unmarshal(data, &d); err != nil {
				b.Fatal(err)
			}
			if v, ok := featureNumber(d.Features, "view_rate"); !ok || v == 0 {
				b.Fatal("no view_rate")
			}
		}
	})
}

// BenchmarkWebDecisions: what the dashboard pays per decision while it
// follows the price-changes stream (decode and take in), in batches of 64
// as a subscription delivers them, with the bench's mix: 10,000 products
// (more than it tracks), one decision in 16 applied, one in 16 kept and
// the rest refused (in the bench, mostly by the cooldown); none a
// redelivery.
func BenchmarkWebDecisions(b *testing.B) {
	f := map[string]float64{}
	for _, n := range []string{"views", "clicks", "add_to_carts", "remove_from_carts", "purchases", "revenue", "users", "price", "base_price", "inventory",
		"sales_units_1h", "sales_revenue_1h", "views_5m", "views_1h", "conversion", "trend", "price_ratio", "view_rate", "hour_view_rate", "trend_now"} {
		f[n] = 12.3456789
	}
	const n = 64 * 1024 // more than maxSeen: every decision is new when it comes again
	recs := make([]stream.Record, n)
	now := time.Now()
	for i := range recs {
		action, reason := "refused", "cooldown"
		switch i % 16 {
		case 0:
			action, reason = "applied", ""
		case 1:
			action, reason = "kept", "gain below threshold"
		}
		data, err := gojson.Marshal(pricing.DecisionRecord{DecisionID: fmt.Sprintf("pricing_features/%d/%d", i%4, i), ProductID: fmt.Sprintf("sku-%05d", (i*7919)%10_000),
			Action: action, Reason: reason, OldPrice: 99.5, NewPrice: 101.2, ExpectedUnits: 0.3, ExpectedRevenue: 30, CurrentRevenue: 29, Model: "pricing", ModelVersion: 1,
			Features: f, MinPrice: 80, MaxPrice: 120, EventTime: now, IngestTime: now, DecidedAt: now, E2EMillis: 3.5})
		if err != nil {
			b.Fatal(err)
		}
		recs[i] = stream.Record{Position: stream.Position{Seq: uint64(i/64 + 1), Index: uint32(i % 64)}, Data: data}
	}
	d, err := New(Config{}, Deps{Streams: &stream.Manager{}, Tables: &table.Manager{}})
	if err != nil {
		b.Fatal(err)
	}
	d.ingest(recs) // warm: every product tracked, the logs full
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.ingest(recs[i : i+64])
		if i += 64; i == n {
			i = 0
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*64), "ns/decision")
}
