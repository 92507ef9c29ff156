package table

import (
	"context"
	"errors"
	"testing"
	"time"

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
	e := enginetest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := New(Config{}, Deps{Engine: e})
	require.NoError(t, err)
	defer m.Close()
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	_, err = m.Create(ctx, Spec{Name: "locked", Key: ks})
	require.NoError(t, err)
	tb, err := m.Open(ctx, "locked")
	require.NoError(t, err)

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
