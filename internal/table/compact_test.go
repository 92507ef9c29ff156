package table

import (
	"context"
	"fmt"
	"math"
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

// compactFixture makes a table of the given history and writes a three
// times, b and its deletion, then c: six messages.
func compactFixture(t *testing.T, history History) (*Manager, *Table) {
	t.Helper()
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "compact", StreamView: ViewNewAndOldImgs, ChangeHistory: history})
	put := func(pk string, n int64) {
		_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(pk), "n": item.IntValue(n)}, WriteOptions{})
		require.NoError(t, err)
	}
	for i := range 3 {
		put("a", int64(i))
	}
	put("b", 1)
	_, err := tb.Delete(ctx, compactKey("b"), WriteOptions{})
	require.NoError(t, err)
	put("c", 1)
	require.NoError(t, tb.ix.waitFor(ctx, tb.lastWrite.Load()))
	st, err := tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, uint64(6), st.LastSeq)
	return m, tb
}

func compactKey(pk string) item.Key { return item.Key{Partition: item.StringValue(pk)} }

// compactWrites makes the writes of the compaction tests to a table keyed
// by pk.
type compactWrites struct {
	t  *testing.T
	tb *Table
}

// put writes the item pk (its attribute "at" the time) and returns its
// sequence.
func (w compactWrites) put(pk string) uint64 {
	w.t.Helper()
	res, err := w.tb.Put(context.Background(), item.Item{"pk": item.StringValue(pk), "at": item.IntValue(time.Now().UnixNano())}, WriteOptions{})
	require.NoError(w.t, err)
	return res.Seq
}

// del deletes the item pk.
func (w compactWrites) del(pk string) {
	w.t.Helper()
	_, err := w.tb.Delete(context.Background(), compactKey(pk), WriteOptions{})
	require.NoError(w.t, err)
}

// mark returns a time after every write so far and before the next.
func (w compactWrites) mark() time.Time {
	w.t.Helper()
	require.NoError(w.t, w.tb.ix.waitFor(context.Background(), w.tb.lastWrite.Load()))
	at := time.Now()
	for time.Now() == at { // the next write's time is later
	}
	return at
}

// pkTable starts a manager of cfg on e, and creates and opens the table
// spec describes, keyed by the string attribute pk.
func pkTable(t *testing.T, e *engine.Engine, cfg Config, spec Spec) (*Manager, *Table) {
	t.Helper()
	ctx := context.Background()
	m, err := New(cfg, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	spec.Key = item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	_, err = m.Create(ctx, spec)
	require.NoError(t, err)
	tb, err := m.Open(ctx, spec.Name)
	require.NoError(t, err)
	return m, tb
}

func TestTableCompact(t *testing.T) {
	ctx := context.Background()
	m, tb := compactFixture(t, HistoryAll)
	k := compactKey

	// Within the retention nothing goes.
	require.NoError(t, m.compact(ctx, tb, time.Now()))
	info, err := m.Describe(ctx, "compact")
	require.NoError(t, err)
	require.Equal(t, uint64(6), info.Messages)

	// Two days later: a keeps its current version, b's tombstone goes, c stays.
	require.NoError(t, m.compact(ctx, tb, time.Now().Add(48*time.Hour)))
	info, err = m.Describe(ctx, "compact")
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.Messages)
	got, err := tb.Get(ctx, k("a"), GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, `{"n":2,"pk":"a"}`, string(got.AppendPlainJSON(nil)))
	require.Nil(t, tb.ix.get(string(k("b").AppendOrdered(nil))), "the tombstone left the index")
	tb.ix.mu.RLock()
	require.Empty(t, tb.ix.mu.dirty)
	tb.ix.mu.RUnlock()

	// b can be created again (its subject is empty), and the change stream
	// still reads from the oldest change kept.
	_, err = tb.Put(ctx, item.Item{"pk": item.StringValue("b"), "n": item.IntValue(9)}, WriteOptions{Condition: nil})
	require.NoError(t, err)
	cs, _, err := tb.ReadChanges(ctx, 1, 100)
	require.NoError(t, err)
	require.Len(t, cs, 3) // a's current version (MODIFY), c (INSERT), b again (INSERT)
	require.Equal(t, EventInsert, cs[2].Event)
}

// TestTableCompactLatest: a table of HistoryLatest holds one version per
// item; compaction only takes the tombstones past the retention.
func TestTableCompactLatest(t *testing.T) {
	ctx := context.Background()
	m, tb := compactFixture(t, HistoryLatest)
	k := compactKey
	messages := func() uint64 {
		info, err := m.Describe(ctx, "compact")
		require.NoError(t, err)
		return info.Messages
	}
	require.Equal(t, uint64(3), messages())

	require.NoError(t, m.compact(ctx, tb, time.Now()))
	require.Equal(t, uint64(3), messages(), "within the retention the tombstone stays")
	tb.ix.mu.RLock()
	require.Len(t, tb.ix.mu.dirty, 1, "only the tombstone is left to trim")
	tb.ix.mu.RUnlock()

	require.NoError(t, m.compact(ctx, tb, time.Now().Add(48*time.Hour)))
	require.Equal(t, uint64(2), messages())
	require.Nil(t, tb.ix.get(string(k("b").AppendOrdered(nil))), "the tombstone left the index")
	tb.ix.mu.RLock()
	require.Empty(t, tb.ix.mu.dirty)
	tb.ix.mu.RUnlock()
	got, err := tb.Get(ctx, k("a"), GetOptions{Consistent: true})
	require.NoError(t, err)
	require.Equal(t, `{"n":2,"pk":"a"}`, string(got.AppendPlainJSON(nil)))
}

// TestTableCompactPassesOverRecentChanges: a pass asks the engine to trim
// only the keys whose subjects hold a change older than the retention (a
// deleted item's version before its tombstone, the tombstone itself), so
// that a table with many recent changes and deletions (an orders table
// whose items expire) is not sent a request per dirty key every pass; and
// a subject trimmed down to its current version is left alone until that
// version's time comes.
func TestTableCompactPassesOverRecentChanges(t *testing.T) {
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "compact", StreamView: ViewNewImage})
	w := compactWrites{t, tb}
	put, del, mark := w.put, w.del, w.mark
	purges := func() float64 { return testutil.ToFloat64(m.metrics.compacted.WithLabelValues("compact")) }
	messages := func() uint64 {
		info, err := m.Describe(ctx, "compact")
		require.NoError(t, err)
		return info.Messages
	}
	retention := tb.retention

	put("old")
	put("gone")
	put("hot")
	mark1 := mark()
	const n = 10
	for i := range n {
		put(fmt.Sprint("fresh", i))
		put(fmt.Sprint("fresh", i))
		put(fmt.Sprint("del", i))
		del(fmt.Sprint("del", i))
	}
	mark2 := mark()
	put("x")
	del("gone")
	put("hot")
	mark()
	total := messages()
	require.Equal(t, uint64(3+4*n+3), total)

	// Changes before mark1 past the retention: hot's and gone's first
	// versions go (gone's tombstone, from after mark2, stays); the ten
	// fresh and ten deleted keys, all younger, are not asked about.
	require.NoError(t, m.compact(ctx, tb, mark1.Add(retention)))
	require.Equal(t, 2.0, purges())
	require.Equal(t, total-2, messages())

	// Up to mark2: the fresh keys' first versions go, and the deleted keys
	// (put and tombstone, together): 20 keys; gone (its tombstone) and hot
	// (its current version), both from after mark2, are passed over.
	require.NoError(t, m.compact(ctx, tb, mark2.Add(retention)))
	require.Equal(t, 22.0, purges())
	require.Equal(t, total-2-3*n, messages())

	// Two days on: gone's tombstone goes too; nothing is left to trim.
	require.NoError(t, m.compact(ctx, tb, time.Now().Add(48*time.Hour)))
	require.Equal(t, 23.0, purges())
	require.Equal(t, uint64(3+n), messages(), "old, hot, x and the fresh keys' current versions")
	tb.ix.mu.RLock()
	require.Empty(t, tb.ix.mu.dirty)
	tb.ix.mu.RUnlock()
	require.NoError(t, m.compact(ctx, tb, time.Now().Add(96*time.Hour)))
	require.Equal(t, 23.0, purges())
}

// TestTableCompactFloor: when every message below a point of the stream
// is a replaced or deleted version past the retention (a table whose
// items all expire in time), a pass removes them in one request (the
// stream below its floor) instead of one or two a key, and the index
// forgets the deleted items as the engine does; an item never written
// again holds the floor where it is, and a transaction's lock marker stops
// it.
func TestTableCompactFloor(t *testing.T) {
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "orders", StreamView: ViewNewImage})
	w := compactWrites{t, tb}
	put, del, mark := w.put, w.del, w.mark
	requests := func() float64 { return testutil.ToFloat64(m.metrics.compactRequests.WithLabelValues("orders")) }
	trimmed := func() float64 { return testutil.ToFloat64(m.metrics.compacted.WithLabelValues("orders")) }
	state := func() (first, msgs uint64) {
		t.Helper()
		st, err := tb.StreamState(ctx)
		require.NoError(t, err)
		info, err := m.Describe(ctx, "orders")
		require.NoError(t, err)
		return st.FirstSeq, info.Messages
	}

	const n = 40
	for i := range n {
		put(fmt.Sprint("o", i))
	}
	for i := range n {
		del(fmt.Sprint("o", i))
	}
	mark1 := mark()
	live := put("live") // the one item, newer than the cutoff
	mark()

	// Within the retention nothing goes.
	require.NoError(t, m.compact(ctx, tb, time.Now()))
	require.Zero(t, requests())

	// Past mark1's retention: every message before live is a deleted
	// order's put or tombstone: one request removes the 80.
	require.NoError(t, m.compact(ctx, tb, mark1.Add(tb.retention)))
	require.Equal(t, 1.0, requests(), "one purge below the floor, not a request per order")
	require.Equal(t, float64(n), trimmed())
	first, msgs := state()
	require.Equal(t, live, first)
	require.Equal(t, uint64(1), msgs)
	tb.ix.mu.RLock()
	require.Empty(t, tb.ix.mu.dirty)
	require.Len(t, tb.ix.mu.keys, 1, "the tombstones left the index")
	tb.ix.mu.RUnlock()
	// An order can be placed again under an old key, as new: the index
	// and the engine agree that its subject is empty.
	notExists, err := expr.CompileCondition("attribute_not_exists(pk)", nil, nil)
	require.NoError(t, err)
	_, err = tb.Put(ctx, item.Item{"pk": item.StringValue("o3")}, WriteOptions{Condition: notExists})
	require.NoError(t, err)
	// A pass with nothing new below the floor asks nothing.
	require.NoError(t, m.compact(ctx, tb, mark1.Add(tb.retention)))
	require.Equal(t, 1.0, requests())

	// An item never written again holds the floor: pinned's put stays
	// below the next orders, whose puts and tombstones then go key by
	// key (two requests each).
	pinned := put("pinned")
	for i := range 3 {
		put(fmt.Sprint("p", i))
	}
	for i := range 3 {
		del(fmt.Sprint("p", i))
	}
	mark2 := mark()
	put("last")
	mark()
	require.NoError(t, m.compact(ctx, tb, mark2.Add(tb.retention)))
	require.Equal(t, 1.0+6, requests(), "nothing new below the floor (live); the p orders one by one")
	first, _ = state()
	require.LessOrEqual(t, first, pinned)
	got, err := tb.Get(ctx, compactKey("pinned"), GetOptions{Consistent: true})
	require.NoError(t, err)
	require.NotNil(t, got)

	// A lock marker of an undecided transaction stops the floor.
	it := item.Item{"pk": item.StringValue("pinned")}
	bin, err := it.MarshalBinary()
	require.NoError(t, err)
	kb := compactKey("pinned").AppendOrdered(nil)
	lock := version{op: opLock, time: time.Now().UnixNano(), key: kb, item: bin, txn: []byte("t-1"), finalOp: opPut, final: bin}
	seq, err := engine.PublishExpect(ctx, m.nc, tb.subject(kb), appendVersion(nil, &lock), pinned)
	require.NoError(t, err)
	require.NoError(t, tb.ix.waitFor(ctx, seq))
	_, ok := tb.ix.floor(math.MaxUint64)
	require.False(t, ok, "no floor while an item is locked")
}

// TestTableCompactFloorMovesMarks: a deleted item whose put lies below
// the floor and whose tombstone above is left with its tombstone alone in
// the work list, removed by its sequence when its time comes.
func TestTableCompactFloorMovesMarks(t *testing.T) {
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "orders", StreamView: ViewNewImage})
	w := compactWrites{t, tb}
	w.put("q")
	r := w.put("r") // never written again: the floor
	w.del("q")
	w.put("s")
	require.NoError(t, tb.ix.waitFor(ctx, tb.lastWrite.Load()))
	qk := string(compactKey("q").AppendOrdered(nil))
	tomb := tb.ix.get(qk).seq

	n, err := m.compactBelowFloor(ctx, tb, tomb+1)
	require.NoError(t, err)
	require.Zero(t, n, "q's tombstone is above the floor")
	st, err := tb.StreamState(ctx)
	require.NoError(t, err)
	require.Equal(t, r, st.FirstSeq, "q's put went")
	tb.ix.mu.RLock()
	require.Equal(t, dirtyMark{due: tomb, prev: tomb}, tb.ix.mu.dirty[qk])
	tb.ix.mu.RUnlock()

	// Its time come, the tombstone goes by its sequence: one request.
	require.NoError(t, m.compact(ctx, tb, time.Now().Add(48*time.Hour)))
	require.Equal(t, 2.0, testutil.ToFloat64(m.metrics.compactRequests.WithLabelValues("orders")))
	require.Nil(t, tb.ix.get(qk))
	info, err := m.Describe(ctx, "orders")
	require.NoError(t, err)
	require.Equal(t, uint64(2), info.Messages, "r and s")
}

// TestTableIndexFloorChunks: the floor's scan reads the index a chunk at a
// time and finds the oldest current version wherever it is in key order.
func TestTableIndexFloorChunks(t *testing.T) {
	ctx := context.Background()
	_, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "floor"})
	n := 2*floorChunk + 10
	var oldest uint64
	for i := n - 1; i >= 0; i-- { // the first written has the last key
		res, err := tb.Put(ctx, item.Item{"pk": item.StringValue(fmt.Sprintf("k%05d", i))}, WriteOptions{Unchecked: true, NoSync: true})
		require.NoError(t, err)
		if oldest == 0 {
			oldest = res.Seq
		}
	}
	require.NoError(t, tb.ix.waitFor(ctx, tb.lastWrite.Load()))
	f, ok := tb.ix.floor(math.MaxUint64)
	require.True(t, ok)
	require.Equal(t, oldest, f)
	f, _ = tb.ix.floor(3)
	require.Equal(t, min(oldest, 3), f, "no later than the cutoff's sequence")

	// The oldest written again, the next oldest holds the floor.
	_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(fmt.Sprintf("k%05d", n-1)), "v": item.IntValue(2)}, WriteOptions{})
	require.NoError(t, err)
	require.NoError(t, tb.ix.waitFor(ctx, tb.lastWrite.Load()))
	f, _ = tb.ix.floor(math.MaxUint64)
	require.Equal(t, oldest+1, f)
}

// TestTableHistoryMetrics: each compaction pass reads what the table's
// stream holds, for pricestream_table_history_*.
func TestTableHistoryMetrics(t *testing.T) {
	ctx := context.Background()
	m, tb := pkTable(t, enginetest.Start(t), Config{}, Spec{Name: "hist"})
	c := &indexCollector{m}
	require.Zero(t, testutil.CollectAndCount(c, "pricestream_table_history_messages"), "nothing before the first pass")
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(c)
	gauge := func(name string) float64 {
		t.Helper()
		mfs, err := reg.Gather()
		require.NoError(t, err)
		for _, mf := range mfs {
			if mf.GetName() == name {
				return mf.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatalf("no metric %s", name)
		return 0
	}
	before := time.Now()
	for _, pk := range []string{"a", "b"} {
		_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(pk)}, WriteOptions{})
		require.NoError(t, err)
	}
	_, err := tb.Delete(ctx, compactKey("b"), WriteOptions{})
	require.NoError(t, err)
	_, err = tb.Put(ctx, item.Item{"pk": item.StringValue("c")}, WriteOptions{})
	require.NoError(t, err)

	require.NoError(t, tb.readStats(ctx))
	require.Equal(t, 4.0, gauge("pricestream_table_history_messages"))
	require.Positive(t, gauge("pricestream_table_history_bytes"))
	require.InDelta(t, float64(before.UnixNano())/1e9, gauge("pricestream_table_history_oldest_timestamp_seconds"), 5)

	require.NoError(t, m.compact(ctx, tb, time.Now().Add(48*time.Hour)))
	require.NoError(t, tb.readStats(ctx))
	require.Equal(t, 2.0, gauge("pricestream_table_history_messages"), "b's put and tombstone went")
}
