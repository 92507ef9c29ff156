package table

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table/item"
)

// BenchmarkTableRestart measures restart to ready: opening a table after
// the engine restarts. The table is filled directly with item-version
// messages (PRICESTREAM_BENCH_ITEMS of them, default 100,000;
// docs/performance.md uses 1,000,000). Then, in the same run:
//
//   - rebuild-s: the first open, with no snapshot: the index is rebuilt
//     by reading the whole stream (engine start included);
//
//   - ready-s: the next restart, which loads the index snapshot the first
//     manager wrote when it closed (engine start included).
//
//     PRICESTREAM_BENCH_ITEMS=1000000 go test -run '^$' -bench TableRestart -benchtime 1x ./internal/table/
func BenchmarkTableRestart(b *testing.B) {
	n := 100_000
	if s := os.Getenv("PRICESTREAM_BENCH_ITEMS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil {
			b.Fatal(err)
		}
	}
	dir := b.TempDir()
	ctx := context.Background()
	fast := enginetest.WithFsync(engine.FsyncPolicy{Interval: time.Second})
	e := enginetest.Start(b, enginetest.WithDir(dir), fast)
	m, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}
	if _, err := m.Create(ctx, Spec{Name: "products", Key: ks}); err != nil {
		b.Fatal(err)
	}
	m.Close()
	js := e.JetStream()
	prefix := e.Subject("table", "products") + "."
	start := time.Now()
	for i := range n {
		it := item.Item{"product_id": item.StringValue(fmt.Sprintf("p%08d", i)), "name": item.StringValue("runner"),
			"price": item.NumberValue(item.MustParseNumber("129.99")), "inventory": item.IntValue(int64(i % 100)), "brand": item.StringValue("acme")}
		k, _ := ks.KeyOf(it)
		kb := k.AppendOrdered(nil)
		data, _ := it.AppendBinary(nil)
		v := version{op: opPut, time: time.Now().UnixNano(), key: kb, item: data}
		if _, err := js.PublishMsgAsync(&nats.Msg{Subject: prefix + keyToken(kb), Data: appendVersion(nil, &v)}); err != nil {
			b.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		b.Fatal("publish did not complete")
	}
	b.Logf("wrote %d items in %s", n, time.Since(start).Round(time.Millisecond))
	if err := e.Close(); err != nil {
		b.Fatal(err)
	}
	// open restarts the engine and opens the table; it returns the time
	// to ready and the engine start's share of it.
	open := func() (ready, engineUp time.Duration, snapshot time.Duration) {
		t0 := time.Now()
		e := enginetest.Start(b, enginetest.WithDir(dir), fast)
		engineUp = time.Since(t0)
		m, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
		if err != nil {
			b.Fatal(err)
		}
		tb, err := m.Open(ctx, "products")
		if err != nil {
			b.Fatal(err)
		}
		ready = time.Since(t0)
		if items, _ := tb.ix.size(); items != int64(n) {
			b.Fatalf("index has %d items, want %d", items, n)
		}
		t1 := time.Now()
		m.Close() // writes the snapshot when the index changed
		snapshot = time.Since(t1)
		e.Close()
		return ready, engineUp, snapshot
	}
	rebuild, _, write := open()
	b.Logf("rebuilt from the stream in %s; snapshot written at close in %s", rebuild.Round(time.Millisecond), write.Round(time.Millisecond))
	for b.Loop() {
		ready, engineUp, _ := open()
		b.ReportMetric(engineUp.Seconds(), "engine-start-s")
		b.ReportMetric(ready.Seconds(), "ready-s")
		b.ReportMetric(rebuild.Seconds(), "rebuild-s")
		b.ReportMetric(write.Seconds(), "snapshot-write-s")
	}
	_ = jetstream.DeliverAllPolicy
}
