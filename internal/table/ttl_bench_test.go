package table

import (
	"context"
	"errors"
	"testing"
	"time"

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
	_, m, tb := benchOrders(b, "expires_at")
	benchWrite(b, tb, 0, items, benchPut(tb, time.Now().Add(time.Hour).Unix()))
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
	_, m, tb := benchOrders(b, "expires_at")
	fill := func() { benchWrite(b, tb, 0, items, benchPut(tb, time.Now().Add(-time.Minute).Unix())) }
	for _, pass := range []string{"async", "each-waited"} {
		b.Run("pass="+pass, func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				fill()
				b.StartTimer()
				var n int
				var err error
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
