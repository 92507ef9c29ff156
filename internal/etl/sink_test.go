package etl

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/table/item"
)

// TestETLSinkBackpressure: what waits for a sink is bounded. A table sink
// holds at most max keys (a newer row of a waiting key replaces it, so it
// never blocks), then emit blocks until a writer takes one; the stream sink
// and the dead-letter writer hold at most max entries.
func TestETLSinkBackpressure(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	tb := outTable(t, e)
	_, err := e.streams.Create(ctx, stream.Spec{Name: "rows", Partitions: 1})
	require.NoError(t, err)
	st, err := e.streams.Open(ctx, "rows")
	require.NoError(t, err)

	row := func(k string, v int64) *record.Record {
		r := record.New(2)
		r.Append("k", record.StringValue(k))
		r.Append("v", record.LongValue(v))
		return r
	}
	blocked := func(emit func(context.Context) error) bool {
		t.Helper()
		c, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		err := emit(c)
		return err != nil && c.Err() != nil
	}

	s := newTableSink(tb, 1, 2, slog.New(slog.DiscardHandler))
	require.NoError(t, s.emit(ctx, row("a", 1), srcMeta{}, 0))
	require.NoError(t, s.emit(ctx, row("b", 1), srcMeta{}, 0))
	require.NoError(t, s.emit(ctx, row("a", 2), srcMeta{}, 0), "a waiting key takes its newer row")
	require.True(t, blocked(func(c context.Context) error { return s.emit(c, row("c", 1), srcMeta{}, 0) }), "a third key waits for room")
	ep := s.barrier()

	// Writers make room; the epoch's rows become durable, newest per key.
	stop := runSink(t, s)
	require.NoError(t, s.emit(ctx, row("c", 1), srcMeta{}, 0))
	require.NoError(t, s.wait(ctx, ep))
	it, err := tb.Get(ctx, item.Key{Partition: item.StringValue("a")}, table.GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, "2", it["v"].N().String())
	stop()

	ss := &streamSink{appender: newAppender(st, 2, slog.New(slog.DiscardHandler)), keyField: "k"}
	require.NoError(t, ss.emit(ctx, row("a", 1), srcMeta{}, 0))
	require.NoError(t, ss.emit(ctx, row("a", 2), srcMeta{}, 0))
	require.True(t, blocked(func(c context.Context) error { return ss.emit(c, row("a", 3), srcMeta{}, 0) }), "a stream sink holds at most max rows")
}

// runSink runs s's writers until the returned function stops them.
func runSink(t *testing.T, s *tableSink) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.run(ctx) }()
	return func() {
		cancel()
		require.NoError(t, <-done)
	}
}

// TestETLSinkManyWriters: a table sink with many writers, few slots and
// emitters at once writes every key's newest row: a queued key wakes one
// idle writer, and a freed slot the emitters waiting for room, without a
// lost wake-up.
func TestETLSinkManyWriters(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	tb := outTable(t, e)
	s := newTableSink(tb, 16, 4, slog.New(slog.DiscardHandler))
	defer runSink(t, s)()
	const emitters, keys, rounds = 4, 25, 3
	errs := make(chan error, emitters)
	for g := range emitters {
		go func() {
			for r := range rounds {
				for k := range keys {
					row := record.New(2)
					row.Append("k", record.StringValue(fmt.Sprintf("g%d-k%d", g, k)))
					row.Append("v", record.LongValue(int64(r)))
					if err := s.emit(ctx, row, srcMeta{}, time.Now().UnixNano()); err != nil {
						errs <- err
						return
					}
				}
			}
			errs <- nil
		}()
	}
	for range emitters {
		require.NoError(t, <-errs)
	}
	wc, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, s.wait(wc, s.barrier()))
	for g := range emitters {
		for k := range keys {
			it, err := tb.Get(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("g%d-k%d", g, k))}, table.GetOptions{Consistent: true})
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(rounds-1), it["v"].N().String())
		}
	}
	require.Zero(t, s.pending())
}

// TestETLSinkFlushStartsWrites: flush starts the writes of the rows
// emitted before it in the caller's goroutine, without run: the newest row
// of each key, one write per key; with every writer busy it leaves the
// rows queued for run.
func TestETLSinkFlushStartsWrites(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	tb := outTable(t, e)
	s := newTableSink(tb, 2, 10, slog.New(slog.DiscardHandler))
	emit := func(k string, v int64) {
		t.Helper()
		r := record.New(2)
		r.Append("k", record.StringValue(k))
		r.Append("v", record.LongValue(v))
		require.NoError(t, s.emit(ctx, r, srcMeta{}, time.Now().UnixNano()))
	}
	get := func(k string) string {
		t.Helper()
		it, err := tb.Get(ctx, item.Key{Partition: item.StringValue(k)}, table.GetOptions{Consistent: true})
		require.NoError(t, err)
		require.NotNil(t, it, "item %s", k)
		return it["v"].N().String()
	}
	// As if run were running, but it is not: only flush can write.
	s.mu.Lock()
	s.mu.running = true
	s.mu.Unlock()
	emit("a", 1)
	emit("b", 1)
	emit("a", 2) // the batch's newest row of a
	s.flush()
	wc, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	require.NoError(t, s.wait(wc, s.barrier()), "flush wrote the rows")
	require.Equal(t, "2", get("a"))
	require.Equal(t, "1", get("b"))
	s.mu.Lock()
	require.Equal(t, uint64(2), s.mu.writes, "one write per key")
	// Both writers busy (writes of x and y in flight): c waits for run.
	s.mu.inflight["x"], s.mu.inflight["y"] = true, true
	s.mu.Unlock()
	emit("c", 3)
	s.flush()
	s.mu.Lock()
	require.NotNil(t, s.mu.pending["c"])
	require.Len(t, s.mu.queue, 1)
	delete(s.mu.inflight, "x")
	delete(s.mu.inflight, "y")
	s.mu.running = false
	s.mu.Unlock()
	defer runSink(t, s)()
	s.wakeWriter()
	require.NoError(t, s.wait(wc, s.barrier()), "run wrote the queued row")
	require.Equal(t, "3", get("c"))
}

// TestETLSinkQueueOrder: keys wait for a writer in the order they became
// pending; a key that got a new row while its write was in flight (a hot
// key) goes ahead of the keys that became pending after that row, not
// behind every key queued during its write.
func TestETLSinkQueueOrder(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	tb := outTable(t, e)
	s := newTableSink(tb, 1, 10, slog.New(slog.DiscardHandler))
	emit := func(k string, at int64) {
		t.Helper()
		r := record.New(1)
		r.Append("k", record.StringValue(k))
		require.NoError(t, s.emit(ctx, r, srcMeta{}, at))
	}
	emit("hot", 1)
	s.mu.Lock()
	key, sl := s.take() // its write is in flight
	s.mu.Unlock()
	require.Equal(t, "hot", key)
	emit("a", 2)
	emit("hot", 3) // during the write
	emit("b", 4)
	emit("a", 5) // coalesced: a stays pending since 2
	emit("c", 6)
	s.mu.Lock()
	s.written(key, sl)
	var order []string
	for len(s.mu.queue) > 0 {
		k, sl := s.take()
		order = append(order, k)
		s.written(k, sl)
	}
	s.mu.Unlock()
	require.Equal(t, []string{"a", "hot", "b", "c"}, order)
}

// outTable creates and opens the table "out", keyed by the string k.
func outTable(t *testing.T, e *testEnv) *table.Table {
	t.Helper()
	ctx := context.Background()
	_, err := e.tables.Create(ctx, table.Spec{Name: "out", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "k", Type: item.S}}})
	require.NoError(t, err)
	tb, err := e.tables.Open(ctx, "out")
	require.NoError(t, err)
	return tb
}

// TestETLSinkEncodedRows: a table sink stores each row as the item itemOf
// makes of it (it hands the table the row's binary form), the newest of a
// key while a write waits, with rows it was given reused after emit; a row
// the table refuses (a key of the wrong type) is reported and dropped, and
// the rows after it are written.
func TestETLSinkEncodedRows(t *testing.T) {
	e := newTestEnv(t, enginetest.Start(t))
	ctx := context.Background()
	tb := outTable(t, e)
	s := newTableSink(tb, 2, 10, slog.New(slog.DiscardHandler))
	var refused []error
	s.onError = func(err error) { refused = append(refused, err) }

	var row record.Record // reused, as the window reuses its row
	fill := func(k record.Value, v float64, when string) *record.Record {
		row.Reset()
		row.Append("v", record.DoubleValue(v))
		row.Append("k", k)
		ts, err := time.Parse(time.RFC3339Nano, when)
		require.NoError(t, err)
		row.Append("at", record.TimestampValue(ts))
		nested := row.Alloc()
		nested.Append("nan", record.DoubleValue(math.NaN()))
		nested.Append("d", record.DecimalValue(12345, 3))
		row.Append("m", record.StructValue(nested))
		return &row
	}
	require.NoError(t, s.emit(ctx, fill(record.StringValue("a"), 1.5, "2026-11-26T08:00:00Z"), srcMeta{}, 0))
	require.NoError(t, s.emit(ctx, fill(record.StringValue("b"), 2.5, "2026-11-26T08:00:01.5Z"), srcMeta{}, 0))
	want := itemOf(fill(record.StringValue("a"), 3.25, "2026-11-26T08:00:02.000000001Z"))
	require.NoError(t, s.emit(ctx, &row, srcMeta{}, 0), "replaces a's waiting row")
	require.NoError(t, s.emit(ctx, fill(record.LongValue(7), 4, "2026-11-26T08:00:03Z"), srcMeta{}, 0), "a key of the wrong type: refused by the table")
	ep := s.barrier()

	stop := runSink(t, s)
	wc, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	require.NoError(t, s.wait(wc, ep))
	stop()

	got, err := tb.Get(ctx, item.Key{Partition: item.StringValue("a")}, table.GetOptions{})
	require.NoError(t, err)
	require.True(t, want.Equal(got), "stored %s, want %s", got.AppendPlainJSON(nil), want.AppendPlainJSON(nil))
	require.Equal(t, `{"at":"2026-11-26T08:00:02.000000001Z","k":"a","m":{"d":12.345,"nan":null},"v":3.25}`, string(got.AppendPlainJSON(nil)))
	got, err = tb.Get(ctx, item.Key{Partition: item.StringValue("b")}, table.GetOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"at":"2026-11-26T08:00:01.5Z","k":"b","m":{"d":12.345,"nan":null},"v":2.5}`, string(got.AppendPlainJSON(nil)))
	require.Len(t, refused, 1)
	require.ErrorContains(t, refused[0], "Type mismatch for key k")
	require.Zero(t, s.pending())
}

// TestETLSinkSyncsAtBarrier: with fsync always, a table sink's writes do
// not wait for the engine's fsync one by one; waiting for an epoch (what a
// checkpoint does before it is committed) makes its rows durable with one
// sync of the table, and a wait with nothing written since syncs nothing.
func TestETLSinkSyncsAtBarrier(t *testing.T) {
	eng := enginetest.Start(t)
	e := newTestEnv(t, eng)
	ctx := context.Background()
	tb := outTable(t, e)
	s := newTableSink(tb, 4, 64, slog.New(slog.DiscardHandler))
	defer runSink(t, s)()

	_, waits0 := eng.SyncStats()
	for i := range 20 {
		r := record.New(2)
		r.Append("k", record.StringValue(fmt.Sprintf("k%d", i)))
		r.Append("v", record.LongValue(int64(i)))
		require.NoError(t, s.emit(ctx, r, srcMeta{}, 0))
	}
	ep := s.barrier()
	waitFor(t, 10*time.Second, func() error {
		if n := s.pending(); n > 0 {
			return fmt.Errorf("%d rows not written", n)
		}
		return nil
	})
	_, waits := eng.SyncStats()
	require.Equal(t, waits0, waits, "no write waited for a sync")
	for i := range 20 {
		it, err := tb.Get(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("k%d", i))}, table.GetOptions{Consistent: true})
		require.NoError(t, err)
		require.NotNil(t, it, "readers see a row once it is stored")
	}

	require.NoError(t, s.wait(ctx, ep))
	_, waits = eng.SyncStats()
	require.Equal(t, waits0+1, waits, "the epoch's rows made durable by one sync")
	require.NoError(t, s.wait(ctx, s.barrier()))
	_, again := eng.SyncStats()
	require.Equal(t, waits, again, "nothing written since: no sync")
}

// TestETLSinkWriteDeadline: a writer's writes get a deadline between half
// the timeout and the timeout away, the same context while more than half
// is left and a new one after, ending with the job's context.
func TestETLSinkWriteDeadline(t *testing.T) {
	parent, cancel := context.WithCancel(context.Background())
	const timeout = 10 * time.Second
	dl := writeDeadline{parent: parent, timeout: timeout}
	defer dl.stop()
	t0 := time.Now()
	first := dl.context(t0)
	for _, at := range []time.Duration{0, time.Second, timeout / 2} {
		ctx := dl.context(t0.Add(at))
		require.Same(t, first, ctx, "%v after the first write: the same context", at)
		d, ok := ctx.Deadline()
		require.True(t, ok)
		require.LessOrEqual(t, d.Sub(t0.Add(at)), timeout)
		require.GreaterOrEqual(t, d.Sub(t0.Add(at)), timeout/2)
	}
	later := dl.context(t0.Add(timeout/2 + time.Millisecond))
	require.NotSame(t, first, later, "less than half the timeout left: a new context")
	require.ErrorIs(t, first.Err(), context.Canceled, "the context replaced is released")
	d, _ := later.Deadline()
	require.Equal(t, t0.Add(timeout/2+time.Millisecond+timeout), d)
	require.NoError(t, later.Err())
	cancel()
	require.ErrorIs(t, later.Err(), context.Canceled, "the job's context ends the writes")
}

// TestETLSinkGoneFailsJob: a job whose sink table or stream is deleted
// fails at once with an error saying so (its writes would otherwise wait
// for acknowledgements that never come, or be dropped as refused), keeps
// the rows it could not write for its next run, and once the sink exists
// again writes them there from its last checkpoint.
func TestETLSinkGoneFailsJob(t *testing.T) {
	for _, kind := range []string{"table", "stream"} {
		t.Run(kind, func(t *testing.T) {
			e := newTestEnv(t, enginetest.Start(t))
			ctx := context.Background()
			src, features := e.clicksAndFeatures(t, 1)
			const prompt = 5 * time.Second
			require.GreaterOrEqual(t, features.WriteTimeout(), 2*prompt, "a failure within %v is not a write timing out", prompt)
			doc := countJob
			if kind == "stream" {
				_, err := e.streams.Create(ctx, stream.Spec{Name: "out", Partitions: 1})
				require.NoError(t, err)
				doc = strings.Replace(countJob, "sink: {table: features}", "sink: {stream: out, partition_key: product_id}", 1)
			}
			m, _ := e.startManager(t)
			spec, err := Decode([]byte(doc))
			require.NoError(t, err)
			_, err = m.Apply(ctx, spec)
			require.NoError(t, err)
			put(t, src, clickAt(1, "view", "p1", 10))
			waitFor(t, 10*time.Second, func() error {
				if st, err := m.Status(ctx, "counts"); err != nil || st.RowsWritten == 0 {
					return fmt.Errorf("nothing written yet (%v)", err)
				}
				return nil
			})

			if kind == "table" {
				require.NoError(t, e.tables.Delete(ctx, "features"))
			} else {
				require.NoError(t, e.streams.Delete(ctx, "out"))
			}
			put(t, src, clickAt(2, "view", "p2", 10), clickAt(3, "view", "p3", 10))
			waitFor(t, prompt, func() error {
				st, err := m.Status(ctx, "counts")
				if err != nil {
					return err
				}
				if !strings.Contains(st.Error, "not found") {
					return fmt.Errorf("state %s, error %q: the job has not failed on its sink", st.State, st.Error)
				}
				return nil
			})

			// The sink again: the rows of p2 and p3 get there.
			want := map[string]bool{"p2": true, "p3": true}
			if kind == "table" {
				_, err := e.tables.Create(ctx, table.Spec{Name: "features", Key: item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}})
				require.NoError(t, err)
				again, err := e.tables.Open(ctx, "features")
				require.NoError(t, err)
				waitFor(t, 30*time.Second, func() error {
					for id := range want {
						if it, err := again.Get(ctx, item.Key{Partition: item.StringValue(id)}, table.GetOptions{Consistent: true}); err != nil || it == nil {
							return fmt.Errorf("%s: not written yet (err %v)", id, err)
						}
					}
					return nil
				})
				return
			}
			_, err = e.streams.Create(ctx, stream.Spec{Name: "out", Partitions: 1})
			require.NoError(t, err)
			out, err := e.streams.Open(ctx, "out")
			require.NoError(t, err)
			waitFor(t, 30*time.Second, func() error {
				res, err := out.Read(ctx, 0, stream.Position{}, stream.ReadOptions{})
				if err != nil {
					return err
				}
				got := map[string]bool{}
				for _, r := range res.Records {
					got[r.PartitionKey] = true
				}
				for id := range want {
					if !got[id] {
						return fmt.Errorf("%s: not appended yet (have %v)", id, got)
					}
				}
				return nil
			})
		})
	}
}
