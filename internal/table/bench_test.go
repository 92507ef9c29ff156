package table_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Benchmarks of the table hot paths, beside a raw JetStream KV put and get
// in the same run. Run with:
//
//	go test -run '^$' -bench 'Table|KV' -benchtime 3000x ./internal/table/
//
// Each reports p50 and p99 latency (µs) and ops/s; the engine fsyncs every
// message (the default) unless the name says interval.

// latencies collects per-operation times and reports percentiles.
type latencies []time.Duration

func (l latencies) report(b *testing.B) {
	if len(l) == 0 {
		return
	}
	slices.Sort(l)
	pct := func(p float64) float64 { return float64(l[int(p*float64(len(l)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	var sum time.Duration
	for _, d := range l {
		sum += d
	}
	b.ReportMetric(float64(len(l))/sum.Seconds(), "ops/s")
}

func benchEngines(b *testing.B, fn func(b *testing.B, e *engine.Engine)) {
	b.Run("fsync=always", func(b *testing.B) { fn(b, enginetest.Start(b)) })
	b.Run("fsync=interval", func(b *testing.B) {
		fn(b, enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond})))
	})
}

func benchTable(b *testing.B, e *engine.Engine, n int) *table.Table {
	m := newManager(b, e)
	tb := createTable(b, m, "bench", sortKey, table.ViewNewAndOldImgs)
	ctx := context.Background()
	for i := range n {
		if _, err := tb.Put(ctx, it(b, fmt.Sprintf(`{"pk":"p%d","sk":%d,"price":129.99,"name":"runner"}`, i%10, i)), table.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return tb
}

func BenchmarkTablePut(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *engine.Engine) {
		tb := benchTable(b, e, 0)
		ctx := context.Background()
		lat := make(latencies, 0, b.N)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			item := it(b, fmt.Sprintf(`{"pk":"p%d","sk":%d,"price":129.99,"name":"runner"}`, i%100, i))
			t0 := time.Now()
			if _, err := tb.Put(ctx, item, table.WriteOptions{}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			i++
		}
		lat.report(b)
	})
}

func BenchmarkTableUpdate(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *engine.Engine) {
		tb := benchTable(b, e, 100)
		ctx := context.Background()
		u := update(b, "SET price = price + :d ADD n :one", `{"d":0.01,"one":1}`)
		c := cond(b, "attribute_exists(pk)", "")
		lat := make(latencies, 0, b.N)
		i := 0
		b.ReportAllocs()
		for b.Loop() {
			k := key(b, tb, fmt.Sprintf(`{"pk":"p%d","sk":%d}`, i%10, i%100))
			t0 := time.Now()
			if _, err := tb.Update(ctx, k, u, table.WriteOptions{Condition: c}); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
			i++
		}
		lat.report(b)
	})
}

func BenchmarkTableGet(b *testing.B) {
	e := enginetest.Start(b)
	tb := benchTable(b, e, 1000)
	ctx := context.Background()
	keys := make([]item.Key, 1000)
	for i := range keys {
		keys[i] = key(b, tb, fmt.Sprintf(`{"pk":"p%d","sk":%d}`, i%10, i))
	}
	for _, consistent := range []bool{false, true} {
		b.Run(fmt.Sprintf("consistent=%t", consistent), func(b *testing.B) {
			lat := make(latencies, 0, b.N)
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				t0 := time.Now()
				got, err := tb.Get(ctx, keys[i%len(keys)], table.GetOptions{Consistent: consistent})
				if err != nil || got == nil {
					b.Fatal(err, got)
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			lat.report(b)
		})
	}
}

func BenchmarkTableQuery100(b *testing.B) {
	e := enginetest.Start(b)
	tb := benchTable(b, e, 1000) // 100 items per partition key
	ctx := context.Background()
	kc := keyCond(b, "pk = :p", `{"p":"p3"}`)
	lat := make(latencies, 0, b.N)
	b.ReportAllocs()
	for b.Loop() {
		t0 := time.Now()
		p, err := tb.Query(ctx, table.QueryInput{KeyCondition: kc})
		if err != nil || len(p.Items) != 100 {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(t0))
	}
	lat.report(b)
}

// BenchmarkTableChangeNotify measures write -> subscriber sees the change,
// one write at a time, with 1 and 4 subscriptions: served by the table
// index's in-process feed (path=feed, what Subscribe does) or each by an
// engine consumer of its own (path=engine, what it did before the feed).
// Latencies are per subscriber, from the call of Put (a subscriber often
// sees the change before Put has returned, so the time after it says
// little); write-p50-µs is Put's own. cpu-µs/op and allocs/op are the
// whole process's (the engine's too) per write.
func BenchmarkTableChangeNotify(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *engine.Engine) {
		for _, path := range []string{"engine", "feed"} {
			for _, readers := range []int{1, 4} {
				b.Run(fmt.Sprintf("path=%s/readers=%d", path, readers), func(b *testing.B) {
					benchNotify(b, e, path, readers)
				})
			}
		}
	})
}

func benchNotify(b *testing.B, e *engine.Engine, path string, readers int) {
	tb := createTable(b, newManager(b, e), fmt.Sprintf("notify-%s-%d-%d", path, readers, notifyTables.Add(1)), sortKey, table.ViewNewAndOldImgs)
	ctx := context.Background()
	type seen struct {
		seq uint64
		at  time.Time
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	arrivals := make([]chan seen, readers)
	for i := range arrivals {
		subscribe := tb.Subscribe
		if path == "engine" {
			subscribe = func(ctx context.Context, p table.Position, opts ...table.SubscribeOption) (*table.Subscription, error) {
				return table.SubscribeEngine(ctx, tb, p, opts...)
			}
		}
		sub, err := subscribe(ctx, table.Position{Kind: table.Latest})
		if err != nil {
			b.Fatal(err)
		}
		defer sub.Stop()
		arr := make(chan seen, 1)
		arrivals[i] = arr
		wg.Go(func() {
			for {
				c, err := sub.Next(ctx)
				if err != nil {
					return
				}
				arr <- seen{c.Seq, time.Now()}
			}
		})
	}
	lat := make(latencies, 0, b.N*readers)
	writes := make(latencies, 0, b.N)
	i := 0
	b.ReportAllocs()
	cpu := startCPU()
	for b.Loop() {
		t0 := time.Now()
		res, err := tb.Put(ctx, it(b, fmt.Sprintf(`{"pk":"p","sk":%d}`, i)), table.WriteOptions{})
		if err != nil {
			b.Fatal(err)
		}
		writes = append(writes, time.Since(t0))
		for _, arr := range arrivals {
			s := <-arr
			if s.seq != res.Seq {
				b.Fatalf("change %d, want %d", s.seq, res.Seq)
			}
			lat = append(lat, s.at.Sub(t0))
		}
		i++
	}
	cpu.report(b, b.N)
	lat.report(b)
	slices.Sort(writes)
	b.ReportMetric(float64(writes[len(writes)/2].Nanoseconds())/1e3, "write-p50-µs")
}

var notifyTables atomic.Int64

// BenchmarkKV is the raw JetStream key-value put and get the table sits on.
func BenchmarkKV(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *engine.Engine) {
		ctx := context.Background()
		kv, err := e.JetStream().CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: "bench", History: 1})
		if err != nil {
			b.Fatal(err)
		}
		val := []byte(`{"pk":"p1","sk":1,"price":129.99,"name":"runner"}`)
		b.Run("put", func(b *testing.B) {
			lat := make(latencies, 0, b.N)
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := kv.Put(ctx, fmt.Sprintf("k%d", i%1000), val); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			lat.report(b)
		})
		b.Run("get", func(b *testing.B) {
			lat := make(latencies, 0, b.N)
			i := 0
			for b.Loop() {
				t0 := time.Now()
				if _, err := kv.Get(ctx, fmt.Sprintf("k%d", i%1000)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
				i++
			}
			lat.report(b)
		})
	})
}

// BenchmarkTablePutParallel: 16 writers of distinct keys at once, as an
// ETL table sink writes. A write waits only for its own key's earlier
// writes to be indexed, so writers of different keys do not queue behind
// each other.
func BenchmarkTablePutParallel(b *testing.B) {
	benchEngines(b, func(b *testing.B, e *engine.Engine) {
		tb := benchTable(b, e, 0)
		ctx := context.Background()
		var n atomic.Int64
		b.SetParallelism(8) // 16 writers on 2 cores
		start := time.Now()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				i := n.Add(1)
				if _, err := tb.Put(ctx, it(b, fmt.Sprintf(`{"pk":"p%d","sk":%d,"price":129.99,"name":"runner"}`, i%1000, i)), table.WriteOptions{}); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(n.Load())/time.Since(start).Seconds(), "writes/s")
	})
}

// BenchmarkTableChangeNotifyRate writes at a steady rate from 8 writers
// over 1,000 keys, with 4 subscriptions (as the bench's tables have: the
// trigger, the lookup joins, the dashboard) served by the index's feed or
// each by an engine consumer of its own, and reports the time from a
// change's write (its stamped time, as
// pricestream_table_change_notify_seconds measures) to each subscriber
// seeing it, and the whole process's CPU per write.
//
//	go test -run '^$' -bench TableChangeNotifyRate -benchtime 20000x -count 4 ./internal/table/
func BenchmarkTableChangeNotifyRate(b *testing.B) {
	e := enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
	const rate, readers = 5000, 4
	for _, path := range []string{"engine", "feed"} {
		b.Run("path="+path, func(b *testing.B) {
			tb := createTable(b, newManager(b, e), fmt.Sprintf("rate-%s-%d", path, notifyTables.Add(1)), sortKey, table.ViewNewAndOldImgs)
			ctx := context.Background()
			var wg sync.WaitGroup
			lats := make([]latencies, readers)
			seen := make([]atomic.Uint64, readers)
			subs := make([]*table.Subscription, readers)
			for i := range readers {
				var err error
				if path == "engine" {
					subs[i], err = table.SubscribeEngine(ctx, tb, table.Position{Kind: table.Latest})
				} else {
					subs[i], err = tb.Subscribe(ctx, table.Position{Kind: table.Latest})
				}
				if err != nil {
					b.Fatal(err)
				}
				wg.Go(func() {
					for {
						cs, err := subs[i].NextBatch(ctx, 500)
						if err != nil {
							return
						}
						now := time.Now()
						for _, c := range cs {
							lats[i] = append(lats[i], now.Sub(c.Time))
						}
						seen[i].Store(cs[len(cs)-1].Seq)
					}
				})
			}
			tokens := make(chan int, 1024)
			var writers sync.WaitGroup
			for range 8 {
				writers.Go(func() {
					for i := range tokens {
						if _, err := tb.Put(ctx, it(b, fmt.Sprintf(`{"pk":"p%d","sk":%d,"n":%d}`, i%1000, i%7, i)), table.WriteOptions{}); err != nil {
							b.Error(err)
						}
					}
				})
			}
			b.ReportAllocs()
			cpu := startCPU()
			start := time.Now()
			n := 0
			for b.Loop() {
				if d := time.Until(start.Add(time.Duration(n) * time.Second / rate)); d > 0 {
					<-time.After(d) // pacing, not waiting for a condition
				}
				tokens <- n
				n++
			}
			close(tokens)
			writers.Wait()
			next, err := tb.Resolve(ctx, table.Position{Kind: table.Latest})
			if err != nil {
				b.Fatal(err)
			}
			// Let the readers read all that was written, then stop them.
			deadline := time.Now().Add(30 * time.Second)
			for i := range seen {
				for seen[i].Load() < next-1 {
					if time.Now().After(deadline) {
						b.Fatalf("reader %d: at %d of %d", i, seen[i].Load(), next-1)
					}
					<-time.After(time.Millisecond)
				}
			}
			b.StopTimer()
			cpu.report(b, n)
			for _, s := range subs {
				s.Stop()
			}
			wg.Wait()
			var all latencies
			for _, l := range lats {
				all = append(all, l...)
			}
			all.report(b)
			b.ReportMetric(table.Fallbacks(tb), "fallbacks")
		})
	}
}
