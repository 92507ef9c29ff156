package etl

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// BenchmarkETLFastSneakers measures CPU per event of the Fast Sneakers
// click-features job as examples/fastsneakers defines it (its 17
// aggregates, the sliding 5-minute and 1-hour counts, the distinct users,
// both lookup joins and the output map), not the smaller job of
// BenchmarkETLClickPipeline: events over 10,000 products whose event time
// advances 100 µs an event (10,000 events/s), each emitting its product's
// row. sink=count counts the rows; sink=encode also encodes each into the
// table's binary item form, as the job's table sink does before it writes.
//
//	go test -run '^$' -bench ETLFastSneakers -count 6 ./internal/etl/
func BenchmarkETLFastSneakers(b *testing.B) {
	p := clickFeaturesPlan(b)
	const products = 10_000
	lookups := benchLookups(p, products)
	lookup := func(name string) *Lookup { return lookups[name] }
	// 20 s of events cycling over the catalog, built before the clock
	// starts: each product's events 1 s apart, users from a pool.
	types := []string{"view", "view", "view", "view", "view", "view", "click", "add_to_cart", "view", "purchase"}
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	events := make([][]byte, 200_000)
	for i := range events {
		at := t0.Add(time.Duration(i) * 100 * time.Microsecond)
		events[i] = fmt.Appendf(nil, `{"event_id":"e%d","event_time":"%s","event_type":"%s","product_id":"%d","user_id":"%d","session_id":"s%d","price":%.2f,"quantity":1,"referrer":"search","device":"mobile"}`,
			i, at.Format(time.RFC3339Nano), types[i%len(types)], 44600000+(i*7919)%products, 500000000+i%50_000, i%20_000, 35.79+float64(i%5))
	}
	for _, sink := range []string{"count", "encode"} {
		b.Run("sink="+sink, func(b *testing.B) {
			rows := 0
			var enc binItemEncoder
			var buf []byte
			emit := func(_ context.Context, _ string, r *record.Record, _ srcMeta) error {
				rows++
				if sink == "encode" {
					buf = enc.appendItem(buf[:0], r)
				}
				return nil
			}
			pr := newProcessor(p, lookup, emit)
			win := newWindowOp(p.window, func(srcMeta) string { return "0" })
			ctx := context.Background()
			// Warm every product's window first: the steady state, not the
			// first event of each key.
			for i := range products * 3 {
				if _, _, err := pr.processData(ctx, win, events[i], srcMeta{seq: uint64(i + 1)}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			n, seq := products*3, uint64(products*3)
			cpu := cpuTime()
			for b.Loop() {
				seq++
				o, re, err := pr.processData(ctx, win, events[n], srcMeta{seq: seq})
				if err != nil || o != outProcessed {
					b.Fatal(o, re, err)
				}
				if n++; n == len(events) {
					// Past the last event: start again with new window
					// state (the same events again would be late for the
					// windows they left).
					b.StopTimer()
					paused := cpuTime()
					win = newWindowOp(p.window, func(srcMeta) string { return "0" })
					for i := range products * 3 {
						if _, _, err := pr.processData(ctx, win, events[i], srcMeta{seq: uint64(i + 1)}); err != nil {
							b.Fatal(err)
						}
					}
					n = products * 3
					cpu += cpuTime() - paused // the warm-up is not the events'
					b.StartTimer()
				}
			}
			b.ReportMetric(float64(cpuTime()-cpu)/float64(b.N), "cpu-ns/event")
			if rows == 0 {
				b.Fatal("no row emitted")
			}
		})
	}
}
