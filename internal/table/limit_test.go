package table_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table"
)

// TestTableWriteOverStreamLimit: a write the engine cannot store because
// the table's stream is over a limit (an operator's, or the engine's own
// storage) fails with ErrUnavailable, which writers retry, not as a
// refusal of the item; once the limit is raised the same write is stored,
// by Put, PutEncoded and PutEncodedAsync alike.
func TestTableWriteOverStreamLimit(t *testing.T) {
	eng := enginetest.Start(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	tb := createTable(t, newManager(t, eng), "limited", sortKey, table.ViewNewImage)
	_, err := tb.Put(ctx, it(t, `{"pk":"a","sk":1,"v":1}`), table.WriteOptions{})
	require.NoError(t, err)

	limit := func(maxBytes int64) { enginetest.LimitBytes(t, eng, eng.Name("table", "limited"), maxBytes) }
	limit(1)

	_, err = tb.Put(ctx, it(t, `{"pk":"a","sk":2,"v":1}`), table.WriteOptions{})
	require.ErrorIs(t, err, table.ErrUnavailable)
	require.NotErrorIs(t, err, table.ErrNotFound)
	bin, err := it(t, `{"pk":"a","sk":3,"v":1}`).MarshalBinary()
	require.NoError(t, err)
	_, err = tb.PutEncoded(ctx, bin, table.WriteOptions{NoSync: true, Unchecked: true})
	require.ErrorIs(t, err, table.ErrUnavailable)
	done := make(chan error, 1)
	tb.PutEncodedAsync(bin, func(_ uint64, err error) { done <- err })
	require.ErrorIs(t, <-done, table.ErrUnavailable)

	limit(-1)
	_, err = tb.Put(ctx, it(t, `{"pk":"a","sk":2,"v":1}`), table.WriteOptions{})
	require.NoError(t, err)
	tb.PutEncodedAsync(bin, func(_ uint64, err error) { done <- err })
	require.NoError(t, <-done)
	got, err := tb.Get(ctx, key(t, tb, `{"pk":"a","sk":3}`), table.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"pk":"a","sk":3,"v":1}`, plain(got))
}
