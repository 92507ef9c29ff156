package table

import (
	"context"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// BenchmarkTableCompactPass is the compactor's trimming pass over a table
// of 20,000 keys changed within the change retention (each written twice,
// as an orders table's expired items are: put, then deleted), with older
// history before them, so that nothing is due: pass=recent is the pass;
// pass=ask-each makes the request per key that a pass used to make for
// each of them (a purge below the cutoff, which finds nothing), the
// baseline. ns/key is per dirty key. pass=due measures the requests of a
// pass that has work: deleted items past the retention.
//
//	go test -run '^$' -bench TableCompactPass -count 6 ./internal/table/
func BenchmarkTableCompactPass(b *testing.B) {
	const keys = 20_000
	ctx := context.Background()
	_, m, tb := benchOrders(b, "")
	later := time.Now().Add(time.Hour).Unix()
	write := func(from, n int, del bool) {
		if del {
			benchWrite(b, tb, from, n, benchDelete(tb))
		} else {
			benchWrite(b, tb, from, n, benchPut(tb, later))
		}
	}
	write(keys, 1000, false) // older history: items that stay, never dirty
	cutoff := time.Now()
	for time.Now() == cutoff {
	}
	write(0, keys, false)
	write(0, keys, true)
	now := cutoff.Add(tb.retention)
	cutSeq, err := m.seqAtTime(ctx, tb, cutoff.UnixNano())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("pass=recent", func(b *testing.B) {
		for b.Loop() {
			if err := m.compact(ctx, tb, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys), "ns/key")
	})
	b.Run("pass=ask-each", func(b *testing.B) {
		subjects := make([]string, 0, keys)
		tb.ix.mu.RLock()
		for k := range tb.ix.mu.dirty {
			subjects = append(subjects, tb.subject([]byte(k)))
		}
		tb.ix.mu.RUnlock()
		if len(subjects) != keys {
			b.Fatalf("%d dirty keys", len(subjects))
		}
		for b.Loop() {
			for _, s := range subjects {
				if err := purgeSubject(ctx, m.nc, tb.jsName, s, cutSeq); err != nil {
					b.Fatal(err)
				}
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*keys), "ns/key")
	})
	if got := testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders")); got != 0 {
		b.Fatalf("the passes trimmed %v keys", got)
	}

	// pass=due: 5,000 deleted items past the retention, each removed with
	// its history by one request: the pass's requests 32 at once, or one
	// after another (inflight=1, as passes made them before).
	const due = 5_000
	round := 0
	// dueRound writes the deleted items and makes the pass over them
	// (pass measured between the writes and the check).
	dueRound := func(b *testing.B, pass func(now time.Time)) {
		b.StopTimer()
		write(2*keys, due, false)
		write(2*keys, due, true)
		write(3*keys+round, 1, false) // the stream's last message is not a tombstone
		round++
		before := testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders"))
		b.StartTimer()
		pass(time.Now().Add(2 * tb.retention))
		if got := testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders")) - before; got < due {
			b.Fatalf("trimmed %v keys", got)
		}
	}
	compact := func(now time.Time) {
		if err := m.compact(ctx, tb, now); err != nil {
			b.Fatal(err)
		}
	}
	dueRound(b, compact) // untimed: the engine's first loads of these blocks
	for _, inflight := range []int{32, 1} {
		b.Run(fmt.Sprintf("pass=due,inflight=%d", inflight), func(b *testing.B) {
			defer func(n int) { compactInFlight = n }(compactInFlight)
			compactInFlight = inflight
			for b.Loop() {
				dueRound(b, compact)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/key")
		})
	}
}

// BenchmarkTableOrderMemory measures what an orders-like table costs the
// process's live heap (its index and the embedded engine's state, with the
// item in one message each) per item, and per deleted item whose
// tombstone the change retention keeps: 100,000 orders as the simulated
// shop writes them, put, then deleted. B/item and B/tombstone are the live
// heap's growth, after a collection, divided by the items.
//
//	go test -run '^$' -bench TableOrderMemory -benchtime 1x -count 3 ./internal/table/
func BenchmarkTableOrderMemory(b *testing.B) {
	const items = 100_000
	for b.Loop() {
		e, m, tb := benchOrders(b, "expires_at")
		later := time.Now().Add(time.Hour).Unix()
		write := func(del bool) {
			if del {
				benchWrite(b, tb, 0, items, benchDelete(tb))
			} else {
				benchWrite(b, tb, 0, items, benchPut(tb, later))
			}
		}
		live := func() uint64 {
			runtime.GC()
			runtime.GC() // the engine's pooled block buffers go in two
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			return ms.HeapAlloc
		}
		before := live()
		write(false)
		withItems := live()
		write(true)
		withTombstones := live()
		b.ReportMetric(float64(withItems-before)/items, "B/item")
		b.ReportMetric((float64(withTombstones)-float64(before))/items, "B/tombstone")
		m.Close()
		e.Close()
	}
}

// BenchmarkTableCompactFloor is a compaction pass over an orders table
// whose orders all expire (each put, then deleted) and whose deletions are
// past the change retention, 5,000 orders a round: pass=floor removes
// them, puts and tombstones, in one request below the stream's floor;
// pass=each-key, the baseline, by their sequences, two requests an order,
// 32 at once (the passes before the floor). ns/order is per order.
//
//	go test -run '^$' -bench TableCompactFloor -count 6 ./internal/table/
func BenchmarkTableCompactFloor(b *testing.B) {
	const due = 5_000
	ctx := context.Background()
	_, m, tb := benchOrders(b, "")
	later := time.Now().Add(time.Hour).Unix()
	round := 0
	// dueRound writes a round of deleted orders, and after them the one
	// item that stays (the last round's deleted first), and makes the pass
	// over them.
	dueRound := func(b *testing.B) {
		b.StopTimer()
		if round > 0 {
			benchWrite(b, tb, 10_000_000+round-1, 1, benchDelete(tb))
		}
		from := round * due
		benchWrite(b, tb, from, due, benchPut(tb, later))
		benchWrite(b, tb, from, due, benchDelete(tb))
		benchWrite(b, tb, 10_000_000+round, 1, benchPut(tb, later))
		round++
		before := testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders"))
		b.StartTimer()
		if err := m.compact(ctx, tb, time.Now().Add(2*tb.retention)); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		if got := testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders")) - before; got < due {
			b.Fatalf("trimmed %v orders", got)
		}
		st, err := tb.StreamState(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if info, err := m.Describe(ctx, "orders"); err != nil || info.Messages > 3 {
			b.Fatalf("%v messages left (from %d), %v", info.Messages, st.FirstSeq, err)
		}
		b.StartTimer()
	}
	dueRound(b) // untimed: the engine's first loads of these blocks
	for _, floor := range []bool{true, false} {
		name := "pass=floor"
		if !floor {
			name = "pass=each-key"
		}
		b.Run(name, func(b *testing.B) {
			defer func(f bool) { compactFloor = f }(compactFloor)
			compactFloor = floor
			for b.Loop() {
				dueRound(b)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*due), "ns/order")
		})
	}
}
