package table

import (
	"testing"
	"time"

	"github.com/pricestream/pricestream/internal/table/item"
)

// BenchmarkDecodeChange is a change reader's own work per change of a
// pricing_features row (25 attributes), without the engine's delivery:
// the message, the keys and the new image (and the old one, for
// NEW_AND_OLD_IMAGES), whole or projected ([ImageAttrs]).
//
//	go test -run '^$' -bench DecodeChange -count 6 -benchmem ./internal/table/
func BenchmarkDecodeChange(b *testing.B) {
	row, err := item.ParseJSON([]byte(`{"product_id":"p-000123","window_start":1569888000000,"window_end":1569888100000,`+
		`"views":131,"clicks":17,"add_to_carts":4,"remove_from_carts":1,"purchases":2,"revenue":259.98,`+
		`"users":52,"price":119.99,"base_price":129.99,"inventory":420,"sales_units_1h":12,`+
		`"sales_revenue_1h":1439.88,"views_5m":25,"views_1h":1532,"first_event_time":"2019-10-01T00:00:00Z",`+
		`"last_event_time":"2019-10-01T00:01:12.345Z","conversion":0.0342,"trend":1.27,"price_ratio":0.92309,`+
		`"rate_now":0.83,"source_position":"clicks/3/1031","ingest_time":1569888072345}`), "")
	if err != nil {
		b.Fatal(err)
	}
	schema := item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}
	k, err := schema.KeyOf(row)
	if err != nil {
		b.Fatal(err)
	}
	bin, _ := row.MarshalBinary()
	// attrs=8: what the pricing function reads of a row when it records
	// the model's inputs and the dashboard's demand only.
	projections := []struct {
		name string
		proj projection
		n    int
	}{
		{"whole", projection{}, 25},
		{"8", projection{names: []string{"product_id", "last_event_time", "window_end", "ingest_time", "trend", "price_ratio", "views", "conversion"}}, 8},
	}
	for _, view := range []ViewType{ViewNewImage, ViewNewAndOldImgs} {
		for _, p := range projections {
			b.Run("view="+string(view)+"/attrs="+p.name, func(b *testing.B) {
				v := version{op: opPut, flags: flagExisted, time: time.Now().UnixNano(), key: k.AppendOrdered(nil), item: bin}
				if view.needsOld() {
					v.flags |= flagOld
					v.old = bin
				}
				msg := appendVersion(nil, &v)
				t := &Table{name: "features", schema: schema, view: view}
				b.ReportAllocs()
				for b.Loop() {
					c, err := t.decodeChange(7, msg, p.proj)
					if err != nil || len(c.New) != p.n {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
