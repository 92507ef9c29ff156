package etl

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/pricestream/pricestream/internal/record"
)

// BenchmarkETLWindowStateSize measures the window state click-features
// keeps per product after an hour of event time: live heap per key after a
// GC (B/product) and the encoded full state (encoded-B/product). The rate
// is the memory floor's, 10,000 events/s over 100,000 products (0.1 event
// per product per second), and the earlier measurement's 1 event per
// product per second. Run it with
//
//	go test -run '^$' -bench BenchmarkETLWindowStateSize -benchtime 1x ./internal/etl/
func BenchmarkETLWindowStateSize(b *testing.B) {
	p := clickFeaturesPlan(b)
	for _, c := range []struct {
		name     string
		products int
		every    time.Duration // event time between a product's events
	}{
		{"rate=0.1/s", 1000, 10 * time.Second},
		{"rate=1/s", 100, time.Second},
	} {
		b.Run(c.name, func(b *testing.B) {
			var heap, encoded float64
			for b.Loop() {
				heap, encoded = windowStateSize(b, p, c.products, c.every)
			}
			b.ReportMetric(heap, "B/product")
			b.ReportMetric(encoded, "encoded-B/product")
		})
	}
}

// windowStateSize feeds products × an hour and 100 s of events, each
// product's every `every` of event time, through a window operator, and
// returns its live heap and encoded size per product.
func windowStateSize(b *testing.B, p *Plan, products int, every time.Duration) (heap, encoded float64) {
	b.Helper()
	ctx := context.Background()
	lookups := benchLookups(p, products)
	pr := newProcessor(p, func(name string) *Lookup { return lookups[name] }, func(context.Context, string, *record.Record, srcMeta) error { return nil })
	rng := rand.New(rand.NewPCG(1, 2))
	types := []string{"view", "view", "view", "view", "view", "view", "click", "add_to_cart", "purchase", "remove_from_cart"}
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	before := ms.HeapAlloc
	win := newWindowOp(p.window, func(srcMeta) string { return "0" })
	base := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
	step := every / time.Duration(products) // event time between events
	seq := uint64(0)
	for at := time.Duration(0); at < time.Hour+100*time.Second; at += step {
		k := int(seq % uint64(products))
		seq++
		jitter := time.Duration(rng.IntN(2000)) * time.Millisecond // a little disorder
		ev := fmt.Appendf(nil, `{"event_id":"e%d","event_time":%q,"event_type":%q,"product_id":"%d","user_id":"%d","session_id":"s%d","price":%d.5,"quantity":1,"referrer":"search","device":"mobile"}`,
			seq, base.Add(at-jitter).Format(time.RFC3339Nano), types[rng.IntN(len(types))], 44600000+k, rng.IntN(1_000_000), rng.IntN(1000), 20+rng.IntN(100))
		o, re, err := pr.processData(ctx, win, ev, srcMeta{seq: seq, arrival: base.Add(at).UnixNano()})
		if err != nil || o != outProcessed {
			b.Fatal(o, re, err)
		}
	}
	if len(win.keys) != products {
		b.Fatalf("%d keys, want %d", len(win.keys), products)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms)
	heap = float64(int64(ms.HeapAlloc)-int64(before)) / float64(products)
	encoded = float64(len(win.encodeState(nil))) / float64(products)
	runtime.KeepAlive(win)
	return heap, encoded
}

// BenchmarkETLCheckpointCapture measures what a checkpoint's capture of
// the window state costs the partition's worker, for click-features with
// 2,500 products (a partition's share of 10,000) of which 1,000 changed
// since the last checkpoint: taken at once (the copy the records wait for
// whole), or copy-on-write (the marking, then slices of copyIdle keys
// between records). stall-us is the longest the worker is held up at a
// time (the median over checkpoints); copy-us/checkpoint the worker's
// whole copying time.
func BenchmarkETLCheckpointCapture(b *testing.B) {
	p := clickFeaturesPlan(b)
	const products, changed = 2500, 1000
	for _, c := range []struct {
		name string
		full bool
		cow  bool
	}{
		{"state=delta/capture=at-once", false, false},
		{"state=delta/capture=copy-on-write", false, true},
		{"state=full/capture=at-once", true, false},
		{"state=full/capture=copy-on-write", true, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			ctx := context.Background()
			lookups := benchLookups(p, products)
			pr := newProcessor(p, func(name string) *Lookup { return lookups[name] }, func(context.Context, string, *record.Record, srcMeta) error { return nil })
			win := newWindowOp(p.window, func(srcMeta) string { return "0" })
			base := time.Date(2019, 10, 1, 0, 0, 0, 0, time.UTC)
			seq := uint64(0)
			feed := func(keys int) {
				for k := range keys {
					seq++
					ev := fmt.Appendf(nil, `{"event_id":"e%d","event_time":%q,"event_type":"view","product_id":"%d","user_id":"%d","session_id":"s","price":20.5,"quantity":1,"referrer":"search","device":"mobile"}`,
						seq, base.Add(time.Duration(seq)*time.Millisecond).Format(time.RFC3339Nano), 44600000+k, seq%1000)
					if _, _, err := pr.processData(ctx, win, ev, srcMeta{seq: seq, arrival: 1}); err != nil {
						b.Fatal(err)
					}
				}
			}
			for range 20 { // panes for a while of event time
				feed(products)
			}
			win.captureFull()
			var stalls []time.Duration // per checkpoint, the longest hold
			var stall, total time.Duration
			for b.Loop() {
				if stall > 0 {
					stalls = append(stalls, stall)
				}
				stall = 0
				feed(changed)
				t0 := time.Now()
				if !c.cow {
					if c.full {
						win.captureFull()
					} else {
						win.captureDelta()
					}
					d := time.Since(t0)
					stall, total = max(stall, d), total+d
					continue
				}
				win.beginCapture(c.full)
				d := time.Since(t0)
				stall, total = max(stall, d), total+d
				for done := false; !done; {
					t1 := time.Now()
					done = win.captureStep(copyIdle)
					d := time.Since(t1)
					stall, total = max(stall, d), total+d
				}
				t1 := time.Now()
				win.finishCapture()
				d = time.Since(t1)
				stall, total = max(stall, d), total+d
			}
			stalls = append(stalls, stall)
			slices.Sort(stalls)
			b.ReportMetric(float64(stalls[len(stalls)/2].Microseconds()), "stall-us")
			b.ReportMetric(float64(total.Microseconds())/float64(b.N), "copy-us/checkpoint")
		})
	}
}

// benchLookups returns the click-features joins' tables, loaded with
// products rows.
func benchLookups(p *Plan, products int) map[string]*Lookup {
	lookups := map[string]*Lookup{}
	for i := range p.spec.Joins {
		l := newLookup(&p.spec.Joins[i], p.joinTypes[i])
		for k := range products {
			r := record.New(3)
			switch l.name {
			case "products":
				r.Append("base_price", record.DoubleValue(40))
				r.Append("price", record.DoubleValue(42.5))
				r.Append("inventory", record.LongValue(int64(10+k%50)))
			default:
				r.Append("units_1h", record.DoubleValue(float64(k%7)))
				r.Append("revenue_1h", record.DoubleValue(float64(k%7)*42.5))
			}
			l.mu.rows.set(fmt.Sprint(44600000+k), r)
		}
		lookups[l.name] = l
	}
	return lookups
}

// clickFeaturesPlan compiles the Fast Sneakers click-features job.
func clickFeaturesPlan(b *testing.B) *Plan {
	b.Helper()
	spec, err := os.ReadFile("../../examples/fastsneakers/click-features.yaml")
	if err != nil {
		b.Fatal(err)
	}
	s, err := Decode(spec)
	if err != nil {
		b.Fatal(err)
	}
	p, err := Compile(context.Background(), s, nil)
	if err != nil {
		b.Fatal(err)
	}
	return p
}
