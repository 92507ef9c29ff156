package table_test

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
)

// BenchmarkTableChangeProjection reads a table's change stream of
// pricing_features rows (25 attributes) through a subscription, with whole
// images and with the images projected to 8 attributes ([table.ImageAttrs]):
// one op is a new subscription reading 1,000 stored changes from the engine
// (the path of a reader that starts behind, or of each subscription but the
// index's before the feed), and the per-change figures are that divided by
// 1,000: what the engine's delivery, the decode and the reader's buffering
// cost a change.
//
//	go test -run '^$' -bench TableChangeProjection -count 6 -benchmem ./internal/table/
func BenchmarkTableChangeProjection(b *testing.B) {
	e := enginetest.Start(b)
	tb := createTable(b, newManager(b, e), "features", hashKey, table.ViewNewImage)
	ctx := context.Background()
	const changes = 1000
	for i := range changes {
		row := fmt.Sprintf(`{"pk":"p-%06d","window_start":"2019-10-01T00:00:00Z","window_end":"2019-10-01T00:01:40Z",`+
			`"views":%d,"clicks":17,"add_to_carts":4,"remove_from_carts":1,"purchases":2,"revenue":259.98,`+
			`"users":52,"price":119.99,"base_price":129.99,"inventory":420,"sales_units_1h":12,`+
			`"sales_revenue_1h":1439.88,"views_5m":25,"views_1h":1532,"first_event_time":"2019-10-01T00:00:00Z",`+
			`"last_event_time":"2019-10-01T00:01:12.345Z","conversion":0.0342,"trend":1.27,"price_ratio":0.92309,`+
			`"view_rate":0.83,"source_position":"clicks/3/1031","ingest_time":"2019-10-01T00:01:12.345Z"}`, i%100, i)
		if _, err := tb.Put(ctx, it(b, row), table.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		opts  []table.SubscribeOption
		attrs int
	}{
		{"whole", nil, 25},
		{"8", []table.SubscribeOption{table.ImageAttrs("pk", "last_event_time", "window_end", "ingest_time", "trend", "price_ratio", "views", "view_rate")}, 8},
	} {
		b.Run("attrs="+tc.name, func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			ops := 0
			b.ReportAllocs()
			for b.Loop() {
				sub, err := tb.Subscribe(ctx, table.Position{Kind: table.TrimHorizon}, tc.opts...)
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < changes; {
					cs, err := sub.NextBatch(ctx, changes)
					if err != nil {
						b.Fatal(err)
					}
					for _, c := range cs {
						if len(c.New) != tc.attrs {
							b.Fatalf("%d attributes, want %d", len(c.New), tc.attrs)
						}
					}
					n += len(cs)
				}
				sub.Stop()
				ops++
			}
			runtime.ReadMemStats(&after)
			per := float64(ops * changes)
			b.ReportMetric(b.Elapsed().Seconds()*1e9/per, "ns/change")
			b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/per, "B/change")
			b.ReportMetric(float64(after.Mallocs-before.Mallocs)/per, "allocs/change")
		})
	}
}
