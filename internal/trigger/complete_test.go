package trigger_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/trigger"
)

// completer is a Go function that records its batches and returns a
// completion for each; the completion of the batch holding holdData
// waits for release, and the first completion of the batch holding
// failData fails.
type completer struct {
	rec      *recorder
	holdData string
	failData string
	held     chan struct{} // closed when the held completion is called
	release  chan struct{}

	mu               sync.Mutex
	completed        []string // data of the records whose batch completed, in order
	failed           bool
	invokedWhileHeld int // invocations that began while the held completion waited
	holding          bool
}

func newCompleter() *completer {
	return &completer{rec: &recorder{}, held: make(chan struct{}), release: make(chan struct{})}
}

func (c *completer) Invoke(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
	if _, err := c.rec.Invoke(ctx, b); err != nil {
		return trigger.Response{}, err
	}
	var data []string
	for _, r := range b.Records {
		data = append(data, string(r.Data))
	}
	return trigger.Response{Complete: func(ctx context.Context) error {
		for _, d := range data {
			if d == c.holdData {
				close(c.held)
				select {
				case <-c.release:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			if d == c.failData {
				c.mu.Lock()
				first := !c.failed
				c.failed = true
				c.mu.Unlock()
				if first {
					return errors.New("records not stored")
				}
			}
		}
		c.mu.Lock()
		c.completed = append(c.completed, data...)
		c.mu.Unlock()
		return nil
	}}, nil
}

func (c *completer) done() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.completed...)
}

// A lane invokes its next batches while the last one waits to complete,
// and the checkpoint passes a batch only once its completion returned.
func TestTriggerCompleteOverlapsNextBatch(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	fn := newCompleter()
	fn.holdData = dataN(4)
	require.NoError(t, e.fns.Register("fn", fn))
	e.apply("name: overlap\nsource: stream:clicks\nfunction: go:fn\nbatch_size: 5\n")
	e.put(s, 5, 5, func(int) string { return "k" }, dataN)
	<-fn.held
	e.put(s, 5, 5, func(int) string { return "k" }, func(i int) string { return dataN(5 + i) })
	fn.rec.waitCount(t, 10) // 5-9 are invoked while 0-4 wait to complete
	require.Empty(t, fn.done(), "nothing completes before the held batch")
	st, err := e.m.Describe(context.Background(), "overlap")
	require.NoError(t, err)
	require.Nil(t, st.Partitions[0].Checkpoint, "the checkpoint does not pass a batch not complete")

	close(fn.release)
	last := fn.rec.snapshot()[9].Seq
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "overlap")
		if err != nil {
			return err
		}
		if cp := st.Partitions[0].Checkpoint; cp == nil || cp.SequenceNumber != last {
			return fmt.Errorf("checkpoint %+v, want %s", cp, last)
		}
		return nil
	})
	want := make([]string, 10)
	for i := range want {
		want[i] = dataN(i)
	}
	require.Equal(t, want, fn.done(), "batches complete in order, each once")
}

// A completion that fails makes the runner read the partition again from
// its checkpoint: the batch (and any later one not done) is delivered
// again, every record is done in the end, and the failure is counted.
func TestTriggerCompleteFailureRedelivers(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	fn := newCompleter()
	fn.failData = dataN(7)
	require.NoError(t, e.fns.Register("fn", fn))
	e.apply("name: redeliver\nsource: stream:clicks\nfunction: go:fn\nbatch_size: 5\n")

	e.put(s, 5, 5, func(int) string { return "k" }, dataN)
	waitFor(t, 10*time.Second, func() error {
		if completed := fn.done(); len(completed) < 5 {
			return fmt.Errorf("%d of 5 complete", len(completed))
		}
		return nil
	})
	e.put(s, 5, 5, func(int) string { return "k" }, func(i int) string { return dataN(5 + i) })
	waitFor(t, 10*time.Second, func() error {
		if completed := fn.done(); len(completed) < 10 {
			return fmt.Errorf("%d of 10 complete", len(completed))
		}
		return nil
	})
	completed := fn.done()
	want := make([]string, 10)
	for i := range want {
		want[i] = dataN(i)
	}
	require.Equal(t, want, completed, "each record completed once, in order")
	delivered := map[string]int{}
	for _, ev := range fn.rec.snapshot() {
		delivered[ev.Data]++
	}
	for i := range 5 {
		require.Equal(t, 1, delivered[dataN(i)], "record %d, completed before the failure, is not delivered again", i)
	}
	for i := 5; i < 10; i++ {
		require.Equal(t, 2, delivered[dataN(i)], "record %d, of the batch whose completion failed, is delivered again", i)
	}
	require.GreaterOrEqual(t, counterValue(t, e, "pricestream_trigger_errors_total"), 1.0)
	require.Equal(t, 1.0, counterValue(t, e, "pricestream_trigger_completion_failures_total"))
	require.Equal(t, 10.0, counterValue(t, e, "pricestream_trigger_records_processed_total"),
		"a record counts as processed once, when its batch completed")
}

// syncer is a Go function whose completions store without syncing: it
// counts the records completed and, at each Sync, how many were then.
type syncer struct {
	rec *recorder

	mu        sync.Mutex
	completed int  // records whose batch completed
	synced    int  // completed at the last Sync that succeeded
	syncs     int  // Syncs that succeeded
	failing   bool // Sync fails
	failures  int  // Syncs that failed
	invokes   int  // invocations
}

func (s *syncer) Invoke(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
	if _, err := s.rec.Invoke(ctx, b); err != nil {
		return trigger.Response{}, err
	}
	n := len(b.Records)
	s.mu.Lock()
	s.invokes++
	s.mu.Unlock()
	return trigger.Response{Complete: func(context.Context) error {
		s.mu.Lock()
		s.completed += n
		s.mu.Unlock()
		return nil
	}}, nil
}

func (s *syncer) Sync(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failing {
		s.failures++
		return errors.New("disk gone")
	}
	s.synced, s.syncs = s.completed, s.syncs+1
	return nil
}

func (s *syncer) state() (synced, syncs, failures, invokes int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced, s.syncs, s.failures, s.invokes
}

// A function that stores its outputs without syncing them (a Syncer) is
// synced before each checkpoint is committed: a checkpoint never passes
// more records than the last sync covered, syncs come at most once per
// commit, not once per batch, and while Sync fails the checkpoint stays.
func TestTriggerSyncsFunctionBeforeCheckpoint(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	fn := &syncer{rec: &recorder{}}
	require.NoError(t, e.fns.Register("fn", fn))
	e.apply("name: synced\nsource: stream:clicks\nfunction: go:fn\nbatch_size: 1\n")
	checkpointAt := func() int { // records the committed checkpoint passes
		cp, ok, err := e.m.CommittedCheckpoint(context.Background(), "synced", 0)
		require.NoError(t, err)
		if !ok {
			return 0
		}
		for i, ev := range fn.rec.snapshot() {
			if ev.Seq == cp.SequenceNumber {
				return i + 1
			}
		}
		t.Fatalf("checkpoint %s names no record delivered", cp.SequenceNumber)
		return 0
	}

	e.put(s, 40, 1, func(int) string { return "k" }, dataN)
	waitFor(t, 10*time.Second, func() error {
		if at := checkpointAt(); at != 40 {
			return fmt.Errorf("checkpoint passes %d records", at)
		}
		return nil
	})
	synced, syncs, _, invokes := fn.state()
	require.Equal(t, 40, synced, "the last sync covered every record the checkpoint passes")
	require.Positive(t, syncs)
	require.Less(t, syncs, invokes, "syncs coalesce with the commits")

	fn.mu.Lock()
	fn.failing = true
	fn.mu.Unlock()
	e.put(s, 10, 1, func(int) string { return "k" }, func(i int) string { return dataN(40 + i) })
	waitFor(t, 10*time.Second, func() error {
		if _, _, failures, _ := fn.state(); failures < 2 {
			return fmt.Errorf("%d failed syncs", failures)
		}
		return nil
	})
	require.Equal(t, 40, checkpointAt(), "no checkpoint past records not synced")

	fn.mu.Lock()
	fn.failing = false
	fn.mu.Unlock()
	waitFor(t, 10*time.Second, func() error {
		if at := checkpointAt(); at != 50 {
			return fmt.Errorf("checkpoint passes %d records", at)
		}
		return nil
	})
	synced, _, _, _ = fn.state()
	require.Equal(t, 50, synced)
}
