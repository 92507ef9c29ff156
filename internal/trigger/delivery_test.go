package trigger_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/trigger"
)

func keyN(n int) func(i int) string { return func(i int) string { return fmt.Sprintf("k%d", i%n) } }

// requireInOrder checks that every key's records arrived exactly once and
// in the order they were put.
func requireInOrder(t *testing.T, evs []event, n, keys int) {
	t.Helper()
	require.Len(t, evs, n)
	got := byKey(evs)
	for k := range keys {
		var want []string
		for i := k; i < n; i += keys {
			want = append(want, dataN(i))
		}
		require.Equal(t, want, got[fmt.Sprintf("k%d", k)], "key k%d", k)
	}
}

func TestTriggerDelivery(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 3)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 100, 10, keyN(7), dataN) // before the trigger: trim_horizon reads them
	e.apply("name: t1\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 16\n")
	e.put(s, 300, 25, func(i int) string { return keyN(7)(i + 100) }, func(i int) string { return dataN(i + 100) })
	rec.waitCount(t, 400)
	requireInOrder(t, rec.snapshot(), 400, 7)
	for _, ev := range rec.snapshot() {
		require.NotEmpty(t, ev.Seq)
	}

	// Checkpoints reach the end of each partition; lag is zero.
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "t1")
		if err != nil {
			return err
		}
		for _, p := range st.Partitions {
			if p.Checkpoint == nil || p.LagRecords != 0 {
				return fmt.Errorf("partition %d: checkpoint %v lag %d", p.Partition, p.Checkpoint, p.LagRecords)
			}
		}
		return nil
	})
	st, err := e.m.Describe(context.Background(), "t1")
	require.NoError(t, err)
	require.Equal(t, "running", st.State)
	var processed int64
	for _, p := range st.Partitions {
		processed += p.Processed
		require.Equal(t, "running", p.State)
	}
	require.EqualValues(t, 400, processed)
}

// TestTriggerParallelism checks that with parallelism above 1 a partition
// runs invocations concurrently and still keeps each key's order.
func TestTriggerParallelism(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	var inflight, peak atomic.Int32
	rec := &recorder{fail: func(int, []*trigger.Record) (trigger.Response, error) {
		n := inflight.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		// Hold the invocation until a sibling lane joins, or briefly.
		deadline := time.Now().Add(20 * time.Millisecond)
		for peak.Load() < 2 && time.Now().Before(deadline) {
			<-time.After(100 * time.Microsecond)
		}
		inflight.Add(-1)
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 1000, 100, keyN(20), dataN)
	e.apply("name: par\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 100\nparallelism: 4\n")
	rec.waitCount(t, 1000)
	requireInOrder(t, rec.snapshot(), 1000, 20)
	require.GreaterOrEqual(t, peak.Load(), int32(2), "lanes ran concurrently")
}

func TestTriggerRetries(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{fail: func(call int, _ []*trigger.Record) (trigger.Response, error) {
		if call <= 2 {
			return trigger.Response{}, errors.New("transient")
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 50, 50, keyN(5), dataN)
	e.apply("name: retry\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 100\nmax_retry_attempts: 2\n")
	rec.waitCount(t, 50)
	requireInOrder(t, rec.snapshot(), 50, 5)
	require.Equal(t, 3, rec.snapshot()[0].Batch, "two failures, then success")
	requireCounter(t, e, "pricestream_trigger_retries_total", 2)
	requireCounter(t, e, "pricestream_trigger_errors_total", 2)
}

// TestTriggerRetriesExhausted checks that a batch that keeps failing goes
// to the destination after max_retry_attempts and the partition moves on.
func TestTriggerRetriesExhausted(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 1)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		if strings.Contains(string(recs[0].Data), `"i":0}`) {
			return trigger.Response{}, errors.New("cannot price it")
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 5, 5, keyN(1), dataN)
	e.apply("name: ex\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 5\nmax_retry_attempts: 2\ndestination: dlq\n")
	e.put(s, 5, 5, keyN(1), func(i int) string { return dataN(i + 5) })
	rec.waitCount(t, 5)
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 5 {
			return fmt.Errorf("%d records in the destination", n)
		}
		return nil
	})
	evs := rec.snapshot()
	require.Equal(t, []string{dataN(5), dataN(6), dataN(7), dataN(8), dataN(9)}, byKey(evs)["k0"])
	for i, fr := range failedRecords(t, dlq) {
		require.Equal(t, trigger.ConditionRetriesExhausted, fr.Condition)
		require.Equal(t, 3, fr.Attempts)
		require.Equal(t, "cannot price it", fr.Error)
		require.Contains(t, string(fr.Record), fmt.Sprintf(`"sequenceNumber":"%s"`, fr.SequenceNumber))
		require.Equal(t, "k0", fr.Key)
		_ = i
	}
}

// TestTriggerBisect isolates one poison record: the destination gets
// exactly it, with the error, and every other record is processed once,
// in order.
func TestTriggerBisect(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 2)
	poison := dataN(37)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		for _, r := range recs {
			if string(r.Data) == poison {
				return trigger.Response{}, fmt.Errorf("poison record %s", r.SequenceNumber)
			}
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 100, 100, keyN(3), dataN)
	e.apply("name: bis\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 100\nbisect_batch_on_error: true\nmax_retry_attempts: 2\ndestination: stream:dlq\n")
	rec.waitCount(t, 99)
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 1 {
			return fmt.Errorf("%d records in the destination", n)
		}
		return nil
	})
	evs := rec.snapshot()
	require.Len(t, evs, 99)
	got := byKey(evs)
	for k := range 3 {
		var want []string
		for i := k; i < 100; i += 3 {
			if i != 37 {
				want = append(want, dataN(i))
			}
		}
		require.Equal(t, want, got[fmt.Sprintf("k%d", k)])
	}
	frs := failedRecords(t, dlq)
	require.Len(t, frs, 1)
	fr := frs[0]
	require.Equal(t, "bis", fr.Trigger)
	require.Equal(t, "stream:clicks", fr.Source)
	require.Equal(t, 0, fr.Partition)
	require.Equal(t, "k1", fr.Key)
	require.Equal(t, 3, fr.Attempts)
	require.Equal(t, "poison record "+fr.SequenceNumber, fr.Error)
	require.Equal(t, trigger.ConditionRetriesExhausted, fr.Condition)
	require.False(t, fr.FailedAt.Before(fr.Arrival))
	require.JSONEq(t, fmt.Sprintf(`{
		"kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "k1", "sequenceNumber": %q,
			"data": "eyJpIjozN30=", "approximateArrivalTimestamp": %s},
		"eventSource": "aws:kinesis", "eventVersion": "1.0", "eventID": "shardId-000000000000:%s",
		"eventName": "aws:kinesis:record", "invokeIdentityArn": "arn:aws:iam::000000000000:role/pricestream",
		"awsRegion": "us-east-1", "eventSourceARN": "arn:aws:kinesis:us-east-1:000000000000:stream/clicks"}`,
		fr.SequenceNumber, fmt.Sprintf("%d.%03d", fr.Arrival.UnixMilli()/1000, fr.Arrival.UnixMilli()%1000), fr.SequenceNumber), string(fr.Record))
	requireCounter(t, e, "pricestream_trigger_records_destination_total", 1)
}

// TestTriggerPartialBatch checks partial-batch responses: the runner
// retries from the lowest failed record, and a record that keeps failing
// goes to the destination while the rest are processed.
func TestTriggerPartialBatch(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 1)
	var flaky atomic.Int32
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		var resp trigger.Response
		for _, r := range recs {
			switch string(r.Data) {
			case dataN(10): // fails twice, then works
				if flaky.Add(1) <= 2 {
					resp.BatchItemFailures = append(resp.BatchItemFailures, trigger.BatchItemFailure{ItemIdentifier: r.SequenceNumber})
				}
			case dataN(30): // always fails
				resp.BatchItemFailures = append(resp.BatchItemFailures, trigger.BatchItemFailure{ItemIdentifier: r.SequenceNumber})
			}
		}
		return resp, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 40, 40, keyN(1), dataN)
	e.apply("name: part\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 40\nreport_batch_item_failures: true\nmax_retry_attempts: 3\ndestination: dlq\n")
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 10 {
			return fmt.Errorf("%d records in the destination", n)
		}
		return nil
	})
	// 0-9 once; 10-29 after two failed tries of 10; then 30 fails four
	// times (first try and three retries) and it and what follows it in
	// that batch (30-39) go to the destination, as Lambda does.
	var want []string
	for i := range 30 {
		want = append(want, dataN(i))
	}
	require.Equal(t, want, byKey(rec.snapshot())["k0"])
	frs := failedRecords(t, dlq)
	require.Len(t, frs, 10)
	require.Contains(t, string(frs[0].Record), `"data":"eyJpIjozMH0="`)
	require.Equal(t, 4, frs[0].Attempts)
	require.Contains(t, frs[0].Error, "function reported 1 failed records")
}

// TestTriggerPartialBatchBisect combines partial failures with bisection:
// only the failing record reaches the destination.
func TestTriggerPartialBatchBisect(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 1)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		var resp trigger.Response
		for _, r := range recs {
			if string(r.Data) == dataN(30) {
				resp.BatchItemFailures = append(resp.BatchItemFailures, trigger.BatchItemFailure{ItemIdentifier: r.SequenceNumber})
			}
		}
		return resp, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 40, 40, keyN(1), dataN)
	e.apply("name: part\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 40\nreport_batch_item_failures: true\nbisect_batch_on_error: true\nmax_retry_attempts: 1\ndestination: dlq\n")
	rec.waitCount(t, 39)
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 1 {
			return fmt.Errorf("%d records in the destination", n)
		}
		return nil
	})
	got := byKey(rec.snapshot())["k0"]
	require.Len(t, got, 39)
	require.NotContains(t, got, dataN(30))
	require.Contains(t, string(failedRecords(t, dlq)[0].Record), `"data":"eyJpIjozMH0="`)
}

// TestTriggerNoDestination checks that records failing past the policy
// without a destination are counted, and the partition moves on.
func TestTriggerNoDestination(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		if string(recs[0].Data) == dataN(0) {
			return trigger.Response{}, errors.New("no")
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 1, 1, keyN(1), dataN)
	e.put(s, 1, 1, keyN(1), func(int) string { return dataN(1) })
	e.apply("name: nd\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 1\nmax_retry_attempts: 0\n")
	rec.waitCount(t, 1)
	require.Equal(t, dataN(1), rec.snapshot()[0].Data)
	requireCounter(t, e, "pricestream_trigger_records_dropped_total", 1)
}

// TestTriggerPanic checks that a panicking function is a failed
// invocation, not a crash.
func TestTriggerPanic(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{fail: func(call int, _ []*trigger.Record) (trigger.Response, error) {
		if call == 1 {
			panic("boom")
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 3, 3, keyN(1), dataN)
	e.apply("name: pn\nsource: stream:clicks\nfunction: go:rec\n")
	rec.waitCount(t, 3)
	requireCounter(t, e, "pricestream_trigger_errors_total", 1)
}

func TestTriggerFilters(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 2)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	types := []string{"view", "click", "purchase", "add_to_cart"}
	e.put(s, 200, 50, keyN(4), func(i int) string {
		return fmt.Sprintf(`{"i":%d,"event_type":%q,"price":%d}`, i, types[i%4], i)
	})
	e.put(s, 2, 2, keyN(4), func(int) string { return "not json" })
	e.apply(`name: purchases
source: stream:clicks
function: go:rec
filters:
  - pattern: {data: {event_type: [purchase]}}
  - pattern: {data: {price: [{numeric: [">=", 190]}], event_type: [{anything-but: [purchase]}]}}
`)
	// 50 purchases, and the 7 non-purchases priced 190 and above.
	rec.waitCount(t, 57)
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "purchases")
		if err != nil {
			return err
		}
		var filtered, processed int64
		for _, p := range st.Partitions {
			filtered += p.Filtered
			processed += p.Processed
			if p.LagRecords != 0 {
				return fmt.Errorf("partition %d lags %d records", p.Partition, p.LagRecords)
			}
		}
		if filtered != 145 || processed != 57 {
			return fmt.Errorf("filtered %d processed %d", filtered, processed)
		}
		return nil
	})
	for _, ev := range rec.snapshot() {
		require.True(t, strings.Contains(ev.Data, "purchase") || strings.Contains(ev.Data, `"price":19`), ev.Data)
	}
}

func TestTriggerBatchingWindow(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	// 30 appends are 30 engine messages, more than the runner reads ahead
	// (4): without a window they would arrive in several batches; the
	// window gathers them into one whatever the speed of the appends.
	e.put(s, 30, 1, keyN(3), dataN)
	e.apply("name: win\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 1000\nbatching_window: 2s\n")
	rec.waitCount(t, 30)
	batches := map[int]bool{}
	for _, ev := range rec.snapshot() {
		batches[ev.Batch] = true
	}
	require.Len(t, batches, 1, "the window gathered the appends into one invocation")
}

func TestTriggerStartingPositionLatest(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 10, 10, keyN(1), dataN)
	e.apply("name: late\nsource: stream:clicks\nfunction: go:rec\nstarting_position: latest\n")
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "late")
		if err != nil || st.Partitions[0].State != "running" {
			return fmt.Errorf("not running: %v", err)
		}
		return nil
	})
	e.put(s, 5, 5, keyN(1), func(i int) string { return dataN(i + 10) })
	rec.waitCount(t, 5)
	require.Equal(t, dataN(10), rec.snapshot()[0].Data)
}

// TestTriggerResume restarts the engine on the same data directory: the
// trigger resumes after its checkpoint, losing nothing and (after a clean
// stop) repeating nothing.
func TestTriggerResume(t *testing.T) {
	dir := t.TempDir()
	eng := enginetest.Start(t, enginetest.WithDir(dir))
	e := newEnvOn(t, eng, testConfig)
	s := e.createStream("clicks", 2)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	e.apply("name: res\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 7\n")
	e.put(s, 100, 10, keyN(5), dataN)
	rec.waitCount(t, 100)
	e.stop()
	require.NoError(t, eng.Close())

	// Records stored while no trigger runs.
	eng = enginetest.Start(t, enginetest.WithDir(dir))
	e2 := newEnvOn(t, eng, testConfig)
	rec2 := &recorder{}
	s = e2.createStream("clicks", 2)
	e2.put(s, 50, 10, keyN(5), func(i int) string { return dataN(i + 100) })
	require.NoError(t, e2.fns.Register("rec", rec2))
	// The definition survived; the new process runs it from its checkpoints.
	rec2.waitCount(t, 50)
	e2.put(s, 50, 10, keyN(5), func(i int) string { return dataN(i + 150) })
	rec2.waitCount(t, 100)
	all := append(rec.snapshot(), rec2.snapshot()...)
	requireInOrder(t, all, 200, 5)
}

// TestTriggerSlowFunction checks backpressure: while the function is
// stuck, the runner reads at most a bounded number of records ahead; once
// it goes on, everything is delivered.
func TestTriggerSlowFunction(t *testing.T) {
	e := newEnvOn(t, enginetest.Start(t), trigger.Config{RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, ReadAhead: 2})
	s := e.createStream("clicks", 1)
	release := make(chan struct{})
	var once sync.Once
	defer once.Do(func() { close(release) })
	rec := &recorder{fail: func(int, []*trigger.Record) (trigger.Response, error) {
		<-release
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.apply("name: slow\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 10\nfunction_timeout: 1m\n")
	const per, n = 10, 3000
	e.put(s, n, per, keyN(10), dataN) // 300 engine messages of 10 records
	// The runner holds one batch in the function, a chunk being split, and
	// ReadAhead chunks; the engine client buffers more messages for the
	// reader, which is bounded by its own limits (256 messages).
	bound := int64(per * (1 + 1 + 2 + 1))
	var read int64
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(context.Background(), "slow")
		if err != nil || len(st.Partitions) == 0 {
			return fmt.Errorf("no status: %v", err)
		}
		read = st.Partitions[0].Read
		if read == 0 {
			return errors.New("nothing read yet")
		}
		return nil
	})
	// Give the reader every chance to run ahead, then check the bound.
	for range 50 {
		<-time.After(2 * time.Millisecond)
		st, err := e.m.Describe(context.Background(), "slow")
		require.NoError(t, err)
		read = st.Partitions[0].Read
		require.LessOrEqual(t, read, bound, "records read while the function is stuck")
		require.EqualValues(t, 0, st.Partitions[0].Processed)
	}
	once.Do(func() { close(release) })
	rec.waitCount(t, n)
	requireInOrder(t, rec.snapshot(), n, 10)
}

// TestTriggerLifecycle covers disable, enable, apply changes and delete
// through the manager, taking effect without a restart.
func TestTriggerLifecycle(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	a, b := &recorder{}, &recorder{}
	require.NoError(t, e.fns.Register("a", a))
	require.NoError(t, e.fns.Register("b", b))
	ctx := context.Background()
	d := e.apply("name: life\nsource: stream:clicks\nfunction: go:a\n")
	require.True(t, d.Spec.IsEnabled())
	e.put(s, 5, 5, keyN(1), dataN)
	a.waitCount(t, 5)

	_, err := e.m.SetEnabled(ctx, "life", false)
	require.NoError(t, err)
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(ctx, "life")
		if err != nil || st.State != "disabled" {
			return fmt.Errorf("state %v %v", st, err)
		}
		return nil
	})
	e.put(s, 5, 5, keyN(1), func(i int) string { return dataN(i + 5) })
	_, err = e.m.SetEnabled(ctx, "life", true)
	require.NoError(t, err)
	a.waitCount(t, 10)
	requireInOrder(t, a.snapshot(), 10, 1)

	// Apply a new function: it takes over from the checkpoint.
	e.apply("name: life\nsource: stream:clicks\nfunction: go:b\n")
	waitFor(t, 10*time.Second, func() error {
		st, err := e.m.Describe(ctx, "life")
		if err != nil || st.State != "running" || st.Spec.Function != "go:b" {
			return fmt.Errorf("state %v %v", st, err)
		}
		return nil
	})
	e.put(s, 5, 5, keyN(1), func(i int) string { return dataN(i + 10) })
	b.waitCount(t, 5)
	require.Equal(t, 10, a.count())
	require.Equal(t, dataN(10), b.snapshot()[0].Data)

	_, err = e.m.Create(ctx, d.Spec)
	require.ErrorIs(t, err, trigger.ErrExists)
	list, err := e.m.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)

	require.NoError(t, e.m.Delete(ctx, "life"))
	_, err = e.m.Describe(ctx, "life")
	require.ErrorIs(t, err, trigger.ErrNotFound)
	require.ErrorIs(t, e.m.Delete(ctx, "life"), trigger.ErrNotFound)
	// Created again, it starts over: no checkpoint is left.
	e.apply("name: life\nsource: stream:clicks\nfunction: go:b\n")
	b.waitCount(t, 20)
}

// TestTriggerApplyChecks checks that a spec naming what does not exist is
// refused with every problem.
func TestTriggerApplyChecks(t *testing.T) {
	e := newEnv(t)
	spec, err := trigger.ParseSpec([]byte("name: x\nsource: stream:nope\nfunction: go:nope\ndestination: nope2\n"))
	require.NoError(t, err)
	_, _, err = e.m.Apply(context.Background(), spec)
	require.ErrorIs(t, err, trigger.ErrInvalidArgument)
	require.ErrorContains(t, err, "source: trigger: not found")
	require.ErrorContains(t, err, `function: no Go function "nope"`)
	require.ErrorContains(t, err, "destination:")
	spec, err = trigger.ParseSpec([]byte("name: x\nsource: table:tab\nfunction: go:nope\n"))
	require.NoError(t, err)
	_, _, err = e.m.Apply(context.Background(), spec)
	require.ErrorContains(t, err, "source: trigger: not found: source table:tab")
}

// TestTriggerLeases runs two managers (two processes) on one engine: each
// partition runs in one of them only, so every record is delivered once;
// when one stops, the other takes its partitions over.
func TestTriggerLeases(t *testing.T) {
	eng := enginetest.Start(t)
	cfg := trigger.Config{RetryBaseDelay: time.Millisecond, RetryMaxDelay: 5 * time.Millisecond, LeaseTTL: time.Second}
	a := newEnvOn(t, eng, cfg)
	b := newEnvOn(t, eng, cfg)
	s := a.createStream("clicks", 4)
	ra, rb := &recorder{}, &recorder{}
	require.NoError(t, a.fns.Register("rec", ra))
	require.NoError(t, b.fns.Register("rec", rb))
	a.apply("name: shared\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 10\n")
	a.put(s, 200, 20, keyN(16), dataN)
	waitFor(t, 20*time.Second, func() error {
		if n := ra.count() + rb.count(); n < 200 {
			return fmt.Errorf("%d of 200 records", n)
		}
		return nil
	})
	requireInOrder(t, append(ra.snapshot(), rb.snapshot()...), 200, 16)

	st, err := a.m.Describe(context.Background(), "shared")
	require.NoError(t, err)
	owners := map[string]bool{}
	for _, p := range st.Partitions {
		require.NotEmpty(t, p.Owner, "partition %d", p.Partition)
		owners[p.Owner] = true
	}
	t.Logf("partitions split between %d processes", len(owners))

	// Stop a: b takes every partition over within a lease TTL or so, and
	// delivers what comes next, once.
	a.stop()
	sb, err := b.streams.Open(context.Background(), "clicks")
	require.NoError(t, err)
	before := rb.count()
	b.put(sb, 100, 20, func(i int) string { return keyN(16)(i + 200) }, func(i int) string { return dataN(i + 200) })
	rb.waitCount(t, before+100-countFrom(ra, 200))
	waitFor(t, 20*time.Second, func() error {
		if n := ra.count() + rb.count(); n < 300 {
			return fmt.Errorf("%d of 300 records", n)
		}
		return nil
	})
	requireOncePerProcessInOrder(t, 300, ra.snapshot(), rb.snapshot())
}

// requireOncePerProcessInOrder checks that the processes together
// delivered records 0..n-1 exactly once, each process in order per key.
func requireOncePerProcessInOrder(t *testing.T, n int, procs ...[]event) {
	t.Helper()
	seen := map[int]bool{}
	for _, evs := range procs {
		last := map[string]int{}
		for _, ev := range evs {
			var i int
			_, err := fmt.Sscanf(ev.Data, `{"i":%d}`, &i)
			require.NoError(t, err)
			require.False(t, seen[i], "record %d delivered twice", i)
			seen[i] = true
			if l, ok := last[ev.Key]; ok {
				require.Greater(t, i, l, "key %s out of order", ev.Key)
			}
			last[ev.Key] = i
		}
	}
	require.Len(t, seen, n)
}

// countFrom counts a recorder's events with data index >= from.
func countFrom(r *recorder, from int) int {
	n := 0
	for _, ev := range r.snapshot() {
		var i int
		if _, err := fmt.Sscanf(ev.Data, `{"i":%d}`, &i); err == nil && i >= from {
			n++
		}
	}
	return n
}

// TestTriggerMaxRecordAge checks that records older than max_record_age go
// to the destination instead of the function. The runner's clock is moved
// two hours ahead rather than waiting.
func TestTriggerMaxRecordAge(t *testing.T) {
	e := newEnv(t)
	var offset atomic.Int64
	e.m.SetClock(func() time.Time { return time.Now().Add(time.Duration(offset.Load())) })
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 1)
	rec := &recorder{}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 5, 5, keyN(1), dataN)
	offset.Store(int64(2 * time.Hour))
	e.apply("name: old\nsource: stream:clicks\nfunction: go:rec\nmax_record_age: 1h\ndestination: dlq\n")
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 5 {
			return fmt.Errorf("%d records in the destination", n)
		}
		return nil
	})
	for _, fr := range failedRecords(t, dlq) {
		require.Equal(t, trigger.ConditionRecordAgeExceeded, fr.Condition)
		require.Equal(t, 0, fr.Attempts)
		require.Contains(t, fr.Error, "older than max_record_age 1h0m0s")
	}
	offset.Store(0)
	e.put(s, 3, 3, keyN(1), func(i int) string { return dataN(i + 5) })
	rec.waitCount(t, 3)
	require.Equal(t, dataN(5), rec.snapshot()[0].Data)
	requireCounter(t, e, "pricestream_trigger_records_destination_total", 5)
}

// TestTriggerNonRetryable checks that a FunctionError that is not
// retryable sends the records to the destination at once.
func TestTriggerNonRetryable(t *testing.T) {
	e := newEnv(t)
	s := e.createStream("clicks", 1)
	dlq := e.createStream("dlq", 1)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		if string(recs[0].Data) == dataN(0) {
			return trigger.Response{}, &trigger.FunctionError{Err: errors.New("malformed event"), Retryable: false}
		}
		return trigger.Response{}, nil
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.put(s, 1, 1, keyN(1), dataN)
	e.put(s, 1, 1, keyN(1), func(int) string { return dataN(1) })
	e.apply("name: nr\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 1\nmax_retry_attempts: 5\ndestination: dlq\n")
	rec.waitCount(t, 1)
	frs := failedRecords(t, dlq)
	require.Len(t, frs, 1)
	require.Equal(t, 1, frs[0].Attempts)
	require.Equal(t, "malformed event", frs[0].Error)
	require.Zero(t, counterValue(t, e, "pricestream_trigger_retries_total"))
}

// TestTriggerDestinationGone: records that failed past the retry policy
// wait while their destination cannot take them (deleted), with the
// partition's status saying so, and go there once it can; none is lost.
func TestTriggerDestinationGone(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	s := e.createStream("clicks", 1)
	e.createStream("dlq", 1)
	rec := &recorder{fail: func(_ int, recs []*trigger.Record) (trigger.Response, error) {
		return trigger.Response{}, errors.New("cannot price it")
	}}
	require.NoError(t, e.fns.Register("rec", rec))
	e.apply("name: gone\nsource: stream:clicks\nfunction: go:rec\nbatch_size: 5\nmax_retry_attempts: 0\ndestination: dlq\n")
	// The trigger opens its destination as it starts, in the background:
	// deleted before that, the destination fails the start instead (the
	// trigger's own error, retried), which is not the case here.
	waitRunning(t, e, "gone")
	require.NoError(t, e.streams.Delete(ctx, "dlq"))
	e.put(s, 5, 5, keyN(1), dataN)
	partErr := func() string {
		st, err := e.m.Describe(ctx, "gone")
		require.NoError(t, err)
		require.Len(t, st.Partitions, 1)
		return st.Partitions[0].Error
	}
	waitFor(t, 10*time.Second, func() error {
		if msg := partErr(); !strings.Contains(msg, "destination write failed") {
			return fmt.Errorf("partition error %q", msg)
		}
		return nil
	})
	dlq := e.createStream("dlq", 1)
	waitFor(t, 10*time.Second, func() error {
		if n := len(readAll(t, dlq)); n != 5 {
			return fmt.Errorf("%d records in the destination", n)
		}
		if msg := partErr(); msg != "" {
			return fmt.Errorf("partition error %q after the destination took them", msg)
		}
		return nil
	})
}
