package table

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

func batchedSpec(name string) Spec {
	return Spec{Name: name, StreamView: ViewNewAndOldImgs, Writes: WritesBatched}
}

// batchRow is the item pk with version v.
func batchRow(pk string, v int) item.Item {
	return item.Item{"pk": item.StringValue(pk), "v": item.IntValue(int64(v))}
}

func batchBin(t testing.TB, pk string, v int) []byte {
	t.Helper()
	b, err := batchRow(pk, v).AppendBinary(nil)
	require.NoError(t, err)
	return b
}

// readAll reads every change of tb from position from on with a
// subscription, until it has n.
func readAll(t *testing.T, tb *Table, p Position, n int) []*Change {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	s, err := tb.Subscribe(ctx, p)
	require.NoError(t, err)
	defer s.Stop()
	var out []*Change
	for len(out) < n {
		cs, err := s.NextBatch(ctx, n-len(out))
		require.NoError(t, err)
		out = append(out, cs...)
	}
	return out
}

// TestTableBatchedWrites: writes to a table of batched writes, made at
// once from many goroutines, are stored many to an engine message; reads
// see each item's last write; the change stream holds every write once, in
// order, numbered by position without gaps, with INSERT, MODIFY and REMOVE
// and the old images; reads from a position in the middle of a batch start
// there; and an index rebuilt after a restart, from its snapshot or from
// the engine, holds the same items and numbers the next write on.
func TestTableBatchedWrites(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	snaps := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	cfg := Config{SnapshotDir: snaps}
	m, err := New(cfg, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	spec := batchedSpec("batched")
	spec.Key = item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	info, err := m.Create(ctx, spec)
	require.NoError(t, err)
	require.Equal(t, WritesBatched, info.Writes)
	tb, err := m.Open(ctx, "batched")
	require.NoError(t, err)

	// 40 writers, each of its own 5 keys, 10 versions each: 2,000 writes,
	// half through PutEncodedAsync (waiting for each before the next of
	// its key), half through Put.
	const writers, keysPer, versions = 40, 5, 10
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Go(func() {
			for v := range versions {
				for k := range keysPer {
					pk := fmt.Sprintf("w%02d-k%d", w, k)
					if w%2 == 0 {
						done := make(chan error, 1)
						tb.PutEncodedAsync(batchBin(t, pk, v), func(pos uint64, err error) {
							if err == nil && pos == 0 {
								err = errors.New("a new version stored nothing")
							}
							done <- err
						})
						if err := <-done; err != nil {
							errs <- err
							return
						}
						continue
					}
					res, err := tb.Put(ctx, batchRow(pk, v), WriteOptions{NoSync: true})
					if err != nil {
						errs <- err
						return
					}
					if !res.Written || res.Seq == 0 {
						errs <- fmt.Errorf("put %s v%d: not written", pk, v)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	const n = writers * keysPer * versions
	require.NoError(t, tb.Sync(ctx))
	st, err := tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, StreamState{FirstSeq: 1, LastSeq: n}, st)
	d, err := m.Describe(ctx, "batched")
	require.NoError(t, err)
	require.Less(t, d.Messages, uint64(n), "writes made at once share messages")
	t.Logf("%d writes in %d engine messages", n, d.Messages)
	require.Equal(t, int64(writers*keysPer), tb.Info().Items)

	got, err := tb.Get(ctx, item.Key{Partition: item.StringValue("w07-k3")}, GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, batchRow("w07-k3", versions-1), got)

	// The change stream: every write once, positions 1..n, each key's
	// versions in order with the old image of the one before.
	cs := readAll(t, tb, Position{Kind: TrimHorizon}, n)
	last := map[string]int64{}
	for i, c := range cs {
		require.Equal(t, uint64(i+1), c.Seq)
		pk := c.Keys["pk"].S()
		v, _ := c.New["v"].N().Int64()
		prev, seen := last[pk]
		if !seen {
			require.Equal(t, EventInsert, c.Event, "change %d", c.Seq)
			require.Nil(t, c.Old)
			require.Equal(t, int64(0), v)
		} else {
			require.Equal(t, EventModify, c.Event, "change %d", c.Seq)
			require.Equal(t, prev+1, v, "%s's versions in order", pk)
			old, _ := c.Old["v"].N().Int64()
			require.Equal(t, prev, old)
		}
		last[pk] = v
	}

	// From a position inside a batch: that change first, by subscription
	// and by ReadChanges, which continues from where it stopped.
	mid := readAll(t, tb, Position{Kind: AtSeq, Seq: 1234}, 3)
	require.Equal(t, []uint64{1234, 1235, 1236}, []uint64{mid[0].Seq, mid[1].Seq, mid[2].Seq})
	after := readAll(t, tb, Position{Kind: AfterSeq, Seq: 1234}, 1)
	require.Equal(t, uint64(1235), after[0].Seq)
	page, next, err := tb.ReadChanges(ctx, 999, 7)
	require.NoError(t, err)
	require.Len(t, page, 7)
	require.Equal(t, uint64(999), page[0].Seq)
	require.Equal(t, uint64(1006), next)
	page, next, err = tb.ReadChanges(ctx, next, 2)
	require.NoError(t, err)
	require.Equal(t, []uint64{1006, 1007}, []uint64{page[0].Seq, page[1].Seq})
	require.Equal(t, uint64(1008), next)
	page, next, err = tb.ReadChanges(ctx, n+1, 10)
	require.NoError(t, err)
	require.Empty(t, page)
	require.Equal(t, uint64(n+1), next)

	// A put of the item as it is stores nothing; a delete is a REMOVE
	// with the old image; deleting what is not there stores nothing.
	res, err := tb.Put(ctx, batchRow("w07-k3", versions-1), WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written)
	res, err = tb.Delete(ctx, item.Key{Partition: item.StringValue("w07-k3")}, WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(n+1), res.Seq)
	require.Equal(t, batchRow("w07-k3", versions-1), res.Old())
	res, err = tb.Delete(ctx, item.Key{Partition: item.StringValue("w07-k3")}, WriteOptions{})
	require.NoError(t, err)
	require.False(t, res.Written)
	rm := readAll(t, tb, Position{Kind: AtSeq, Seq: n + 1}, 1)[0]
	require.Equal(t, EventRemove, rm.Event)
	old, _ := rm.Old["v"].N().Int64()
	require.Equal(t, int64(versions-1), old)
	got, err = tb.Get(ctx, item.Key{Partition: item.StringValue("w07-k3")}, GetOptions{})
	require.NoError(t, err)
	require.Nil(t, got)

	// BatchWrite: its requests in one batch when nothing else is written.
	before, err := m.Describe(ctx, "batched")
	require.NoError(t, err)
	var reqs []WriteRequest
	for i := range 25 {
		reqs = append(reqs, WriteRequest{Put: batchRow(fmt.Sprintf("bw%02d", i), 1)})
	}
	applied, err := tb.BatchWrite(ctx, reqs)
	require.NoError(t, err)
	require.Equal(t, 25, applied)
	afterBW, err := m.Describe(ctx, "batched")
	require.NoError(t, err)
	require.Equal(t, before.Messages+1, afterBW.Messages)

	want := scanAll(t, tb)
	require.NoError(t, m.Close())

	// Restart with the snapshot the close wrote, then without one.
	for i, snapDir := range []string{snaps, ""} {
		m, err = New(Config{SnapshotDir: snapDir}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
		require.NoError(t, err)
		tb, err = m.Open(ctx, "batched")
		require.NoError(t, err)
		require.Equal(t, want, scanAll(t, tb), "snapshot dir %q", snapDir)
		if snapDir != "" {
			require.Equal(t, 1.0, testutil.ToFloat64(m.metrics.snapshotLoads.WithLabelValues("loaded")))
		}
		res, err := tb.Put(ctx, batchRow(fmt.Sprintf("after-restart-%d", i), 1), WriteOptions{})
		require.NoError(t, err)
		st, err := tb.StreamState(ctx)
		require.NoError(t, err)
		require.Equal(t, st.LastSeq, res.Seq, "the next write numbered after the last")
		want = scanAll(t, tb)
		require.NoError(t, m.Close())
	}
	require.Equal(t, uint64(n+1+25+2), tbLast(t, e))
}

// tbLast returns the last position of table "batched" as a new manager
// reads it.
func tbLast(t *testing.T, e *engine.Engine) uint64 {
	t.Helper()
	m, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	defer m.Close()
	tb, err := m.Open(context.Background(), "batched")
	require.NoError(t, err)
	st, err := tb.StreamState(context.Background())
	require.NoError(t, err)
	return st.LastSeq
}

// scanAll returns every item of tb as plain JSON, in key order.
func scanAll(t *testing.T, tb *Table) []string {
	t.Helper()
	page, err := tb.Scan(context.Background(), ScanInput{Consistent: true})
	require.NoError(t, err)
	out := make([]string, len(page.Items))
	for i, it := range page.Items {
		out[i] = string(it.AppendPlainJSON(nil))
	}
	return out
}

// TestTableBatchedRefusals: what a table of batched writes does not take
// is refused with an error that says so, and a definition that asks for
// what it cannot keep is refused at creation.
func TestTableBatchedRefusals(t *testing.T) {
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, batchedSpec("refuse"))
	k := item.Key{Partition: item.StringValue("a")}
	_, err := tb.Put(ctx, batchRow("a", 1), WriteOptions{})
	require.NoError(t, err)

	isRefusal := func(err error, what string) {
		t.Helper()
		require.ErrorIs(t, err, ErrInvalidArgument)
		require.ErrorContains(t, err, "batched")
		require.ErrorContains(t, err, what)
	}
	c, err := expr.CompileCondition("attribute_exists(pk)", nil, nil)
	require.NoError(t, err)
	_, err = tb.Put(ctx, batchRow("a", 2), WriteOptions{Condition: c})
	isRefusal(err, "condition")
	_, err = tb.Delete(ctx, k, WriteOptions{Condition: c})
	isRefusal(err, "condition")
	u, err := expr.CompileUpdate("SET v = v + :one", nil, map[string]item.Value{":one": item.IntValue(1)})
	require.NoError(t, err)
	_, err = tb.Update(ctx, k, u, WriteOptions{})
	isRefusal(err, "UpdateItem")
	_, err = tb.Modify(ctx, k, func(cur item.Item) (item.Item, error) { return cur, nil })
	isRefusal(err, "Modify")
	err = m.TransactWrite(ctx, []TransactAction{{Kind: TransactPut, Table: tb, Item: batchRow("b", 1)}})
	isRefusal(err, "transaction")
	_, err = m.UpdateTTL(ctx, "refuse", "expires")
	isRefusal(err, "Time to Live")

	// Nothing refused was stored.
	got, err := tb.Get(ctx, k, GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, batchRow("a", 1), got)

	spec := batchedSpec("latest-batched")
	spec.Key = tb.schema
	spec.ChangeHistory = HistoryLatest
	_, err = m.Create(ctx, spec)
	isRefusal(err, "latest")
	spec = batchedSpec("ttl-batched")
	spec.Key = tb.schema
	spec.TTLAttribute = "expires"
	_, err = m.Create(ctx, spec)
	isRefusal(err, "Time to Live")
	spec = batchedSpec("bad-writes")
	spec.Key = tb.schema
	spec.Writes = "sometimes"
	_, err = m.Create(ctx, spec)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.ErrorContains(t, err, `writes "sometimes": want item or batched`)
}

// TestTableBatchedCompaction: the batches older than the change retention
// go, but for the last; the items whose current version they held are
// written again first, as no change; deleted items' tombstones go with
// them; reads, the change stream and an index rebuilt from what is left
// agree, and the positions go on.
func TestTableBatchedCompaction(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	m, tb := pkTable(t, e, Config{}, batchedSpec("compact"))
	put := func(pk string, v int) {
		t.Helper()
		_, err := tb.Put(ctx, batchRow(pk, v), WriteOptions{})
		require.NoError(t, err)
	}
	// One write per batch: a0 a1 b0 c0, c deleted, d0, a2.
	put("a", 0)
	put("a", 1)
	put("b", 0)
	put("c", 0)
	_, err := tb.Delete(ctx, item.Key{Partition: item.StringValue("c")}, WriteOptions{})
	require.NoError(t, err)
	put("d", 0)
	put("a", 2)
	st, err := tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, StreamState{FirstSeq: 1, LastSeq: 7}, st)
	want := scanAll(t, tb)

	// Where a pass cuts without the index's marks (as after an index
	// loaded from its snapshot): the first batch written at or after the
	// cutoff, or the last.
	for cutoff, wantSeq := range map[int64]uint64{0: 1, time.Now().Add(time.Hour).UnixNano(): 7} {
		got, err := m.batchAtTime(ctx, tb, 1, 7, cutoff)
		require.NoError(t, err)
		require.Equal(t, wantSeq, got)
	}

	// Within the retention nothing goes.
	require.NoError(t, m.compact(ctx, tb, time.Now()))
	d, err := m.Describe(ctx, "compact")
	require.NoError(t, err)
	require.Equal(t, uint64(7), d.Messages)

	// Past it, the six older batches go; b and d, whose current versions
	// they held, are written again (a's is in the last batch, which
	// stays); c's tombstone goes.
	require.NoError(t, m.compact(ctx, tb, time.Now().Add(DefaultRetention+time.Minute)))
	d, err = m.Describe(ctx, "compact")
	require.NoError(t, err)
	require.Equal(t, uint64(2), d.Messages, "the last batch and one of the restores")
	require.Equal(t, 2.0, testutil.ToFloat64(m.metrics.rewritten.WithLabelValues("compact")))
	require.Equal(t, want, scanAll(t, tb))
	require.Nil(t, tb.ix.get(string(compactKey("c").AppendOrdered(nil))), "the tombstone left the index")
	require.NotNil(t, tb.ix.get(string(compactKey("b").AppendOrdered(nil))))

	// The change stream from the start holds the last change only: the
	// restores are no changes. It reports where it starts.
	st, err = tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, StreamState{FirstSeq: 7, LastSeq: 9}, st)
	cs, next, err := tb.ReadChanges(ctx, 1, 100)
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.Equal(t, uint64(7), cs[0].Seq)
	require.Equal(t, uint64(10), next)

	// A restore is written while the version it copies is current, and
	// not once another replaced it. d's current version is its restore,
	// at 8 or 9 (b's is the other).
	restore := func(of uint64) uint64 {
		t.Helper()
		type result struct {
			pos uint64
			err error
		}
		res := make(chan result, 1)
		tb.bat.add(&batchWrite{op: opRestore, key: compactKey("d").AppendOrdered(nil), item: batchBin(t, "d", 0), of: of, start: time.Now(), done: func(pos uint64, _ []byte, err error) {
			res <- result{pos, err}
		}})
		r := <-res
		require.NoError(t, r.err)
		return r.pos
	}
	dpos := tb.ix.get(string(compactKey("d").AppendOrdered(nil))).seq
	require.Contains(t, []uint64{8, 9}, dpos)
	require.Equal(t, uint64(10), restore(dpos))
	require.Zero(t, restore(dpos), "the version restored was replaced by its restore at 10")
	require.Zero(t, restore(6), "and the one at 6 long before")

	// A new write goes on from the last position; a restart rebuilds the
	// same items from what is left.
	put("e", 0)
	want = scanAll(t, tb)
	st, err = tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(11), st.LastSeq)
	require.NoError(t, m.Close())
	m2, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	defer m2.Close()
	tb2, err := m2.Open(ctx, "compact")
	require.NoError(t, err)
	require.Equal(t, want, scanAll(t, tb2))
	res2, err := tb2.Put(ctx, batchRow("f", 0), WriteOptions{})
	require.NoError(t, err)
	require.Equal(t, uint64(12), res2.Seq)
}

// TestTableBatchedConcurrentWriters: two managers (two processes) writing
// one table of batched writes at once: every write is stored once, with
// positions that neither overlap nor leave gaps, and each index ends with
// the same items.
func TestTableBatchedConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	m1, tb1 := pkTable(t, e, Config{}, batchedSpec("two"))
	m2, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	defer m2.Close()
	tb2, err := m2.Open(ctx, "two")
	require.NoError(t, err)
	const per = 300
	var wg sync.WaitGroup
	errs := make(chan error, 2)
	for i, tb := range []*Table{tb1, tb2} {
		wg.Go(func() {
			for j := range per {
				if _, err := tb.Put(ctx, batchRow(fmt.Sprintf("m%d-%03d", i, j), j), WriteOptions{NoSync: true}); err != nil {
					errs <- err
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
	cs := readAll(t, tb1, Position{Kind: TrimHorizon}, 2*per)
	for i, c := range cs {
		require.Equal(t, uint64(i+1), c.Seq)
	}
	require.Equal(t, scanAll(t, tb1), scanAll(t, tb2))
	require.Len(t, scanAll(t, tb1), 2*per)
	require.Positive(t, testutil.ToFloat64(m1.metrics.conflicts.WithLabelValues("two"))+testutil.ToFloat64(m2.metrics.conflicts.WithLabelValues("two")),
		"the writers met (if this fails, the two never raced: a test of nothing)")
}
