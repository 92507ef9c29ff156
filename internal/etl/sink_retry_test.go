package etl

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLSinkRetriesUnstoredWrites: rows whose writes the engine does not
// store for a while (the table's stream over a limit, as when its storage
// is full) are not dropped: the sink retries them, reports none as
// refused, and once the engine stores again every key's newest row is
// written and the barrier taken before is passed.
func TestETLSinkRetriesUnstoredWrites(t *testing.T) {
	eng := enginetest.Start(t)
	e := newTestEnv(t, eng)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tb := outTable(t, e)

	limit := func(maxBytes int64) { enginetest.LimitBytes(t, eng, eng.Name("table", "out"), maxBytes) }
	limit(1)

	s := newTableSink(tb, 4, 64, slog.New(slog.DiscardHandler))
	var refused []error
	s.onError = func(err error) { refused = append(refused, err) }
	var retried struct {
		sync.Mutex
		errs []error
	}
	s.onRetry = func(err error) { retried.Lock(); retried.errs = append(retried.errs, err); retried.Unlock() }
	defer runSink(t, s)()
	const keys, versions = 10, 3
	for v := range versions {
		for k := range keys {
			r := record.New(2)
			r.Append("k", record.StringValue(fmt.Sprintf("k%d", k)))
			r.Append("v", record.LongValue(int64(v)))
			require.NoError(t, s.emit(ctx, r, srcMeta{}, 0))
		}
	}
	ep := s.barrier()
	waitFor(t, 10*time.Second, func() error {
		retried.Lock()
		defer retried.Unlock()
		if len(retried.errs) == 0 {
			return errors.New("no write retried yet")
		}
		return nil
	})
	require.NotZero(t, s.pending(), "nothing written while the engine stores nothing")

	limit(-1)
	require.NoError(t, s.wait(ctx, ep))
	require.Zero(t, s.pending())
	require.Empty(t, refused)
	retried.Lock()
	require.ErrorIs(t, retried.errs[0], table.ErrUnavailable)
	require.ErrorContains(t, retried.errs[0], "engine could not store the write")
	retried.Unlock()
	for k := range keys {
		got, err := tb.Get(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("k%d", k))}, table.GetOptions{})
		require.NoError(t, err)
		require.NotNil(t, got, "k%d", k)
		require.Equal(t, fmt.Sprintf(`{"k":"k%d","v":%d}`, k, versions-1), string(got.AppendPlainJSON(nil)))
	}
}
