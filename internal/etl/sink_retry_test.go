package etl

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// lockedBuffer is a log's destination read while the log is written.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

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

	var log lockedBuffer
	s := newTableSink(tb, 4, 64, slog.New(slog.NewTextHandler(&log, nil)))
	var refused []error
	s.onError = func(err error) { refused = append(refused, err) }
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
		if !strings.Contains(log.String(), "sink write failed; retrying") {
			return fmt.Errorf("no write retried yet; log: %q", log.String())
		}
		return nil
	})
	require.NotZero(t, s.pending(), "nothing written while the engine stores nothing")

	limit(-1)
	require.NoError(t, s.wait(ctx, ep))
	require.Zero(t, s.pending())
	require.Empty(t, refused)
	require.Contains(t, log.String(), "engine could not store the write")
	for k := range keys {
		got, err := tb.Get(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("k%d", k))}, table.GetOptions{})
		require.NoError(t, err)
		require.NotNil(t, got, "k%d", k)
		require.Equal(t, fmt.Sprintf(`{"k":"k%d","v":%d}`, k, versions-1), string(got.AppendPlainJSON(nil)))
	}
}
