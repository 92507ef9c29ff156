package web

import (
	"testing"
	"time"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/pricing"
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
