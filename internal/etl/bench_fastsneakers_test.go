package etl

import (
	"context"
	"fmt"
	"runtime/pprof"
	"slices"
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
// sink=count,history=1h runs after an hour of events, one per product in
// each 100-second pane of it, as a job that has run for an hour has: the
// 5-minute and 1-hour aggregates then span 3 and 36 panes.
//
//	go test -run '^$' -bench ETLFastSneakers -count 6 ./internal/etl/
func BenchmarkETLFastSneakers(b *testing.B) {
	p := clickFeaturesPlan(b)
	const products = 10_000
	lookups := benchLookups(p, products)
	lookup := func(name string) *Lookup { return lookups[name] }
	// 20 s of events cycling over the catalog, built before the clock
	// starts: each product's events 1 s apart, users from a pool; their
	// members in the simulator's order (sim.Event.AppendJSON), which is
	// not the job schema's.
	types := []string{"view", "view", "view", "view", "view", "view", "click", "add_to_cart", "view", "purchase"}
	t0 := time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)
	events := make([][]byte, 200_000)
	for i := range events {
		at := t0.Add(time.Duration(i) * 100 * time.Microsecond)
		events[i] = fmt.Appendf(nil, `{"event_id":"e%d","event_type":"%s","product_id":"%d","user_id":"%d","session_id":"s%d","event_time":"%s","price":%.2f,"quantity":1,"referrer":"search","device":"mobile"}`,
			i, types[i%len(types)], 44600000+(i*7919)%products, 500000000+i%50_000, i%20_000, at.Format(time.RFC3339Nano), 35.79+float64(i%5))
	}
	// The hour before t0: each product's event in each of its 36 panes.
	var history [][]byte
	for k := range 36 {
		for i := range products {
			at := t0.Add(time.Duration(k-36)*100*time.Second + time.Duration(i)*time.Millisecond)
			history = append(history, fmt.Appendf(nil, `{"event_id":"h%d","event_time":"%s","event_type":"view","product_id":"%d","user_id":"%d","session_id":"s%d","price":35.79,"quantity":1,"referrer":"search","device":"mobile"}`,
				k*products+i, at.Format(time.RFC3339Nano), 44600000+i, 500000000+i, i))
		}
	}
	for _, c := range []struct{ sink, history string }{{"count", ""}, {"encode", ""}, {"count", "1h"}} {
		sink := c.sink
		name := "sink=" + sink
		if c.history != "" {
			name += ",history=" + c.history
		}
		b.Run(name, func(b *testing.B) {
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
			ctx := context.Background()
			// Warm every product's window first (after its hour, if any):
			// the steady state, not the first event of each key.
			// Its samples carry the label phase=warm in a CPU profile
			// (pprof -tagignore phase=warm leaves them out).
			warm := func() (win *windowOp, seq uint64) {
				pprof.Do(ctx, pprof.Labels("phase", "warm"), func(ctx context.Context) {
					win = newWindowOp(p.window, func(srcMeta) string { return "0" })
					feed := events[:products*3]
					if c.history != "" {
						feed = append(slices.Clip(history), feed...)
					}
					for _, e := range feed {
						seq++
						if o, re, err := pr.processData(ctx, win, e, srcMeta{seq: seq}); err != nil || o != outProcessed {
							b.Fatal(o, re, err)
						}
					}
				})
				return win, seq
			}
			win, seq := warm()
			b.ReportAllocs()
			n := products * 3
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
					win, seq = warm()
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
