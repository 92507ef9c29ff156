package avro_test

import (
	"testing"
	"time"

	hamba "github.com/hamba/avro/v2"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
)

type clickAvro struct {
	EventID   string  `avro:"event_id"`
	EventType string  `avro:"event_type"`
	ProductID string  `avro:"product_id"`
	UserID    string  `avro:"user_id"`
	SessionID string  `avro:"session_id"`
	EventTime int64   `avro:"event_time"`
	Referrer  *string `avro:"referrer"`
	Price     float64 `avro:"price"`
	Quantity  int64   `avro:"quantity"`
}

func clickDatum(b *testing.B) (*avro.Codec, []byte) {
	c, err := avro.New(clickSchema)
	if err != nil {
		b.Fatal(err)
	}
	var r record.Record
	if err := record.NewJSONDecoder(record.JSONOptions{}).DecodeString(clickEvent, &r); err != nil {
		b.Fatal(err)
	}
	data, err := c.Append(nil, &r)
	if err != nil {
		b.Fatal(err)
	}
	return c, data
}

func report(b *testing.B, size int) {
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(1e9/ns, "records/s")
	b.SetBytes(int64(size))
}

func BenchmarkAvroDecodeClick(b *testing.B) {
	c, data := clickDatum(b)
	var r record.Record
	b.ReportAllocs()
	for b.Loop() {
		if err := c.Decode(data, &r); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(data))
}

// BenchmarkAvroDecodeClickHambaStruct is hamba/avro decoding the same datum
// into a Go struct, for comparison.
func BenchmarkAvroDecodeClickHambaStruct(b *testing.B) {
	_, data := clickDatum(b)
	schema := hamba.MustParse(clickSchema)
	var c clickAvro
	b.ReportAllocs()
	for b.Loop() {
		c = clickAvro{}
		if err := hamba.Unmarshal(schema, data, &c); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(data))
}

func BenchmarkAvroEncodeClick(b *testing.B) {
	c, data := clickDatum(b)
	var r record.Record
	if err := c.Decode(data, &r); err != nil {
		b.Fatal(err)
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if buf, err = c.Append(buf[:0], &r); err != nil {
			b.Fatal(err)
		}
	}
	report(b, len(data))
}

// BenchmarkAvroDecodeClickVsHamba alternates our decoder into a Record and
// hamba/avro into a struct in blocks, so both see the same machine load.
func BenchmarkAvroDecodeClickVsHamba(b *testing.B) {
	c, data := clickDatum(b)
	schema := hamba.MustParse(clickSchema)
	var r record.Record
	var s clickAvro
	var ta, tb time.Duration
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		for range 32 {
			if err := c.Decode(data, &r); err != nil {
				b.Fatal(err)
			}
		}
		t1 := time.Now()
		for range 32 {
			s = clickAvro{}
			if err := hamba.Unmarshal(schema, data, &s); err != nil {
				b.Fatal(err)
			}
		}
		ta += t1.Sub(t0)
		tb += time.Since(t1)
	}
	calls := float64(b.N) * 32
	b.ReportMetric(float64(ta.Nanoseconds())/calls, "ns/record-record")
	b.ReportMetric(float64(tb.Nanoseconds())/calls, "ns/record-hamba")
	b.ReportMetric(float64(ta)/float64(tb), "ratio")
}
