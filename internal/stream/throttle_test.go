package stream

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestStreamQueueBoundThrottles holds a partition's write "in flight" so
// that puts queue, and checks that a put beyond max_queued_bytes is refused
// at once with ErrThrottled (stored nowhere) while the queued one is stored
// once the writer runs again.
func TestStreamQueueBoundThrottles(t *testing.T) {
	ctx := context.Background()
	m, s := openTestStream(t, Config{MaxQueuedBytes: 1000}, "q")
	w := s.writers[0]
	w.mu.Lock()
	w.mu.inflight = true // as if a write were in flight
	w.mu.Unlock()

	first := make(chan []Result, 1)
	go func() {
		res, _ := s.Append(ctx, []Entry{{PartitionKey: "k", Data: make([]byte, 600)}})
		first <- res
	}()
	// Wait until the first put is queued.
	require.Eventually(t, func() bool { w.mu.Lock(); defer w.mu.Unlock(); return len(w.mu.queue) == 1 }, 10*time.Second, time.Millisecond)

	res, err := s.Append(ctx, []Entry{{PartitionKey: "k", Data: make([]byte, 600)}})
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, ErrThrottled)

	// The writer resumes: the queued put is stored, the refused one is not.
	m.mu.Lock()
	m.wg.Add(1)
	m.mu.Unlock()
	go w.run()
	got := <-first
	require.NoError(t, got[0].Err)
	r, err := s.Read(ctx, 0, Position{}, ReadOptions{})
	require.NoError(t, err)
	require.Len(t, r.Records, 1)
}
