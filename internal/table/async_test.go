package table_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestTablePutEncodedAsync holds PutEncodedAsync to PutEncoded: what it
// stores is read back, the same item again stores nothing (also when
// written at once after the write before it, before the index has caught
// up), a key's writes made one after another's done land in order, and an
// item the table refuses is refused at once with PutEncoded's error.
func TestTablePutEncodedAsync(t *testing.T) {
	ctx, tb, live, bin := encodedTable(t, "async")
	type result struct {
		seq uint64
		err error
	}
	put := func(data []byte) result {
		ch := make(chan result, 1)
		tb.PutEncodedAsync(data, func(seq uint64, err error) { ch <- result{seq, err} })
		select {
		case r := <-ch:
			return r
		case <-ctx.Done():
			t.Fatal("done not called")
			return result{}
		}
	}

	r := put(bin(`{"pk":"a","sk":1,"v":1}`))
	require.NoError(t, r.err)
	require.NotZero(t, r.seq)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"a","sk":1}`), table.GetOptions{})
	require.NoError(t, err, "read your writes")
	require.Equal(t, `{"pk":"a","sk":1,"v":1}`, plain(got))
	r = put(bin(`{"pk":"a","sk":1,"v":1}`))
	require.NoError(t, r.err)
	require.Zero(t, r.seq, "the same item again stores nothing")

	// Written again from the first write's done, before the index has
	// applied it: compared with what that write stored.
	again := make(chan result, 1)
	v2 := bin(`{"pk":"a","sk":1,"v":2}`)
	tb.PutEncodedAsync(v2, func(seq uint64, err error) {
		if err != nil {
			again <- result{0, err}
			return
		}
		tb.PutEncodedAsync(v2, func(seq uint64, err error) { again <- result{seq, err} })
	})
	r = <-again
	require.NoError(t, r.err)
	require.Zero(t, r.seq, "the item its write before stored, again, stores nothing")

	// Keys written in parallel, each key's versions one after another.
	const keys, versions = 40, 5
	var wg sync.WaitGroup
	errs := make(chan error, keys)
	for k := range keys {
		wg.Add(1)
		var next func(v int)
		next = func(v int) {
			if v > versions {
				wg.Done()
				return
			}
			tb.PutEncodedAsync(bin(fmt.Sprintf(`{"pk":"k%d","sk":%d,"v":%d}`, k, k, v)), func(seq uint64, err error) {
				if err == nil && seq == 0 {
					err = fmt.Errorf("key %d version %d: nothing stored", k, v)
				}
				if err != nil {
					errs <- err
					wg.Done()
					return
				}
				next(v + 1)
			})
		}
		next(1)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	for k := range keys {
		got, err := tb.Get(ctx, key(t, tb, fmt.Sprintf(`{"pk":"k%d","sk":%d}`, k, k)), table.GetOptions{})
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf(`{"pk":"k%d","sk":%d,"v":%d}`, k, k, versions), plain(got))
	}
	// The change stream: a's two versions, then each key's versions in order.
	want := map[string][]string{`{"pk":"a","sk":1}`: {`{"pk":"a","sk":1,"v":1}`, `{"pk":"a","sk":1,"v":2}`}}
	for k := range keys {
		kj := fmt.Sprintf(`{"pk":"k%d","sk":%d}`, k, k)
		for v := 1; v <= versions; v++ {
			want[kj] = append(want[kj], fmt.Sprintf(`{"pk":"k%d","sk":%d,"v":%d}`, k, k, v))
		}
	}
	for i := 0; i < 2+keys*versions; i++ {
		c, err := live.Next(ctx)
		require.NoError(t, err)
		kj := plain(c.Keys)
		require.NotEmpty(t, want[kj], "change %d of %s", i, kj)
		require.Equal(t, want[kj][0], plain(c.New), "%s's versions in order", kj)
		want[kj] = want[kj][1:]
	}

	// What PutEncoded refuses, PutEncodedAsync refuses before it returns.
	for _, bad := range []item.Item{it(t, `{"pk":"a","v":1}`), it(t, `{"pk":1,"sk":1}`)} {
		data, err := bad.MarshalBinary()
		require.NoError(t, err)
		_, perr := tb.PutEncoded(ctx, data, table.WriteOptions{})
		require.Error(t, perr)
		var called bool
		tb.PutEncodedAsync(data, func(seq uint64, err error) {
			called = true
			require.EqualError(t, err, perr.Error())
		})
		require.True(t, called, "a refused item's done is called before PutEncodedAsync returns")
	}
}

// A write waiting for the index when the manager closes is failed, not
// forgotten; a write after Close fails.
func TestTablePutEncodedAsyncClose(t *testing.T) {
	e := enginetest.Start(t)
	m, err := table.New(table.Config{}, table.Deps{Engine: e})
	require.NoError(t, err)
	tb := createTable(t, m, "async_close", sortKey, table.ViewNone)
	b, err := it(t, `{"pk":"a","sk":1}`).MarshalBinary()
	require.NoError(t, err)
	var mu sync.Mutex
	var results []error
	done := func(_ uint64, err error) {
		mu.Lock()
		defer mu.Unlock()
		results = append(results, err)
	}
	for range 20 {
		tb.PutEncodedAsync(b, done)
	}
	require.NoError(t, m.Close())
	polltest.Until(t, 10*time.Second, func() error {
		mu.Lock()
		defer mu.Unlock()
		if len(results) != 20 {
			return fmt.Errorf("%d of 20 writes done", len(results))
		}
		return nil
	})
	b2, err := it(t, `{"pk":"b","sk":1}`).MarshalBinary()
	require.NoError(t, err)
	tb.PutEncodedAsync(b2, done)
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, results, 21)
	require.Error(t, results[20], "a write after Close")
}
