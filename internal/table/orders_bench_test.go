package table

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table/item"
)

// The benchmarks of the compactor's passes run on an orders table, as
// Fast Sneakers' shop writes it.

// benchOrders starts an engine (fsync every 100 ms) and a manager, and
// opens a new table "orders" keyed by order_id, with ttlAttr as its Time
// to Live attribute. The manager and the engine close when b ends, or
// before by the caller.
func benchOrders(b *testing.B, ttlAttr string) (*engine.Engine, *Manager, *Table) {
	b.Helper()
	ctx := context.Background()
	e := enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
	m, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close() })
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "order_id", Type: item.S}}
	if _, err := m.Create(ctx, Spec{Name: "orders", Key: ks, TTLAttribute: ttlAttr}); err != nil {
		b.Fatal(err)
	}
	tb, err := m.Open(ctx, "orders")
	if err != nil {
		b.Fatal(err)
	}
	return e, m, tb
}

// benchOrderKey is the key of order i.
func benchOrderKey(i int) item.Value { return item.StringValue(fmt.Sprintf("o-%07d", i)) }

// benchOrder is order i as the simulated shop writes it, expiring at
// expires (seconds since the Unix epoch): its TTL attribute the third of
// its six names in order.
func benchOrder(i int, expires int64) item.Item {
	return item.Item{
		"order_id": benchOrderKey(i), "customer": item.StringValue("c-123456"),
		"status": item.StringValue("placed"), "created_at": item.StringValue("2026-11-27T03:00:00.000Z"),
		"items": item.ListValue([]item.Value{item.MapValue(map[string]item.Value{
			"product_id": item.StringValue("p-000123"), "quantity": item.IntValue(1), "unit_price": item.IntValue(120)})}),
		"expires_at": item.IntValue(expires),
	}
}

// benchWrite makes write(i) for i in [from, from+n) from 16 goroutines,
// and waits until tb's index holds the writes.
func benchWrite(b *testing.B, tb *Table, from, n int, write func(i int) error) {
	b.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := from + w; i < from+n; i += 16 {
				if err := write(i); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	if err := tb.ix.waitFor(context.Background(), tb.lastWrite.Load()); err != nil {
		b.Fatal(err)
	}
}

// benchPut and benchDelete are benchWrite's writes of orders: unchecked,
// without an fsync each.
func benchPut(tb *Table, expires int64) func(int) error {
	return func(i int) error {
		_, err := tb.Put(context.Background(), benchOrder(i, expires), WriteOptions{Unchecked: true, NoSync: true})
		return err
	}
}

func benchDelete(tb *Table) func(int) error {
	return func(i int) error {
		_, err := tb.Delete(context.Background(), item.Key{Partition: benchOrderKey(i)}, WriteOptions{Unchecked: true, NoSync: true})
		return err
	}
}
