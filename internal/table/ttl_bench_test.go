package table

import (
	"context"
	"errors"
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

// BenchmarkTableTTLDelete is the deletion of 20,000 expired orders-like
// items by a Time to Live pass: pass=async is the pass, its deletions
// asynchronous and conditional on the version seen expired;
// pass=each-waited deletes them as the pass used to, each a conditional
// write waiting for the engine before the next (the baseline). ns/item is
// per item deleted; items/s the rate, which must exceed the rate at which
// a table's items expire for the table not to grow (the bench's shop
// places about 900 orders a second).
//
//	go test -run '^$' -bench TableTTLDelete -benchtime 3x -count 3 ./internal/table/
func BenchmarkTableTTLDelete(b *testing.B) {
	const items = 20_000
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
	past := time.Now().Add(-time.Minute).Unix()
	fill := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 16 {
			wg.Go(func() {
				for i := w; i < items; i += 16 {
					o := item.Item{"order_id": item.StringValue(fmt.Sprintf("o-%07d", i)), "status": item.StringValue("placed"), "expires_at": item.IntValue(past)}
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
	}
	for _, pass := range []string{"async", "each-waited"} {
		b.Run("pass="+pass, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				fill()
				b.StartTimer()
				var n int
				if pass == "async" {
					n, err = m.expire(ctx, tb, time.Now(), time.Now().Add(time.Hour))
				} else {
					n, err = expireEachWaited(ctx, tb, "expires_at", time.Now())
				}
				if err != nil || n != items {
					b.Fatalf("deleted %d: %v", n, err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*items), "ns/item")
			b.ReportMetric(float64(b.N*items)/b.Elapsed().Seconds(), "items/s")
		})
	}
}

// expireEachWaited deletes t's expired items as the expiry pass did before
// its deletions were asynchronous: one conditional write at a time, each
// waiting for the engine. BenchmarkTableTTLDelete's baseline.
func expireEachWaited(ctx context.Context, t *Table, attr string, now time.Time) (int, error) {
	var due []string
	t.ix.ascend("", "", func(e *entry) bool {
		if e.lock == nil && expiredAt(e.item, attr, now) {
			due = append(due, e.key)
		}
		return true
	})
	deleted := 0
	for _, k := range due {
		res, err := t.write(ctx, []byte(k), opDeleteItem, false, WriteOptions{expired: true, NoSync: true}, nil, func(cur item.Item) (item.Item, bool, error) {
			if cur == nil || !ttlPassed(cur[attr], now) {
				return nil, false, errors.New("not expired")
			}
			return nil, true, nil
		})
		if err != nil {
			return deleted, err
		}
		if res.Written {
			deleted++
		}
	}
	return deleted, nil
}
