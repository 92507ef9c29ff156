package etl

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/pricestream/pricestream/internal/cputime"
	"github.com/pricestream/pricestream/internal/record"
)

// cpuTime returns the CPU time (user and system) the process has used: on
// a machine shared with other work, CPU per event is what a benchmark can
// still measure when wall time is inflated by waiting for a core.
var cpuTime = cputime.Process

var benchEvent = []byte(`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","event_type":"view","product_id":"44600062","user_id":"541312140","session_id":"72d76fde-8bb3-4e00-8c23-a032dfed738c","price":35.79,"quantity":1,"referrer":"search","device":"mobile"}`)

// BenchmarkETLClickPipeline measures CPU per event of decode + clean +
// join + window (click-features' shape, every-event emission to a sink that
// only counts), beside the bare typed JSON decode (with the copy of its
// input, and in place as the pipeline decodes) in the same run, on one
// core and on every core (events/s). cpu-ns/event is the process's CPU
// time per event, which stays meaningful when other work shares the
// machine and wall time per event does not.
func BenchmarkETLClickPipeline(b *testing.B) {
	spec, err := Decode([]byte(`
name: bench
source:
  stream: clicks
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: event_id, type: string}
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: user_id, type: string}
    - {name: session_id, type: string}
    - {name: price, type: double}
    - {name: quantity, type: long}
    - {name: referrer, type: string}
    - {name: device, type: string}
transforms:
  - assert: {expr: 'product_id != ""', reason: missing_product_id}
  - filter: 'device != "bot" && referrer != "bot"'
  - map:
      - {field: event_type, expr: 'event_type == "cart" ? "add_to_cart" : event_type'}
      - {field: quantity, expr: 'quantity > 0 ? quantity : 1'}
joins:
  - table: products
    on: product_id
    fields: [{name: base_price, type: double}, {name: inventory, type: long}]
window:
  key: [product_id]
  aggregates:
    - {name: views, count_if: 'event_type == "view"'}
    - {name: add_to_carts, count_if: 'event_type == "add_to_cart"'}
    - {name: purchases, count_if: 'event_type == "purchase"'}
    - {name: revenue, sum: 'event_type == "purchase" ? price * quantity : 0'}
    - {name: price, last: price}
    - {name: base_price, last: base_price}
    - {name: views_1h, count_if: 'event_type == "view"', over: 1h}
sink: {table: f}
dead_letter: d
`))
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(context.Background(), spec, nil)
	if err != nil {
		b.Fatal(err)
	}
	l := newLookup(&p.spec.Joins[0], p.joinTypes[0])
	for i := range 1000 {
		r := record.New(2)
		r.Append("base_price", record.DoubleValue(40))
		r.Append("inventory", record.LongValue(10))
		l.mu.rows.set(fmt.Sprint(44600000+i), r)
	}
	rows := 0
	pr := newProcessor(p, func(string) *Lookup { return l }, func(context.Context, string, *record.Record, srcMeta) error { rows++; return nil })
	win := newWindowOp(p.window, func(srcMeta) string { return "0" })
	ctx := context.Background()
	b.Run("decode-only", func(b *testing.B) {
		var r record.Record
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if err := p.decoder.Decode(benchEvent, &r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
	})
	// The decode the pipeline does: in place, the record's strings in
	// the event's bytes (decode-only copies them first).
	b.Run("decode-in-place", func(b *testing.B) {
		var r record.Record
		b.ReportAllocs()
		cpu := cpuTime()
		for b.Loop() {
			if err := p.inPlace.DecodeInPlace(benchEvent, &r); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
	})
	b.Run("pipeline", func(b *testing.B) {
		b.ReportAllocs()
		seq := uint64(0)
		cpu := cpuTime()
		for b.Loop() {
			seq++
			o, re, err := pr.processData(ctx, win, benchEvent, srcMeta{seq: seq})
			if err != nil || o != outProcessed {
				b.Fatal(o, re, err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/event")
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
	// On every core (GOMAXPROCS): one worker per core, each with its own
	// processor and window state as a job's partition workers have, sharing
	// the lookup table.
	b.Run("pipeline-parallel", func(b *testing.B) {
		b.ReportAllocs()
		var seqs atomic.Uint64
		cpu := cpuTime()
		b.RunParallel(func(pb *testing.PB) {
			pr := newProcessor(p, func(string) *Lookup { return l }, func(context.Context, string, *record.Record, srcMeta) error { return nil })
			win := newWindowOp(p.window, func(srcMeta) string { return "0" })
			base := seqs.Add(1) << 40
			for seq := base; pb.Next(); seq++ {
				o, re, err := pr.processData(ctx, win, benchEvent, srcMeta{seq: seq})
				if err != nil || o != outProcessed {
					b.Fatal(o, re, err)
				}
			}
		})
		b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	})
}
