package etl

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// e2eJob is click-features' shape for the end-to-end benchmarks: clean,
// a lookup join, 100 s windows per product emitted on every event, into a
// table keyed by product. n is the producer's event number: a row whose
// last_n is L holds every event of its product up to L (a product's events
// are in one partition, in order).
const e2eJob = `
name: e2e
source:
  stream: clicks
  start: trim_horizon
  event_time: event_time
  partition_key: product_id
  schema:
    - {name: n, type: long}
    - {name: event_time, type: timestamp}
    - {name: event_type, type: string}
    - {name: product_id, type: string}
    - {name: user_id, type: string}
    - {name: price, type: double}
    - {name: device, type: string}
transforms:
  - assert: {expr: 'product_id != ""', reason: missing_product_id}
  - filter: 'device != "bot"'
joins:
  - table: products
    on: product_id
    fields: [{name: base_price, type: double}]
window:
  key: [product_id]
  aggregates:
    - {name: last_n, max: n}
    - {name: views, count_if: 'event_type == "view"'}
    - {name: purchases, count_if: 'event_type == "purchase"'}
    - {name: revenue, sum: 'event_type == "purchase" ? price : 0'}
    - {name: users, approx_distinct: user_id}
    - {name: base_price, last: base_price}
    - {name: views_1h, count_if: 'event_type == "view"', over: 1h}
sink: {table: features}
dead_letter: dlq
`

const e2eProducts = 500

// e2eEnv is a running job on a fresh engine, and a reader of its sink
// table's change stream that notes when each event's row is committed.
type e2eEnv struct {
	src  *stream.Stream
	m    *Manager
	mu   sync.Mutex
	sent []time.Time // by event number
	wait [][]int64   // by product: its events without a committed row, in order
	lat  []time.Duration
	left int // events not yet committed
	all  chan struct{}
}

func startE2E(b *testing.B, fsync engine.FsyncPolicy) *e2eEnv {
	b.Helper()
	te := newTestEnv(b, enginetest.Start(b, enginetest.WithFsync(fsync)))
	ctx := context.Background()
	_, err := te.streams.Create(ctx, stream.Spec{Name: "clicks", Partitions: 4})
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"features", "products"} {
		if _, err := te.tables.Create(ctx, table.Spec{Name: name, Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}}); err != nil {
			b.Fatal(err)
		}
	}
	products, err := te.tables.Open(ctx, "products")
	if err != nil {
		b.Fatal(err)
	}
	for p := range e2eProducts {
		if _, err := products.Put(ctx, item.Item{"product_id": item.StringValue(fmt.Sprint(p)), "base_price": item.IntValue(int64(20 + p%50))}, table.WriteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	e := &e2eEnv{wait: make([][]int64, e2eProducts), all: make(chan struct{})}
	if e.src, err = te.streams.Open(ctx, "clicks"); err != nil {
		b.Fatal(err)
	}
	features, err := te.tables.Open(ctx, "features")
	if err != nil {
		b.Fatal(err)
	}
	sub, err := features.Subscribe(ctx, table.Position{Kind: table.TrimHorizon})
	if err != nil {
		b.Fatal(err)
	}
	rctx, stopReader := context.WithCancel(ctx)
	var reader sync.WaitGroup
	reader.Go(func() {
		for {
			c, err := sub.Next(rctx)
			if err != nil {
				return
			}
			now := time.Now()
			p, _ := strconv.Atoi(c.New["product_id"].S())
			last, _ := c.New["last_n"].N().Int64()
			e.mu.Lock()
			q := e.wait[p]
			i := 0
			for i < len(q) && q[i] <= last {
				e.lat = append(e.lat, now.Sub(e.sent[q[i]]))
				i++
			}
			e.wait[p] = q[i:]
			if e.left -= i; e.left == 0 && i > 0 {
				close(e.all)
			}
			e.mu.Unlock()
		}
	})
	b.Cleanup(func() {
		stopReader()
		reader.Wait()
		sub.Stop()
	})
	// The default configuration (checkpoints every second), not the tests'
	// frequent checkpoints.
	m, err := New(Config{}, Deps{Engine: te.eng, Streams: te.streams, Tables: te.tables, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	mctx, stopManager := context.WithCancel(ctx)
	var run sync.WaitGroup
	run.Go(func() { _ = m.Run(mctx) })
	b.Cleanup(func() {
		stopManager()
		run.Wait()
	})
	spec, err := Decode([]byte(e2eJob))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.Apply(ctx, spec); err != nil {
		b.Fatal(err)
	}
	e.m = m
	return e
}

// send appends events [from, to) stamped with the wall clock.
func (e *e2eEnv) send(b *testing.B, from, to int) {
	entries := make([]stream.Entry, 0, to-from)
	now := time.Now()
	e.mu.Lock()
	for n := from; n < to; n++ {
		p := (n * 7919) % e2eProducts
		typ := "view"
		if n%10 == 3 {
			typ = "purchase"
		}
		entries = append(entries, stream.Entry{PartitionKey: fmt.Sprint(p), Data: fmt.Appendf(nil,
			`{"n":%d,"event_time":%q,"event_type":%q,"product_id":"%d","user_id":"u%d","price":%d.5,"device":"mobile"}`,
			n, now.UTC().Format(time.RFC3339Nano), typ, p, n%977, 10+n%90)})
		e.sent[n] = now
		e.wait[p] = append(e.wait[p], int64(n))
	}
	e.mu.Unlock()
	res, err := e.src.Append(context.Background(), entries)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			b.Fatal(r.Err)
		}
	}
}

// waitAll waits until every event's row is committed and reports the
// latencies.
func (e *e2eEnv) waitAll(b *testing.B) {
	select {
	case <-e.all:
	case <-time.After(5 * time.Minute):
		e.mu.Lock()
		left := e.left
		e.mu.Unlock()
		st, _ := e.m.Status(context.Background(), "e2e")
		b.Fatalf("%d events without a committed row after 5 minutes; job %+v", left, st)
	}
	if st, err := e.m.Status(context.Background(), "e2e"); err == nil {
		b.Logf("job: %d in, %d rows written, mean per stage %v", st.RecordsIn, st.RowsWritten, st.StageLatency)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	slices.Sort(e.lat)
	q := func(f float64) float64 { return float64(e.lat[int(f*float64(len(e.lat)-1))]) / 1e6 }
	b.ReportMetric(q(0.50), "p50-ms")
	b.ReportMetric(q(0.99), "p99-ms")
	b.ReportMetric(q(0.999), "p99.9-ms")
}

var e2eFsync = []struct {
	name   string
	policy engine.FsyncPolicy
}{
	{"fsync=always", engine.FsyncAlways},
	{"fsync=interval", engine.FsyncPolicy{Interval: 100 * time.Millisecond}},
}

// BenchmarkETLEndToEndLatency drives the real engine and job at a steady
// 10,000 events/s (an Append every millisecond, of the events due by
// then): b.N events, each timed from just before its Append call (so
// ingest and its fsync are included) until a row that holds it is
// committed to the sink table (seen on the table's change stream).
// Reports p50, p99 and p99.9 in milliseconds.
func BenchmarkETLEndToEndLatency(b *testing.B) {
	const rate = 10000
	for _, fs := range e2eFsync {
		b.Run(fs.name, func(b *testing.B) {
			e := startE2E(b, fs.policy)
			n := b.N
			e.sent, e.left = make([]time.Time, n), n
			tick := time.NewTicker(time.Millisecond)
			defer tick.Stop()
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			for sent := 0; sent < n; {
				<-tick.C
				due := min(n, int(time.Since(start).Seconds()*rate)+1)
				for sent < due {
					k := min(due, sent+stream.MaxPutRecords)
					e.send(b, sent, k)
					sent = k
				}
			}
			e.waitAll(b)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/event")
		})
	}
}

// BenchmarkETLEndToEndThroughput appends b.N events as fast as batches of
// 500 go, and measures until every event's row is committed: the events/s
// the job sustains on this machine (both cores shared by the engine, the
// producer and the job).
func BenchmarkETLEndToEndThroughput(b *testing.B) {
	for _, fs := range e2eFsync {
		b.Run(fs.name, func(b *testing.B) {
			e := startE2E(b, fs.policy)
			n := b.N
			e.sent, e.left = make([]time.Time, n), n
			b.ResetTimer()
			start, cpu := time.Now(), cpuTime()
			for sent := 0; sent < n; {
				k := min(n, sent+stream.MaxPutRecords)
				e.send(b, sent, k)
				sent = k
			}
			e.waitAll(b)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
			b.ReportMetric(float64(cpuTime()-cpu)/float64(n), "cpu-ns/event")
		})
	}
}
