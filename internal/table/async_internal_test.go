package table

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table/item"
)

// whenApplied calls its functions once the index reaches their sequence,
// each once, on the applier's advance, and fails those left when the
// applier stops; a sequence already applied calls nothing.
func TestTableIndexWhenApplied(t *testing.T) {
	ix := &index{t: &Table{name: "w"}}
	ix.applied.Store(10)
	var got []uint64
	note := func(seq uint64) func(error) {
		return func(err error) {
			require.NoError(t, err)
			got = append(got, seq)
		}
	}
	require.False(t, ix.whenApplied(10, note(10)), "applied already")
	require.True(t, ix.whenApplied(12, note(12)))
	require.True(t, ix.whenApplied(11, note(11)))
	require.True(t, ix.whenApplied(15, note(15)))
	var stopped error
	require.True(t, ix.whenApplied(20, func(err error) { stopped = err }))
	ix.advance(11)
	require.Equal(t, []uint64{11}, got)
	ix.advance(13)
	require.Equal(t, []uint64{11, 12}, got)
	ix.advance(15)
	require.Equal(t, []uint64{11, 12, 15}, got)
	ix.stopWaits()
	require.ErrorIs(t, stopped, ErrClosed)
	var late error
	require.True(t, ix.whenApplied(30, func(err error) { late = err }), "after the stop")
	require.ErrorIs(t, late, ErrClosed)
}

// An item a transaction has locked is not written asynchronously: the
// error says so (ErrConflict), for the caller to write it with PutEncoded,
// which resolves the lock.
func TestTablePutEncodedAsyncLocked(t *testing.T) {
	ctx, m, tb := internalTable(t, "locked", ViewNone)

	it, err := item.ParseJSON([]byte(`{"pk":"a","v":1}`), "")
	require.NoError(t, err)
	res, err := tb.Put(ctx, it, WriteOptions{})
	require.NoError(t, err)
	bin, err := it.MarshalBinary()
	require.NoError(t, err)
	k, err := tb.schema.KeyOf(it)
	require.NoError(t, err)
	kb := k.AppendOrdered(nil)
	// A lock marker of a transaction that was never decided (its
	// coordinator died): the next writer resolves it.
	lock := version{op: opLock, time: time.Now().UnixNano(), key: kb, item: bin, txn: []byte("t-1"), finalOp: opPut, final: bin}
	seq, err := engine.PublishExpect(ctx, m.nc, tb.subject(kb), appendVersion(nil, &lock), res.Seq)
	require.NoError(t, err)
	require.NoError(t, tb.ix.waitFor(ctx, seq))

	next, err := item.ParseJSON([]byte(`{"pk":"a","v":2}`), "")
	require.NoError(t, err)
	nb, err := next.MarshalBinary()
	require.NoError(t, err)
	errc := make(chan error, 1)
	tb.PutEncodedAsync(nb, func(_ uint64, err error) { errc <- err })
	err = <-errc
	require.ErrorIs(t, err, ErrConflict)
	require.True(t, errors.Is(err, ErrConflict) && !errors.Is(err, ErrUnavailable))
}

// The index applies this process's asynchronous writes from their
// acknowledgements: by the time a write's done is called the index holds
// it (the consumer's delivery comes after, and is skipped), and the
// table's subscriptions get every change once, in order, the writes of
// another path between them included.
func TestTableIndexAppliesOwnWrites(t *testing.T) {
	ctx, _, tb := internalTable(t, "own", ViewNewImage)
	live, err := tb.Subscribe(ctx, Position{Kind: Latest})
	require.NoError(t, err)
	defer live.Stop()

	var want []uint64
	for i := range 60 {
		it, err := item.ParseJSON(fmt.Appendf(nil, `{"pk":"k%d","v":%d}`, i%7, i), "")
		require.NoError(t, err)
		if i%10 == 5 {
			res, err := tb.Put(ctx, it, WriteOptions{}) // another path: the consumer applies it
			require.NoError(t, err)
			want = append(want, res.Seq)
			// Until it has, the next writes are left to the consumer too
			// (a message not yet delivered lies before them).
			require.NoError(t, tb.ix.waitFor(ctx, res.Seq))
			continue
		}
		bin, err := it.MarshalBinary()
		require.NoError(t, err)
		type result struct {
			seq, applied uint64
			err          error
		}
		ch := make(chan result, 1)
		tb.PutEncodedAsync(bin, func(seq uint64, err error) { ch <- result{seq, tb.ix.applied.Load(), err} })
		r := <-ch
		require.NoError(t, r.err)
		require.GreaterOrEqual(t, r.applied, r.seq, "write %d: the index holds it when done is called", i)
		want = append(want, r.seq)
	}
	own := tb.ix.ownApplied.Load()
	require.NotZero(t, own)
	// Operators see it as a counter per table.
	wantMetric := fmt.Sprintf(`# HELP pricestream_table_index_own_applied_total Asynchronous writes of this process a table's index applied from their acknowledgements, ahead of its consumer's delivery.
# TYPE pricestream_table_index_own_applied_total counter
pricestream_table_index_own_applied_total{table="own"} %d
`, own)
	require.NoError(t, testutil.CollectAndCompare(&indexCollector{m: tb.m}, strings.NewReader(wantMetric), "pricestream_table_index_own_applied_total"))
	var got []uint64
	for len(got) < len(want) {
		c, err := live.Next(ctx)
		require.NoError(t, err)
		got = append(got, c.Seq)
	}
	require.Equal(t, want, got, "every change once, in order")
	cctx, ccancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer ccancel()
	_, err = live.Next(cctx)
	require.ErrorIs(t, err, context.DeadlineExceeded, "no change twice")
}

// internalTable creates and opens a table keyed by the string pk on an
// engine and manager of its own, closed with the test, and returns them
// with a context ending with the test.
func internalTable(t *testing.T, name string, view ViewType) (context.Context, *Manager, *Table) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	m, err := New(Config{}, Deps{Engine: enginetest.Start(t)})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	_, err = m.Create(ctx, Spec{Name: name, Key: ks, StreamView: view})
	require.NoError(t, err)
	tb, err := m.Open(ctx, name)
	require.NoError(t, err)
	return ctx, m, tb
}
