package table

import (
	"fmt"
	"sync"
	"testing"

	"github.com/google/btree"

	"github.com/pricestream/pricestream/internal/table/item"
)

// BenchmarkIndexGet measures the index's point lookup (what every write
// does first) over 1,000 and 100,000 items, alone and beside an applier
// replacing entries as fast as it can (the index consumer of a table
// written at full speed).
//
//	go test -run '^$' -bench IndexGet -count 6 ./internal/table/
func BenchmarkIndexGet(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		for _, applier := range []bool{false, true} {
			b.Run(fmt.Sprintf("items=%d/applier=%t", n, applier), func(b *testing.B) {
				ix := newBenchIndex()
				keys := make([]string, n)
				for i := range keys {
					keys[i] = string(item.AppendOrdered(nil, item.StringValue(fmt.Sprintf("p-%06d", i*7919%n))))
					ix.put(&entry{key: keys[i], seq: uint64(i + 1), item: []byte{1, 0}})
				}
				stop := make(chan struct{})
				var wg sync.WaitGroup
				if applier {
					wg.Go(func() {
						for i := 0; ; i++ {
							select {
							case <-stop:
								return
							default:
							}
							e := &entry{key: keys[i%n], seq: uint64(n + i), item: []byte{1, 0}}
							ix.mu.Lock()
							ix.put(e)
							ix.mu.Unlock()
						}
					})
				}
				i := 0
				b.ReportAllocs()
				for b.Loop() {
					if ix.get(keys[(i*31)%n]) == nil {
						b.Fatal("missing")
					}
					i++
				}
				b.StopTimer()
				close(stop)
				wg.Wait()
			})
		}
	}
}

// BenchmarkIndexPut measures the applier's replacement of an entry (what
// every write costs the index once the engine delivers it) in tables of
// 10,000 and 100,000 items.
//
//	go test -run '^$' -bench IndexPut -count 6 ./internal/table/
func BenchmarkIndexPut(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			ix := newBenchIndex()
			keys := make([]string, n)
			for i := range keys {
				keys[i] = string(item.AppendOrdered(nil, item.StringValue(fmt.Sprintf("p-%06d", i*7919%n))))
				ix.put(&entry{key: keys[i], seq: uint64(i + 1), item: []byte{1, 0}})
			}
			i := 0
			b.ReportAllocs()
			for b.Loop() {
				e := &entry{key: keys[(i*31)%n], seq: uint64(n + i), item: []byte{1, 0}}
				ix.mu.Lock()
				ix.put(e)
				ix.mu.Unlock()
				i++
			}
		})
	}
}

// newBenchIndex returns an index without a table or an applier.
func newBenchIndex() *index {
	ix := &index{}
	ix.mu.tree = btree.NewG(32, slotLess)
	ix.mu.keys = map[string]*entry{}
	ix.mu.dirty = map[string]dirtyMark{}
	ix.mu.locked = map[string]struct{}{}
	return ix
}
