package trigger_test

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/trigger"
)

// laneOf returns the lane of a key among n, as the runner picks it (FNV-1a).
func laneOf(key string, n int) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// laneKeys returns slow, a key of the same lane as slow, and n keys of
// the other lanes among lanes.
func laneKeys(t *testing.T, lanes, n int) (slow, same string, others []string) {
	t.Helper()
	slow = "k0"
	for i := 1; len(others) < n || same == ""; i++ {
		k := fmt.Sprintf("k%d", i)
		switch {
		case laneOf(k, lanes) == laneOf(slow, lanes):
			if same == "" {
				same = k
			}
		case len(others) < n:
			others = append(others, k)
		}
	}
	return slow, same, others
}

// blocker is a Go function that records what it is given, except that an
// invocation holding the record whose data is blockData waits until
// release is closed or the invocation's context ends (then it fails).
type blocker struct {
	rec       *recorder
	blockData string
	started   chan struct{} // closed when the blocked invocation begins
	release   chan struct{} // closed by unblock
	once      sync.Once
	unblocked sync.Once
}

// unblock lets the blocked invocation (and any later one) go on.
func (b *blocker) unblock() { b.unblocked.Do(func() { close(b.release) }) }

func newBlocker(blockData string) *blocker {
	return &blocker{rec: &recorder{}, blockData: blockData, started: make(chan struct{}), release: make(chan struct{})}
}

func (b *blocker) Invoke(ctx context.Context, bt *trigger.Batch) (trigger.Response, error) {
	for _, r := range bt.Records {
		if string(r.Data) == b.blockData {
			b.once.Do(func() { close(b.started) })
			select {
			case <-b.release:
			case <-ctx.Done():
				return trigger.Response{}, ctx.Err()
			}
		}
	}
	return b.rec.Invoke(ctx, bt)
}

// requireData checks that evs hold exactly the records numbered want (as
// dataN), each once, in order per key.
func requireData(t *testing.T, evs []event, want []int) {
	t.Helper()
	got := map[int]bool{}
	last := map[string]int{}
	for _, ev := range evs {
		var i int
		_, err := fmt.Sscanf(ev.Data, `{"i":%d}`, &i)
		require.NoError(t, err)
		require.False(t, got[i], "record %d delivered twice", i)
		got[i] = true
		if l, ok := last[ev.Key]; ok {
			require.Greater(t, i, l, "key %s out of order", ev.Key)
		}
		last[ev.Key] = i
	}
	require.Len(t, got, len(want))
	for _, i := range want {
		require.True(t, got[i], "record %d not delivered", i)
	}
}

// TestTriggerLanesIndependent: while one lane's invocation is blocked, the
// records of the other lanes are delivered; those behind it in its own
// lane wait; the checkpoint does not pass the blocked record; and a stop
// that leaves it undone makes the next process deliver it and what came
// after it, and nothing before it.
func TestTriggerLanesIndependent(t *testing.T) {
	const lanes = 4
	eng := enginetest.Start(t)
	cfg := testConfig
	cfg.DrainTimeout = 100 * time.Millisecond
	e := newEnvOn(t, eng, cfg)
	s := e.createStream("clicks", 1)
	slow, same, others := laneKeys(t, lanes, 6)
	fn := newBlocker(dataN(10))
	require.NoError(t, e.fns.Register("fn", fn))
	e.apply(fmt.Sprintf("name: lanes\nsource: stream:clicks\nfunction: go:fn\nbatch_size: 10\nparallelism: %d\n", lanes))

	// 0-9 in the other lanes, done and checkpointed.
	e.put(s, 10, 5, func(i int) string { return others[i%len(others)] }, dataN)
	fn.rec.waitCount(t, 10)
	var seq9 string
	for _, ev := range fn.rec.snapshot() {
		if ev.Data == dataN(9) {
			seq9 = ev.Seq
		}
	}
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "lanes")
		if err != nil {
			return err
		}
		if cp := st.Partitions[0].Checkpoint; cp == nil || cp.SequenceNumber != seq9 {
			return fmt.Errorf("checkpoint %+v, want %s", cp, seq9)
		}
		return nil
	})

	// 10 blocks its lane.
	e.put(s, 1, 1, func(int) string { return slow }, func(int) string { return dataN(10) })
	select {
	case <-fn.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation with record 10 did not start")
	}
	// 11-30 go to the other lanes, 31-32 behind 10 in its lane.
	e.put(s, 20, 4, func(i int) string { return others[i%len(others)] }, func(i int) string { return dataN(11 + i) })
	e.put(s, 2, 1, func(int) string { return same }, func(i int) string { return dataN(31 + i) })
	fn.rec.waitCount(t, 30)
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "lanes")
		if err != nil {
			return err
		}
		if p := st.Partitions[0]; p.Read != 33 || p.Processed != 30 {
			return fmt.Errorf("read %d processed %d", p.Read, p.Processed)
		}
		return nil
	})
	var want []int
	for i := range 31 {
		if i != 10 {
			want = append(want, i)
		}
	}
	requireData(t, fn.rec.snapshot(), want)
	st, err := e.m.Describe(context.Background(), "lanes")
	require.NoError(t, err)
	require.Equal(t, seq9, st.Partitions[0].Checkpoint.SequenceNumber, "the checkpoint stays before the record not done")

	// Stop without finishing 10: its invocation is cancelled after the
	// drain timeout, and the checkpoint committed is still 9.
	e.stop()
	e2 := newEnvOn(t, eng, cfg)
	st, err = e2.m.Describe(context.Background(), "lanes")
	require.NoError(t, err)
	require.NotNil(t, st.Partitions[0].Checkpoint)
	require.Equal(t, seq9, st.Partitions[0].Checkpoint.SequenceNumber, "committed checkpoint")

	// The next process delivers 10 and everything after it again (other
	// lanes had done 11-30: at-least-once), and nothing before it.
	rec2 := &recorder{}
	require.NoError(t, e2.fns.Register("fn", rec2))
	rec2.waitCount(t, 23)
	want = want[:0]
	for i := 10; i <= 32; i++ {
		want = append(want, i)
	}
	waitFor(t, 10*time.Second, func() error {
		st, err := e2.m.Describe(context.Background(), "lanes")
		if err != nil {
			return err
		}
		p := st.Partitions[0]
		if p.LagRecords != 0 || p.Read != 23 || p.Processed != 23 {
			return fmt.Errorf("lag %d read %d processed %d", p.LagRecords, p.Read, p.Processed)
		}
		return nil
	})
	requireData(t, rec2.snapshot(), want)
}

// TestTriggerLanesWindow checks the bound on how far the other lanes run
// ahead of a blocked one: the partition reads at most a window of records
// past the blocked record (plus the chunk being read), and delivers
// everything once the lane goes on.
func TestTriggerLanesWindow(t *testing.T) {
	const lanes, window = 2, 4096 // window: the runner's least window
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	slow, _, others := laneKeys(t, lanes, 3)
	fn := newBlocker(dataN(0))
	defer fn.unblock()
	require.NoError(t, e.fns.Register("fn", fn))
	e.put(s, 1, 1, func(int) string { return slow }, dataN)
	e.apply(fmt.Sprintf("name: win\nsource: stream:clicks\nfunction: go:fn\nbatch_size: 100\nparallelism: %d\nfunction_timeout: 1m\n", lanes))
	select {
	case <-fn.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation with record 0 did not start")
	}
	const n, per = 6000, 100
	e.put(s, n, per, func(i int) string { return others[i%len(others)] }, func(i int) string { return dataN(i + 1) })
	// The other lanes fill the window behind record 0, then the reader waits.
	waitFor(t, 20*time.Second, func() error {
		if c := fn.rec.count(); c < window-per {
			return fmt.Errorf("%d records delivered", c)
		}
		return nil
	})
	for range 50 {
		<-time.After(2 * time.Millisecond) // give the reader every chance to run ahead
		st, err := e.m.Describe(context.Background(), "win")
		require.NoError(t, err)
		p := st.Partitions[0]
		require.LessOrEqual(t, p.Read, int64(window+per), "records read while record 0 is not done")
		require.LessOrEqual(t, p.Processed, int64(window-1))
		require.Nil(t, p.Checkpoint)
	}
	fn.unblock()
	fn.rec.waitCount(t, n+1)
	want := make([]int, n+1)
	for i := range want {
		want[i] = i
	}
	requireData(t, fn.rec.snapshot(), want)
}

// TestTriggerLanesAccounting runs lanes whose invocations take varied
// times, with a filter and a poison record, and checks order per key and
// the accounting: read = processed + filtered + failed, in the status and
// in the metrics, with the checkpoint at the end of each partition.
func TestTriggerLanesAccounting(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 2)
	poison := `{"i":137,"skip":false}`
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		<-time.After(time.Duration(rand.IntN(500)) * time.Microsecond) // the function's work, of varied length
		for _, r := range recs {
			if string(r.Data) == poison {
				return trigger.Response{}, errors.New("poison")
			}
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	const n = 600
	data := func(i int) string { return fmt.Sprintf(`{"i":%d,"skip":%t}`, i, i%5 == 0) }
	e.apply("name: acc\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 8\nparallelism: 4\nbisect_batch_on_error: true\nmax_retry_attempts: 1\n" +
		"filters:\n  - pattern: {data: {skip: [false]}}\n")
	e.put(s, n, 7, keyN(13), data)
	waitFor(t, 30*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "acc")
		if err != nil {
			return err
		}
		var read, processed, filtered, failed int64
		for _, p := range st.Partitions {
			if p.LagRecords != 0 {
				return fmt.Errorf("partition %d lags %d records", p.Partition, p.LagRecords)
			}
			read, processed, filtered, failed = read+p.Read, processed+p.Processed, filtered+p.Filtered, failed+p.Failed
		}
		if read != n || processed != n-n/5-1 || filtered != n/5 || failed != 1 {
			return fmt.Errorf("read %d processed %d filtered %d failed %d", read, processed, filtered, failed)
		}
		return nil
	})
	requireCounter(t, e, "pricestream_trigger_records_processed_total", n-n/5-1)
	requireCounter(t, e, "pricestream_trigger_records_filtered_total", n/5)
	requireCounter(t, e, "pricestream_trigger_records_dropped_total", 1)
	last := map[string]int{}
	seen := map[int]bool{}
	for _, ev := range rec.snapshot() {
		var i int
		_, err := fmt.Sscanf(ev.Data, `{"i":%d`, &i)
		require.NoError(t, err)
		require.False(t, strings.Contains(ev.Data, `"skip":true`) || i == 137, "record %d", i)
		require.False(t, seen[i], "record %d delivered twice", i)
		seen[i] = true
		if l, ok := last[ev.Key]; ok {
			require.Greater(t, i, l, "key %s out of order", ev.Key)
		}
		last[ev.Key] = i
	}
	require.Len(t, seen, n-n/5-1)
}

// TestTriggerLanesLeaseLost checks that a process that loses a
// partition's lease stops it at once: the invocation in flight is
// cancelled without waiting for the drain timeout of a clean stop, since
// the new owner delivers the partition from its checkpoint meanwhile.
func TestTriggerLanesLeaseLost(t *testing.T) {
	eng := enginetest.Start(t)
	cfg := testConfig
	cfg.LeaseTTL = time.Second
	cfg.DrainTimeout = time.Minute
	e := newEnvOn(t, eng, cfg)
	s := e.createStream("clicks", 1)
	fn := newBlocker(dataN(0))
	defer fn.unblock()
	ended := make(chan error, 1)
	require.NoError(t, e.fns.Register("fn", trigger.FunctionOf(func(ctx context.Context, b *trigger.Batch) (trigger.Response, error) {
		resp, err := fn.Invoke(ctx, b)
		if err != nil {
			ended <- err
		}
		return resp, err
	})))
	e.put(s, 1, 1, keyN(1), dataN)
	e.apply("name: lost\nsource: stream:clicks\nfunction: go:fn\nparallelism: 2\nfunction_timeout: 5m\n")
	select {
	case <-fn.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the invocation did not start")
	}
	// Another process takes the lease over.
	ctx := context.Background()
	kv, err := eng.JetStream().KeyValue(ctx, eng.Name("kv", "trigger_leases"))
	require.NoError(t, err)
	_, err = kv.Put(ctx, "lost.0", fmt.Appendf(nil, `{"owner":"elsewhere","expires":%q}`, time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano)))
	require.NoError(t, err)
	select {
	case err := <-ended:
		require.ErrorIs(t, err, context.Canceled)
	case <-time.After(20 * time.Second):
		t.Fatal("the invocation in flight was not cancelled after the lease was lost")
	}
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(ctx, "lost")
		if err != nil {
			return err
		}
		if p := st.Partitions[0]; p.State != "standby" || p.Processed != 0 {
			return fmt.Errorf("state %s processed %d", p.State, p.Processed)
		}
		return nil
	})
}
