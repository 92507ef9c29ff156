package infer_test

import (
	"testing"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/infer"
)

// BenchmarkInferREES46 classifies the REES46 export, decodes its 1,000
// rows and infers the schema: the crawler's work per file.
func BenchmarkInferREES46(b *testing.B) {
	data := rees46(b)
	b.ReportAllocs()
	for b.Loop() {
		res, err := infer.Bytes(data, infer.Options{})
		if err != nil || res.Records != 1000 {
			b.Fatal(err)
		}
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1000
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(1e9/ns, "records/s")
	b.SetBytes(int64(len(data)))
}

// BenchmarkInferJSONRecords feeds decoded JSON records to an Inferrer: the
// cost of inference alone, per record.
func BenchmarkInferJSONRecords(b *testing.B) {
	var r record.Record
	const click = `{"event_id":"9f1c2a7e","event_type":"add_to_cart","product_id":44600062,"user_id":541312140,"session_id":"72d76fde","event_time":"2019-10-01T00:00:00Z","referrer":"search","price":35.79,"quantity":2}`
	if err := record.NewJSONDecoder(record.JSONOptions{}).DecodeString(click, &r); err != nil {
		b.Fatal(err)
	}
	in := infer.NewInferrer(infer.InferrerOptions{})
	b.ReportAllocs()
	for b.Loop() {
		in.Add(&r)
	}
	ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(ns, "ns/record")
	b.ReportMetric(1e9/ns, "records/s")
	if in.Schema().Len() != 9 {
		b.Fatal(in.Schema())
	}
}
