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

// BenchmarkTableTTLPass is the compactor's Time to Live pass over a table
// of 100,000 orders-like items none of which has expired: the read of
// every index entry's TTL attribute, what the pass costs each minute
// whatever expires. ns/item is per item read.
//
//	go test -run '^$' -bench TableTTLPass -count 6 ./internal/table/
func BenchmarkTableTTLPass(b *testing.B) {
	const items = 100_000
	ctx := context.Background()
	e := enginetest.Start(b, enginetest.WithFsync(engine.FsyncPolicy{Interval: 100 * time.Millisecond}))
	m, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "order_id", Type: item.S}}
	if _, err := m.Create(ctx, Spec{Name: "orders", Key: ks, TTLAttribute: "expires_at"}); err != nil {
		b.Fatal(err)
	}
	tb, err := m.Open(ctx, "orders")
	if err != nil {
		b.Fatal(err)
	}
	later := time.Now().Add(time.Hour).Unix()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := range 16 {
		wg.Go(func() {
			for i := w; i < items; i += 16 {
				// An order as the simulated shop writes it: the TTL
				// attribute third of its six names in order.
				o := item.Item{
					"order_id": item.StringValue(fmt.Sprintf("o-%07d", i)), "customer": item.StringValue("c-123456"),
					"status": item.StringValue("placed"), "created_at": item.StringValue("2026-11-27T03:00:00.000Z"),
					"items": item.ListValue([]item.Value{item.MapValue(map[string]item.Value{
						"product_id": item.StringValue("p-000123"), "quantity": item.IntValue(1), "unit_price": item.IntValue(120)})}),
					"expires_at": item.IntValue(later),
				}
				if _, err := tb.Put(ctx, o, WriteOptions{Unchecked: true, NoSync: true}); err != nil {
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
	if err := tb.ix.waitFor(ctx, tb.lastWrite.Load()); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		n, err := m.expire(ctx, tb, time.Now(), time.Now().Add(time.Minute))
		if err != nil || n != 0 {
			b.Fatalf("expired %d: %v", n, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
}
