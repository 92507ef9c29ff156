package record_test

import (
	"testing"

	gojson "github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/record"
)

// clickJSON is a click event of the Fast Sneakers stream: 9 fields (7
// strings, a double and a long), as in the measured reference.
const clickJSON = `{"event_id":"9f1c2a7e-4b3d-4c55-9a1e-2f6b8d0c3e71","event_type":"add_to_cart","product_id":"44600062","user_id":"541312140","session_id":"72d76fde-8bb3","event_time":"2019-10-01T00:00:00Z","referrer":"search","price":35.79,"quantity":2}`

// clickStruct is the click event as a Go struct, for the goccy/go-json baseline.
type clickStruct struct {
	EventID   string  `json:"event_id"`
	EventType string  `json:"event_type"`
	ProductID string  `json:"product_id"`
	UserID    string  `json:"user_id"`
	SessionID string  `json:"session_id"`
	EventTime string  `json:"event_time"`
	Referrer  string  `json:"referrer"`
	Price     float64 `json:"price"`
	Quantity  int64   `json:"quantity"`
}

func reportPerRecord(b *testing.B, n int, bytes int) {
	b.Helper()
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / float64(n)
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(1e9/ns, "records/s")
	b.SetBytes(int64(bytes))
}

func BenchmarkRecordJSONDecodeClick(b *testing.B) {
	data := []byte(clickJSON)
	dec := record.NewJSONDecoder(record.JSONOptions{})
	var r record.Record
	b.ReportAllocs()
	for b.Loop() {
		if err := dec.Decode(data, &r); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b, 1, len(data))
}

func BenchmarkRecordJSONDecodeClickGoccyStruct(b *testing.B) {
	data := []byte(clickJSON)
	var c clickStruct
	b.ReportAllocs()
	for b.Loop() {
		c = clickStruct{}
		if err := gojson.Unmarshal(data, &c); err != nil {
			b.Fatal(err)
		}
	}
	reportPerRecord(b, 1, len(data))
}
