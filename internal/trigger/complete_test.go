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
