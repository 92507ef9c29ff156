package item

import (
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
