package stream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// openTestStream starts an engine and a manager with cfg, and creates and
// opens a stream of one partition; the manager closes with the test.
func openTestStream(t *testing.T, cfg Config, name string) (*Manager, *Stream) {
	t.Helper()
	ctx := context.Background()
	m, err := New(cfg, Deps{Engine: enginetest.Start(t)})
	require.NoError(t, err)
	t.Cleanup(func() { _ = m.Close() })
	_, err = m.Create(ctx, Spec{Name: name, Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, name)
	require.NoError(t, err)
	return m, s
}

// TestStreamAppendWritesItsOwnBatch: an Append that finds its partition's
// writer idle leaves no flusher goroutine to start: its Wait writes the
// batch itself (nothing is stored before), then, with another append's
// records queued meanwhile, hands them to a flusher goroutine, as it does
// when its ctx is done; a Submit (whose Wait may come much later) starts
// the flusher at once.
func TestStreamAppendWritesItsOwnBatch(t *testing.T) {
	ctx := context.Background()
	_, s := openTestStream(t, Config{}, "own")
	w := s.writers[0]
	stored := func() int {
		t.Helper()
		r, err := s.Read(ctx, 0, Position{}, ReadOptions{})
		require.NoError(t, err)
		return len(r.Records)
	}

	a, err := s.submit([]Entry{{PartitionKey: "k", Data: []byte("a")}}, false, true)
	require.NoError(t, err)
	require.Same(t, w, a.own, "the idle writer is the append's to run")
	// Another append's records queue behind it (the writer is in flight).
	b, err := s.submit([]Entry{{PartitionKey: "k", Data: []byte("b")}}, false, true)
	require.NoError(t, err)
	require.Nil(t, b.own)
	require.Zero(t, stored(), "nothing is written before the append's Wait")

	res, err := a.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, uint32(0), res[0].Position.Index)
	res, err = b.Wait(ctx) // written by the flusher a's Wait handed over to
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	require.Equal(t, 2, stored())
	w.mu.Lock()
	require.False(t, w.mu.inflight)
	w.mu.Unlock()

	// A Submit starts the flusher: its records are stored without Wait.
	c, err := s.Submit([]Entry{{PartitionKey: "k", Data: []byte("c")}})
	require.NoError(t, err)
	require.Nil(t, c.own)
	require.Eventually(t, func() bool { return stored() == 3 }, 10*time.Second, time.Millisecond)
	_, err = c.Wait(ctx)
	require.NoError(t, err)

	// An append whose ctx is done hands its batch to a flusher goroutine
	// and returns ctx's error; its records are stored all the same.
	d, err := s.submit([]Entry{{PartitionKey: "k", Data: []byte("d")}}, false, true)
	require.NoError(t, err)
	require.Same(t, w, d.own)
	done, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.Wait(done)
	require.ErrorIs(t, err, context.Canceled)
	require.Eventually(t, func() bool { return stored() == 4 }, 10*time.Second, time.Millisecond)
	res, err = d.Wait(ctx)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
}
