package item

import (
	"fmt"
	"testing"
)

// benchItemJSON is a 20-attribute products item in attribute-value JSON,
// the shape the pricing pipeline reads and writes.
const benchItemJSON = `{
 "product_id":{"S":"p-000123"},"name":{"S":"Air Runner 2"},"brand":{"S":"Fast Sneakers"},
 "category":{"S":"running"},"base_price":{"N":"129.99"},"price":{"N":"119.99"},
 "min_price":{"N":"89.99"},"max_price":{"N":"159.99"},"inventory":{"N":"420"},
 "price_revision":{"N":"17"},"on_sale":{"BOOL":true},"discontinued":{"BOOL":false},
 "tags":{"SS":["running","sale","summer"]},"sizes":{"NS":["40","41","42","43","44.5"]},
 "attributes":{"M":{"color":{"S":"red"},"weight_g":{"N":"280"},"material":{"S":"mesh"}}},
 "history":{"L":[{"N":"129.99"},{"N":"124.99"},{"N":"119.99"}]},
 "updated_at":{"S":"2019-10-01T00:00:00Z"},"views_1h":{"N":"1532"},
 "conversion":{"N":"0.0342"},"note":{"NULL":true}}`

func benchItem(b *testing.B) Item {
	it, err := ParseItem([]byte(benchItemJSON), "Item")
	if err != nil {
		b.Fatal(err)
	}
	if len(it) != 20 {
		b.Fatalf("bench item has %d attributes", len(it))
	}
	return it
}

func BenchmarkItemBinaryEncode(b *testing.B) {
	it := benchItem(b)
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = it.AppendBinary(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkItemBinaryDecode(b *testing.B) {
	enc, _ := benchItem(b).MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkItemBinaryDecodeAttrs reads the five guardrail attributes of
// the products item, beside the whole decode it replaces (whole=true).
func BenchmarkItemBinaryDecodeAttrs(b *testing.B) {
	data, err := benchItem(b).MarshalBinary()
	if err != nil {
		b.Fatal(err)
	}
	names := []string{"price", "min_price", "max_price", "base_price", "price_revision"}
	for _, whole := range []bool{false, true} {
		b.Run(fmt.Sprintf("whole=%v", whole), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var err error
				if whole {
					_, err = DecodeBinary(data)
				} else {
					_, err = DecodeBinaryAttrs(data, names)
				}
				if err != nil {
					b.Fatal(err)
				}
			}
			b.SetBytes(int64(len(data)))
		})
	}
}

func BenchmarkItemJSONDecode(b *testing.B) {
	data := []byte(benchItemJSON)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseItem(data, "Item"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkItemJSONEncode(b *testing.B) {
	it := benchItem(b)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = it.AppendJSON(buf[:0])
	}
	b.SetBytes(int64(len(buf)))
}

func BenchmarkNumberParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseNumber("129.99"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNumberAdd(b *testing.B) {
	x, y := MustParseNumber("129.99"), MustParseNumber("-10.5")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := x.Add(y); err != nil {
			b.Fatal(err)
		}
	}
}

// benchRowJSON is a pricing_features row: 25 attributes, numbers and a few
// strings, the item the pipeline writes and reads per event.
const benchRowJSON = `{"product_id":"p-000123","window_start":1569888000000,"window_end":1569888100000,` +
	`"views":131,"clicks":17,"add_to_carts":4,"remove_from_carts":1,"purchases":2,"revenue":259.98,` +
	`"users":52,"price":119.99,"base_price":129.99,"inventory":420,"sales_units_1h":12,` +
	`"sales_revenue_1h":1439.88,"views_5m":25,"views_1h":1532,"first_event_time":"2019-10-01T00:00:00Z",` +
	`"last_event_time":"2019-10-01T00:01:12.345Z","conversion":0.0342,"trend":1.27,"price_ratio":0.92309,` +
	`"rate_now":0.83,"source_position":"clicks/3/1031","ingest_time":1569888072345}`

func BenchmarkItemBinaryDecodeRow(b *testing.B) {
	it, err := ParseJSON([]byte(benchRowJSON), "")
	if err != nil || len(it) != 25 {
		b.Fatal(err, len(it))
	}
	enc, _ := it.MarshalBinary()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeBinary(enc); err != nil {
			b.Fatal(err)
		}
	}
}
