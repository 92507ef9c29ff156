package stream_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/stream"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

func newManager(t *testing.T, e *engine.Engine, reg prometheus.Registerer) *stream.Manager {
	t.Helper()
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

func entries(n int, key func(i int) string) []stream.Entry {
	out := make([]stream.Entry, n)
	for i := range out {
		out[i] = stream.Entry{PartitionKey: key(i), Data: fmt.Appendf(nil, `{"i":%d}`, i)}
	}
	return out
}

// TestStreamSuite runs against the embedded engine and, when
// PRICESTREAM_NATS_URL is set, against that NATS server.
func TestStreamSuite(t *testing.T) {
	enginetest.Each(t, func(t *testing.T, e *engine.Engine) {
		t.Run("Lifecycle", func(t *testing.T) { testLifecycle(t, e) })
		t.Run("AppendRead", func(t *testing.T) { testAppendRead(t, e) })
		t.Run("Starts", func(t *testing.T) { testStarts(t, e) })
		t.Run("GroupCommit", func(t *testing.T) { testGroupCommit(t, e) })
		t.Run("Submit", func(t *testing.T) { testSubmit(t, e) })
		t.Run("Subscribe", func(t *testing.T) { testSubscribe(t, e) })
		t.Run("Consumer", func(t *testing.T) { testConsumer(t, e) })
		t.Run("BadInput", func(t *testing.T) { testBadInput(t, e) })
		t.Run("ConcurrentWriters", func(t *testing.T) { testConcurrentWriters(t, e) })
	})
}

func testLifecycle(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e, nil)
	info, err := m.Create(ctx, stream.Spec{Name: "clicks.v1", Partitions: 3, Retention: 2 * time.Hour, MaxRecordSize: 4096, Description: "click events"})
	require.NoError(t, err)
	require.Equal(t, "clicks.v1", info.Name)
	require.Len(t, info.Partitions, 3)
	require.Equal(t, "113427455640312821154458202477256070485", info.Partitions[1].StartingHashKey)
	require.Equal(t, 2*time.Hour, info.Retention)
	require.Equal(t, 4096, info.MaxRecordSize)

	_, err = m.Create(ctx, stream.Spec{Name: "clicks.v1"})
	require.ErrorIs(t, err, stream.ErrExists)
	_, err = m.Create(ctx, stream.Spec{Name: "orders"})
	require.NoError(t, err)

	list, err := m.List(ctx)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "clicks.v1", list[0].Name)
	require.Equal(t, "orders", list[1].Name)
	require.Len(t, list[1].Partitions, stream.DefaultPartitions)
	require.Equal(t, stream.DefaultRetention, list[1].Retention)

	d, err := m.Describe(ctx, "clicks.v1")
	require.NoError(t, err)
	require.Equal(t, "click events", d.Description)

	require.NoError(t, m.Delete(ctx, "clicks.v1"))
	_, err = m.Describe(ctx, "clicks.v1")
	require.ErrorIs(t, err, stream.ErrNotFound)
	require.ErrorIs(t, m.Delete(ctx, "clicks.v1"), stream.ErrNotFound)
	_, err = m.Open(ctx, "nope")
	require.ErrorIs(t, err, stream.ErrNotFound)
	require.NoError(t, m.Delete(ctx, "orders"))
}

func testAppendRead(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := newManager(t, e, reg)
	_, err := m.Create(ctx, stream.Spec{Name: "ar", Partitions: 4})
	require.NoError(t, err)
	s, err := m.Open(ctx, "ar")
	require.NoError(t, err)

	// 200 records over 20 keys, in 4 calls.
	var all []stream.Entry
	var results []stream.Result
	for call := range 4 {
		es := entries(50, func(i int) string { return "key-" + strconv.Itoa((call*50+i)%20) })
		for i := range es {
			es[i].Data = fmt.Appendf(nil, `{"n":%d}`, call*50+i)
		}
		res, err := s.Append(ctx, es)
		require.NoError(t, err)
		require.Len(t, res, 50)
		all = append(all, es...)
		results = append(results, res...)
	}
	for i, r := range results {
		require.NoError(t, r.Err, i)
		want, err := s.Partition(&all[i])
		require.NoError(t, err)
		require.Equal(t, want, r.Partition)
	}
	require.Equal(t, 200.0, counterSum(t, reg, "pricestream_stream_records_in_total"))

	// Each partition returns its records in append order, with increasing
	// sequence numbers and dense offsets.
	total := 0
	for part := range 4 {
		var want []string
		for i, r := range results {
			if r.Partition == part {
				want = append(want, string(all[i].Data))
			}
		}
		res, err := s.Read(ctx, part, stream.Position{}, stream.ReadOptions{})
		require.NoError(t, err)
		require.Len(t, res.Records, len(want))
		require.Zero(t, res.MillisBehind)
		for i, r := range res.Records {
			require.Equal(t, want[i], string(r.Data))
			require.Equal(t, uint64(i), r.Offset)
			require.Equal(t, part, r.Partition)
			if i > 0 {
				require.True(t, res.Records[i-1].Position.Less(r.Position))
			}
			require.WithinDuration(t, time.Now(), r.Arrival, time.Minute)
		}
		total += len(res.Records)

		// Paging by MaxRecords continues exactly where the last read stopped.
		var paged []string
		pos := stream.Position{}
		for {
			pr, err := s.Read(ctx, part, pos, stream.ReadOptions{MaxRecords: 7})
			require.NoError(t, err)
			for _, r := range pr.Records {
				paged = append(paged, string(r.Data))
			}
			if len(pr.Records) == 0 {
				break
			}
			if len(paged) < len(want) {
				require.Positive(t, pr.MillisBehind+1) // defined, non-negative
			}
			pos = pr.Next
		}
		require.Equal(t, want, paged)

		tip, err := s.Tip(ctx, part)
		require.NoError(t, err)
		require.Equal(t, uint64(len(want)), tip.Records)
	}
	require.Equal(t, 200, total)
}

func counterSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == name {
			var sum float64
			for _, m := range mf.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
			return sum
		}
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

func testStarts(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "starts", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "starts")
	require.NoError(t, err)

	empty, err := s.Resolve(ctx, 0, stream.Start{Kind: stream.Latest})
	require.NoError(t, err)
	first, err := s.Append(ctx, entries(3, func(int) string { return "k" }))
	require.NoError(t, err)
	// LATEST taken before the append sees the appended records.
	r, err := s.Read(ctx, 0, empty, stream.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, r.Records, 3)

	mid := time.Now()
	// Make sure the second call's arrival is after mid on coarse clocks.
	for !time.Now().After(mid) {
	}
	second, err := s.Append(ctx, entries(2, func(int) string { return "k" }))
	require.NoError(t, err)

	at := func(st stream.Start) []string {
		t.Helper()
		p, err := s.Resolve(ctx, 0, st)
		require.NoError(t, err)
		r, err := s.Read(ctx, 0, p, stream.ReadOptions{})
		require.NoError(t, err)
		var out []string
		for _, rec := range r.Records {
			out = append(out, rec.Position.SequenceNumber(rec.Partition))
		}
		return out
	}
	seqs := func(rs ...stream.Result) []string {
		var out []string
		for _, r := range rs {
			out = append(out, r.Position.SequenceNumber(r.Partition))
		}
		return out
	}
	all := seqs(append(first, second...)...)
	require.Equal(t, all, at(stream.Start{Kind: stream.TrimHorizon}))
	require.Empty(t, at(stream.Start{Kind: stream.Latest}))
	require.Equal(t, all[1:], at(stream.Start{Kind: stream.AtPosition, Position: first[1].Position}))
	require.Equal(t, all[2:], at(stream.Start{Kind: stream.AfterPosition, Position: first[1].Position}))
	require.Equal(t, all[3:], at(stream.Start{Kind: stream.AfterPosition, Position: first[2].Position}), "after the last record of a batch")
	require.Equal(t, all[3:], at(stream.Start{Kind: stream.AtTimestamp, Time: mid}))
	require.Equal(t, all, at(stream.Start{Kind: stream.AtTimestamp, Time: mid.Add(-time.Hour)}))
	require.Empty(t, at(stream.Start{Kind: stream.AtTimestamp, Time: time.Now().Add(time.Hour)}))

	_, err = s.Resolve(ctx, 1, stream.Start{})
	require.ErrorIs(t, err, stream.ErrInvalidArgument)
}

func testGroupCommit(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "gc", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "gc")
	require.NoError(t, err)

	const callers, calls = 16, 20
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for c := range callers {
		wg.Go(func() {
			for n := range calls {
				res, err := s.Append(ctx, []stream.Entry{{PartitionKey: "p", Data: fmt.Appendf(nil, "%d-%d", c, n)}})
				if err != nil {
					errs <- err
					return
				}
				if res[0].Err != nil {
					errs <- res[0].Err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	info, err := m.Describe(ctx, "gc")
	require.NoError(t, err)
	// Every record is stored; concurrent calls shared engine messages.
	r, err := s.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 10000})
	require.NoError(t, err)
	require.Len(t, r.Records, callers*calls)
	require.Less(t, info.Batches, uint64(callers*calls), "group commit merged concurrent appends")
	// Each caller's records keep their order.
	last := map[string]int{}
	for _, rec := range r.Records {
		var c, n int
		_, err := fmt.Sscanf(string(rec.Data), "%d-%d", &c, &n)
		require.NoError(t, err)
		k := strconv.Itoa(c)
		if prev, ok := last[k]; ok {
			require.Equal(t, prev+1, n)
		}
		last[k] = n
	}
}

// Appends submitted one after another without waiting are stored in the
// order they were submitted, in every partition, whatever order they are
// waited for in; waiting again returns the same results; an invalid entry
// refuses its submission at once.
func testSubmit(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	m := newManager(t, e, reg)
	_, err := m.Create(ctx, stream.Spec{Name: "sub-mit", Partitions: 2})
	require.NoError(t, err)
	s, err := m.Open(ctx, "sub-mit")
	require.NoError(t, err)

	const calls = 40
	var pending []*stream.Appending
	for n := range calls {
		es := entries(5, func(i int) string { return "key-" + strconv.Itoa(i) })
		for i := range es {
			es[i].Data = fmt.Appendf(nil, "%d-%d", n, i)
		}
		a, err := s.Submit(es)
		require.NoError(t, err)
		pending = append(pending, a)
	}
	for _, a := range slices.Backward(pending) {
		res, err := a.Wait(ctx)
		require.NoError(t, err)
		require.Len(t, res, 5)
		for _, r := range res {
			require.NoError(t, r.Err)
		}
		again, err := a.Wait(ctx)
		require.NoError(t, err)
		require.Equal(t, res, again)
	}
	require.Equal(t, float64(calls*5), counterSum(t, reg, "pricestream_stream_records_in_total"), "each append counted once")
	for part := range 2 {
		r, err := s.Read(ctx, part, stream.Position{}, stream.ReadOptions{MaxRecords: 1000})
		require.NoError(t, err)
		last := map[string]int{} // per key, the call of its last record
		for _, rec := range r.Records {
			var n, i int
			_, err := fmt.Sscanf(string(rec.Data), "%d-%d", &n, &i)
			require.NoError(t, err)
			if prev, ok := last[rec.PartitionKey]; ok {
				require.Equal(t, prev+1, n, "key %s: call %d stored after call %d", rec.PartitionKey, n, prev)
			}
			last[rec.PartitionKey] = n
		}
	}

	_, err = s.Submit([]stream.Entry{{PartitionKey: "", Data: []byte("x")}})
	require.ErrorIs(t, err, stream.ErrInvalidArgument)
	empty, err := s.Submit(nil)
	require.NoError(t, err)
	res, err := empty.Wait(ctx)
	require.NoError(t, err)
	require.Empty(t, res)
}

func testSubscribe(t *testing.T, e *engine.Engine) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "sub", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "sub")
	require.NoError(t, err)
	res, err := s.Append(ctx, entries(3, func(int) string { return "k" }))
	require.NoError(t, err)

	sub, err := s.Subscribe(ctx, 0, res[1].Position)
	require.NoError(t, err)
	defer sub.Stop()
	got, err := sub.Next(ctx)
	require.NoError(t, err)
	require.Len(t, got, 2, "starts inside the batch")
	require.Equal(t, `{"i":1}`, string(got[0].Data))

	go func() {
		_, _ = s.Append(ctx, entries(4, func(int) string { return "k" }))
	}()
	got, err = sub.Next(ctx)
	require.NoError(t, err)
	require.Len(t, got, 4)
	require.Equal(t, uint64(3), got[0].Offset)

	sub.Stop()
	_, err = sub.Next(ctx)
	require.ErrorIs(t, err, stream.ErrClosed)
}

func testConsumer(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "cons", Partitions: 2})
	require.NoError(t, err)
	s, err := m.Open(ctx, "cons")
	require.NoError(t, err)
	_, err = s.Append(ctx, entries(40, func(i int) string { return strconv.Itoa(i) }))
	require.NoError(t, err)

	c, err := m.Consumer(ctx, "cons", "etl-1")
	require.NoError(t, err)
	lags, err := c.Lag(ctx)
	require.NoError(t, err)
	var total uint64
	for _, l := range lags {
		total += l.Records
		require.Nil(t, l.Checkpoint)
	}
	require.Equal(t, uint64(40), total, "no checkpoint: everything is behind")

	p0, err := c.Start(ctx, 0, stream.Start{Kind: stream.TrimHorizon})
	require.NoError(t, err)
	r, err := s.Read(ctx, 0, p0, stream.ReadOptions{MaxRecords: 5})
	require.NoError(t, err)
	require.Len(t, r.Records, 5)
	require.NoError(t, c.Commit(ctx, &r.Records[4]))

	cp, ok, err := c.Checkpoint(ctx, 0)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, r.Records[4].Position, cp.Position)
	next, err := c.Start(ctx, 0, stream.Start{Kind: stream.TrimHorizon})
	require.NoError(t, err)
	r2, err := s.Read(ctx, 0, next, stream.ReadOptions{MaxRecords: 1})
	require.NoError(t, err)
	require.Equal(t, uint64(5), r2.Records[0].Offset, "resumes after the checkpoint")

	lags, err = c.Lag(ctx)
	require.NoError(t, err)
	tip, err := s.Tip(ctx, 0)
	require.NoError(t, err)
	require.Equal(t, tip.Records-5, lags[0].Records)

	// A consumer starting at LATEST without a checkpoint.
	c2, err := m.Consumer(ctx, "cons", "tail")
	require.NoError(t, err)
	p, err := c2.Start(ctx, 1, stream.Start{Kind: stream.Latest})
	require.NoError(t, err)
	r3, err := s.Read(ctx, 1, p, stream.ReadOptions{})
	require.NoError(t, err)
	require.Empty(t, r3.Records)

	require.ErrorIs(t, c.CommitPosition(ctx, 1, stream.Position{Seq: r.Records[0].Position.Seq + 1000}), stream.ErrInvalidArgument, "no record there")
	names, err := m.Consumers(ctx, "cons")
	require.NoError(t, err)
	require.Equal(t, []string{"etl-1"}, names)
	require.NoError(t, m.DeleteConsumer(ctx, "cons", "etl-1"))
	_, ok, err = c.Checkpoint(ctx, 0)
	require.NoError(t, err)
	require.False(t, ok)
	require.ErrorIs(t, m.DeleteConsumer(ctx, "cons", "etl-1"), stream.ErrNotFound)

	_, err = m.Consumer(ctx, "cons", "bad name")
	require.ErrorIs(t, err, stream.ErrInvalidArgument)
}

func testBadInput(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m := newManager(t, e, nil)
	for _, spec := range []stream.Spec{
		{Name: ""}, {Name: "has space"}, {Name: "x", Partitions: -1}, {Name: "x", Partitions: 5000},
		{Name: "x", Retention: time.Second}, {Name: "x", MaxRecordSize: 10 << 20},
	} {
		_, err := m.Create(ctx, spec)
		require.ErrorIs(t, err, stream.ErrInvalidArgument, "%+v", spec)
	}
	_, err := m.Create(ctx, stream.Spec{Name: "bad", Partitions: 2, MaxRecordSize: 100})
	require.NoError(t, err)
	s, err := m.Open(ctx, "bad")
	require.NoError(t, err)
	long := string(make([]byte, 257))
	for name, es := range map[string][]stream.Entry{
		"empty key":     {{PartitionKey: "ok", Data: []byte("1")}, {PartitionKey: "", Data: []byte("x")}},
		"long key":      {{PartitionKey: long, Data: []byte("x")}},
		"big record":    {{PartitionKey: "ok", Data: []byte("1")}, {PartitionKey: "k", Data: make([]byte, 101)}},
		"bad hash key":  {{PartitionKey: "k", ExplicitHashKey: "abc", Data: []byte("x")}},
		"huge hash key": {{PartitionKey: "k", ExplicitHashKey: "340282366920938463463374607431768211456", Data: []byte("x")}},
	} {
		_, err := s.Append(ctx, es)
		require.ErrorIs(t, err, stream.ErrInvalidArgument, name)
		require.Contains(t, err.Error(), "records[", name)
	}
	info, err := m.Describe(ctx, "bad")
	require.NoError(t, err)
	require.Zero(t, info.Batches, "a refused call stores nothing")

	// An explicit hash key overrides the partition key's hash.
	res, err := s.Append(ctx, []stream.Entry{{PartitionKey: "a", ExplicitHashKey: "340282366920938463463374607431768211455", Data: []byte("x")}})
	require.NoError(t, err)
	require.Equal(t, 1, res[0].Partition)
}

// testConcurrentWriters has two managers (two processes' worth of writers)
// append to one partition: offsets stay dense and no record is lost.
func testConcurrentWriters(t *testing.T, e *engine.Engine) {
	ctx := context.Background()
	m1 := newManager(t, e, nil)
	m2 := newManager(t, e, nil)
	_, err := m1.Create(ctx, stream.Spec{Name: "cw", Partitions: 1})
	require.NoError(t, err)
	s1, err := m1.Open(ctx, "cw")
	require.NoError(t, err)
	s2, err := m2.Open(ctx, "cw")
	require.NoError(t, err)
	var wg sync.WaitGroup
	for _, s := range []*stream.Stream{s1, s2} {
		wg.Go(func() {
			for range 25 {
				res, err := s.Append(ctx, entries(3, func(int) string { return "same" }))
				if err != nil || res[0].Err != nil {
					t.Errorf("append: %v %v", err, res)
					return
				}
			}
		})
	}
	wg.Wait()
	r, err := s1.Read(ctx, 0, stream.Position{}, stream.ReadOptions{})
	require.NoError(t, err)
	require.Len(t, r.Records, 150)
	for i, rec := range r.Records {
		require.Equal(t, uint64(i), rec.Offset)
	}
}

func TestStreamPositionsSurviveRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	m, err := stream.New(stream.Config{}, stream.Deps{Engine: e})
	require.NoError(t, err)
	_, err = m.Create(ctx, stream.Spec{Name: "durable", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "durable")
	require.NoError(t, err)
	res, err := s.Append(ctx, entries(10, func(int) string { return "k" }))
	require.NoError(t, err)
	c, err := m.Consumer(ctx, "durable", "reader")
	require.NoError(t, err)
	r, err := s.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 4})
	require.NoError(t, err)
	require.NoError(t, c.Commit(ctx, &r.Records[3]))
	require.NoError(t, m.Close())
	require.NoError(t, e.Close())

	e2 := enginetest.Start(t, enginetest.WithDir(dir))
	m2 := newManager(t, e2, nil)
	c2, err := m2.Consumer(ctx, "durable", "reader")
	require.NoError(t, err)
	p, err := c2.Start(ctx, 0, stream.Start{Kind: stream.TrimHorizon})
	require.NoError(t, err)
	require.Equal(t, res[4].Position, p)
	s2, err := m2.Open(ctx, "durable")
	require.NoError(t, err)
	// The writer picks up the partition's offsets after a restart.
	more, err := s2.Append(ctx, entries(1, func(int) string { return "k" }))
	require.NoError(t, err)
	r2, err := s2.Read(ctx, 0, more[0].Position, stream.ReadOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(10), r2.Records[0].Offset)
}

func TestStreamCloseRefusesAppends(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "c", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "c")
	require.NoError(t, err)
	require.NoError(t, m.Close())
	res, err := s.Append(ctx, entries(1, func(int) string { return "k" }))
	require.NoError(t, err)
	require.ErrorIs(t, res[0].Err, stream.ErrClosed)
}

// Records submitted with SubmitNoSync are stored (and read) without
// waiting for a group sync; a batch that also holds a record waiting to
// be fsynced is fsynced; Sync makes them durable, one sync per
// partition.
func TestStreamSubmitNoSync(t *testing.T) {
	e := enginetest.Start(t) // fsync always
	ctx := context.Background()
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "decisions", Partitions: 2})
	require.NoError(t, err)
	s, err := m.Open(ctx, "decisions")
	require.NoError(t, err)
	_, waits0 := e.SyncStats()

	es := entries(20, func(i int) string { return "k" + strconv.Itoa(i) })
	a, err := s.SubmitNoSync(es)
	require.NoError(t, err)
	res, err := a.Wait(ctx)
	require.NoError(t, err)
	for i, r := range res {
		require.NoError(t, r.Err, "record %d", i)
	}
	_, waits := e.SyncStats()
	require.Equal(t, waits0, waits, "no write waited for a sync")
	var read int
	for part := range s.Partitions() {
		r, err := s.Read(ctx, part, stream.Position{}, stream.ReadOptions{MaxRecords: 100})
		require.NoError(t, err)
		read += len(r.Records)
	}
	require.Equal(t, len(es), read, "stored records are read before they are synced")

	require.NoError(t, s.Sync(ctx))
	_, waits = e.SyncStats()
	require.Equal(t, waits0+uint64(s.Partitions()), waits, "one sync per partition")

	// An Append (fsynced before it returns) waits for a sync as ever.
	_, err = s.Append(ctx, entries(1, func(int) string { return "k0" }))
	require.NoError(t, err)
	_, after := e.SyncStats()
	require.Greater(t, after, waits)
}

// Sync syncs the partitions at once: a Sync of a stream of two partitions
// whose first partition's sync holds until the second's has begun
// returns (one after the other, it would wait out the hold).
func TestStreamSyncsPartitionsTogether(t *testing.T) {
	e := enginetest.Start(t) // fsync always: group commit
	ctx := context.Background()
	second := make(chan struct{})
	secondBegan := sync.OnceFunc(func() { close(second) })
	var waitedOut atomic.Bool
	e.OnGroupSync(func(name string) {
		if !strings.Contains(name, "decisions") {
			return
		}
		switch {
		case strings.HasSuffix(name, "_1"):
			secondBegan()
		case strings.HasSuffix(name, "_0"):
			timer := time.NewTimer(10 * time.Second)
			defer timer.Stop()
			select {
			case <-second:
			case <-timer.C:
				waitedOut.Store(true)
			}
		}
	})
	m := newManager(t, e, nil)
	_, err := m.Create(ctx, stream.Spec{Name: "decisions", Partitions: 2})
	require.NoError(t, err)
	s, err := m.Open(ctx, "decisions")
	require.NoError(t, err)
	a, err := s.SubmitNoSync(entries(20, func(i int) string { return "k" + strconv.Itoa(i) }))
	require.NoError(t, err)
	res, err := a.Wait(ctx)
	require.NoError(t, err)
	parts := map[int]bool{}
	for _, r := range res {
		require.NoError(t, r.Err)
		parts[r.Partition] = true
	}
	require.Len(t, parts, 2, "records in both partitions")
	require.NoError(t, s.Sync(ctx))
	require.False(t, waitedOut.Load(), "partition 1's sync began only after partition 0's")
}

// A partition's writer stores the next batch while the disk syncs the one
// before: a record appended while a sync runs is stored, and read, before
// that sync ends, and no record is answered before a sync that covers it.
func TestStreamStoresWhileSyncing(t *testing.T) {
	e := enginetest.Start(t) // fsync always: group commit
	ctx := context.Background()
	var held atomic.Bool
	entered, release := make(chan struct{}), make(chan struct{})
	releaseSync := sync.OnceFunc(func() { close(release) })
	e.OnGroupSync(func(name string) {
		if strings.Contains(name, "clicks") && held.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
	})
	m := newManager(t, e, nil)
	t.Cleanup(releaseSync) // before the manager's Close: a failing test must not leave the sync held
	_, err := m.Create(ctx, stream.Spec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "clicks")
	require.NoError(t, err)

	var answered atomic.Int32
	type outcome struct {
		res []stream.Result
		err error
	}
	appendAsync := func(key string) chan outcome {
		c := make(chan outcome, 1)
		a, err := s.Submit(entries(1, func(int) string { return key }))
		require.NoError(t, err)
		go func() {
			res, err := a.Wait(ctx)
			answered.Add(1)
			c <- outcome{res, err}
		}()
		return c
	}
	first := appendAsync("a")
	<-entered // the first record's sync holds
	second := appendAsync("b")
	polltest.Until(t, 10*time.Second, func() error {
		r, err := s.Read(ctx, 0, stream.Position{}, stream.ReadOptions{MaxRecords: 10})
		if err != nil {
			return err
		}
		if len(r.Records) != 2 {
			return fmt.Errorf("%d records stored, want 2", len(r.Records))
		}
		return nil
	})
	require.Zero(t, answered.Load(), "no record is answered while the sync that covers it holds")
	releaseSync()
	var got []stream.Position
	for _, c := range []chan outcome{first, second} {
		o := <-c
		require.NoError(t, o.err)
		require.NoError(t, o.res[0].Err)
		got = append(got, o.res[0].Position)
	}
	require.Less(t, got[0].Seq, got[1].Seq, "the records are stored in the order appended")
}

// Appends with and without fsync, from many goroutines, into small
// batches (a request's records span several), some of them stored while
// a sync of earlier ones runs: every record is answered stored, at the
// position where it is read back, only once all its request's records are.
func TestStreamMixedSyncAppends(t *testing.T) {
	e := enginetest.Start(t) // fsync always: group commit
	ctx := context.Background()
	m, err := stream.New(stream.Config{MaxBatchBytes: 64 << 10}, stream.Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	_, err = m.Create(ctx, stream.Spec{Name: "mixed", Partitions: 1})
	require.NoError(t, err)
	s, err := m.Open(ctx, "mixed")
	require.NoError(t, err)

	type sent struct {
		pos  stream.Position
		data string
	}
	var mu sync.Mutex
	var all []sent
	var wg sync.WaitGroup
	for g := range 6 {
		wg.Go(func() {
			for i := range 30 {
				n := 1 + (g*7+i)%40
				es := make([]stream.Entry, n)
				for j := range es {
					es[j] = stream.Entry{PartitionKey: "k", Data: fmt.Appendf(nil, `{"g":%d,"i":%d,"j":%d,"pad":"%03000d"}`, g, i, j, 0)}
				}
				var a *stream.Appending
				var err error
				if i%2 == 0 {
					a, err = s.Submit(es)
				} else {
					a, err = s.SubmitNoSync(es)
				}
				if err != nil {
					t.Error(err)
					return
				}
				res, err := a.Wait(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for j, r := range res {
					if r.Err != nil || r.Position.Seq == 0 {
						t.Errorf("goroutine %d append %d record %d: %+v", g, i, j, r)
					}
					all = append(all, sent{r.Position, string(es[j].Data)})
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	require.False(t, t.Failed())
	stored := map[stream.Position]string{}
	for from := (stream.Position{}); ; {
		r, err := s.Read(ctx, 0, from, stream.ReadOptions{MaxRecords: 1000})
		require.NoError(t, err)
		if len(r.Records) == 0 {
			break
		}
		for _, rec := range r.Records {
			stored[rec.Position] = string(rec.Data)
		}
		from = r.Next
	}
	require.Len(t, stored, len(all))
	for _, s := range all {
		require.Equal(t, s.data, stored[s.pos], "the record answered at %+v", s.pos)
	}
}
