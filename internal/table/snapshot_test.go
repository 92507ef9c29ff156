package table

import (
	"context"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/polltest"
	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

func snapManager(t *testing.T, e *engine.Engine, dir string) *Manager {
	t.Helper()
	m, err := New(Config{SnapshotDir: dir}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { m.Close() })
	return m
}

// indexDump prints everything an index holds, in key order.
func indexDump(t *testing.T, tb *Table) string {
	t.Helper()
	ix := tb.ix
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	var b strings.Builder
	fmt.Fprintf(&b, "items=%d bytes=%d applied=%d last=%d\n", ix.mu.items, ix.mu.bytes, ix.applied.Load(), ix.mu.last.seq)
	ix.mu.tree.Ascend(func(s slot) bool {
		e := s.e
		dirty := "no"
		if mark, ok := ix.mu.dirty[e.key]; ok {
			dirty = fmt.Sprintf("due %d prev %d", mark.due, mark.prev) // what the compactor knows
		}
		_, locked := ix.mu.locked[e.key]
		fmt.Fprintf(&b, "%x seq=%d time=%d item=%s dirty=%s locked=%v", e.key, e.seq, e.time, hex.EncodeToString(e.item), dirty, locked)
		if e.lock != nil {
			fmt.Fprintf(&b, " lock=%s/%d/%x", e.lock.txn, e.lock.finalOp, e.lock.final)
		}
		b.WriteByte('\n')
		return true
	})
	return b.String()
}

// createSnapTables creates tables keyed by the string pk.
func createSnapTables(t *testing.T, m *Manager, names ...string) []*Info {
	t.Helper()
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	var infos []*Info
	for _, name := range names {
		info, err := m.Create(context.Background(), Spec{Name: name, Key: ks})
		require.NoError(t, err)
		infos = append(infos, info)
	}
	return infos
}

// fillSnapTable writes a table with history: inserts, updates (several
// versions of a key), deletions (tombstones) and a transaction.
func fillSnapTable(t *testing.T, m *Manager, name string, from, n int) {
	t.Helper()
	ctx := context.Background()
	tb, err := m.Open(ctx, name)
	require.NoError(t, err)
	for i := from; i < from+n; i++ {
		_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(fmt.Sprintf("k%04d", i)), "n": item.IntValue(int64(i))}, WriteOptions{})
		require.NoError(t, err)
	}
	for i := from; i < from+n; i += 7 {
		_, err := tb.Put(ctx, item.Item{"pk": item.StringValue(fmt.Sprintf("k%04d", i)), "n": item.IntValue(int64(-i))}, WriteOptions{})
		require.NoError(t, err)
	}
	for i := from + 3; i < from+n; i += 11 {
		_, err := tb.Delete(ctx, item.Key{Partition: item.StringValue(fmt.Sprintf("k%04d", i))}, WriteOptions{})
		require.NoError(t, err)
	}
	require.NoError(t, m.TransactWrite(ctx, []TransactAction{
		{Table: tb, Kind: TransactPut, Item: item.Item{"pk": item.StringValue(fmt.Sprintf("t%04d", from)), "n": item.IntValue(1)}},
		{Table: tb, Kind: TransactPut, Item: item.Item{"pk": item.StringValue(fmt.Sprintf("u%04d", from)), "n": item.IntValue(2)}},
	}))
	require.NoError(t, tb.ix.waitFor(ctx, tb.lastWrite.Load()))
}

// rebuilt opens name with snapshots off: the index as the stream alone
// gives it.
func rebuilt(t *testing.T, e *engine.Engine, name string) string {
	t.Helper()
	m := snapManager(t, e, "off")
	tb, err := m.Open(context.Background(), name)
	require.NoError(t, err)
	return indexDump(t, tb)
}

func TestTableSnapshotRestart(t *testing.T) {
	ctx := context.Background()
	data := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(data))
	m1, err := New(Config{}, Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	require.Equal(t, data+"/table-index", m1.cfg.SnapshotDir, "an embedded engine keeps snapshots in its data directory")
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}}
	info, err := m1.Create(ctx, Spec{Name: "snap", Key: ks, StreamView: ViewNewAndOldImgs})
	require.NoError(t, err)
	fillSnapTable(t, m1, "snap", 0, 300)
	require.NoError(t, m1.Close())
	_, err = os.Stat(data + "/table-index/" + info.ID + ".idx")
	require.NoError(t, err, "Close writes the snapshot")

	// Changes after the snapshot, made where snapshots are off.
	m2 := snapManager(t, e, "off")
	fillSnapTable(t, m2, "snap", 200, 200)
	require.NoError(t, m2.Close())

	// Restart the engine too: the snapshot is checked against the stream
	// as it comes back from disk.
	require.NoError(t, e.Close())
	e = enginetest.Start(t, enginetest.WithDir(data))
	m3 := snapManager(t, e, "")
	tb, err := m3.Open(ctx, "snap")
	require.NoError(t, err)
	require.Equal(t, 1.0, testutil.ToFloat64(m3.metrics.snapshotLoads.WithLabelValues("loaded")))
	want := rebuilt(t, e, "snap")
	require.Equal(t, want, indexDump(t, tb), "snapshot + changes after it = the index rebuilt from the stream")

	// A subscription from before the snapshot reads the engine up to
	// where the index's feed starts (after the snapshot), then the feed.
	sub := subscribeAll(t, tb)
	defer sub.Stop()

	// The loaded index serves conditional writes: sequences are right.
	_, err = tb.Update(ctx, item.Key{Partition: item.StringValue("k0001")}, mustUpdate(t, "SET n = n + :one"), WriteOptions{})
	require.NoError(t, err)
	c, err := sub.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, `{"n":2,"pk":"k0001"}`, string(c.New.AppendPlainJSON(nil)))
	waitAttached(t, sub)
	got, err := tb.Get(ctx, item.Key{Partition: item.StringValue("k0001")}, GetOptions{})
	require.NoError(t, err)
	require.Equal(t, `{"n":2,"pk":"k0001"}`, string(got.AppendPlainJSON(nil)))

	// The periodic writer keeps it current; a clean restart with nothing
	// new loads it and reads nothing from the stream.
	wrote, err := m3.writeSnapshot(tb)
	require.NoError(t, err)
	require.True(t, wrote)
	wrote, err = m3.writeSnapshot(tb)
	require.NoError(t, err)
	require.False(t, wrote, "nothing changed since the last snapshot")
	before := indexDump(t, tb)
	require.NoError(t, m3.Close())
	m4 := snapManager(t, e, "")
	tb, err = m4.Open(ctx, "snap")
	require.NoError(t, err)
	require.Equal(t, before, indexDump(t, tb))
	sub4 := subscribeAll(t, tb)
	defer sub4.Stop()
	res, err := tb.Update(ctx, item.Key{Partition: item.StringValue("k0001")}, mustUpdate(t, "SET n = n + :one"), WriteOptions{})
	require.NoError(t, err)
	c, err = sub4.Next(ctx)
	require.NoError(t, err)
	require.Equal(t, res.Seq, c.Seq)
	waitAttached(t, sub4)

	// Deleting the table removes its snapshot; a new table of that name
	// starts empty.
	require.NoError(t, m4.Delete(ctx, "snap"))
	_, err = os.Stat(m4.snapshotPath(info.ID))
	require.ErrorIs(t, err, os.ErrNotExist)
	_, err = m4.Create(ctx, Spec{Name: "snap", Key: ks})
	require.NoError(t, err)
	tb, err = m4.Open(ctx, "snap")
	require.NoError(t, err)
	require.Equal(t, int64(0), tb.Info().Items)
}

// subscribeAll subscribes to tb's changes from the start and checks that
// they are the changes the engine stores.
func subscribeAll(t *testing.T, tb *Table) *Subscription {
	t.Helper()
	ctx := context.Background()
	all, _, err := tb.ReadChanges(ctx, 1, 10000)
	require.NoError(t, err)
	sub, err := tb.Subscribe(ctx, Position{Kind: TrimHorizon})
	require.NoError(t, err)
	var read []*Change
	for len(read) < len(all) {
		cs, err := sub.NextBatch(ctx, 100)
		require.NoError(t, err)
		read = append(read, cs...)
	}
	require.Equal(t, all, read)
	return sub
}

func waitAttached(t *testing.T, s *Subscription) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !Attached(s); {
		require.True(t, time.Now().Before(deadline), "the subscription reads from the feed")
		<-time.After(2 * time.Millisecond)
	}
}

func mustUpdate(t *testing.T, src string) *expr.Update {
	t.Helper()
	u, err := expr.CompileUpdate(src, nil, map[string]item.Value{":one": item.IntValue(1)})
	require.NoError(t, err)
	return u
}

// TestTableSnapshotIgnored: a snapshot that cannot be trusted is ignored
// and the index rebuilt from the stream, whatever is wrong with it.
func TestTableSnapshotIgnored(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		spoil func(t *testing.T, m *Manager, path string, s *snapshotFile, tb *Table)
	}{
		{"corrupt byte", func(t *testing.T, _ *Manager, path string, _ *snapshotFile, _ *Table) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			b[len(b)/2] ^= 0x40
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}},
		{"truncated", func(t *testing.T, _ *Manager, path string, _ *snapshotFile, _ *Table) {
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, b[:len(b)-100], 0o644))
		}},
		{"older than half the retention", func(t *testing.T, _ *Manager, path string, s *snapshotFile, tb *Table) {
			rewrite(t, path, s, tb, func(st *snapshotState) {}, time.Now().Add(-13*time.Hour))
		}},
		{"ahead of the engine", func(t *testing.T, _ *Manager, path string, s *snapshotFile, tb *Table) {
			rewrite(t, path, s, tb, func(st *snapshotState) { st.seq += 1000 }, time.Now())
		}},
		{"tail rewritten", func(t *testing.T, _ *Manager, path string, s *snapshotFile, tb *Table) {
			rewrite(t, path, s, tb, func(st *snapshotState) { st.seqTime++ }, time.Now())
		}},
		{"another table's", func(t *testing.T, m *Manager, path string, _ *snapshotFile, _ *Table) {
			other, err := m.Open(ctx, "other")
			require.NoError(t, err)
			b, err := os.ReadFile(m.snapshotPath(other.id))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path, b, 0o644))
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := enginetest.Start(t)
			dir := t.TempDir()
			m1 := snapManager(t, e, dir)
			info := createSnapTables(t, m1, "snap", "other")[0]
			fillSnapTable(t, m1, "snap", 0, 100)
			fillSnapTable(t, m1, "other", 0, 10)
			require.NoError(t, m1.Close())
			path := m1.snapshotPath(info.ID)
			b, err := os.ReadFile(path)
			require.NoError(t, err)
			s, err := readSnapshotFile(b)
			require.NoError(t, err)

			m2 := snapManager(t, e, dir)
			tb := &Table{m: m2, id: info.ID, name: "snap"}
			c.spoil(t, m2, path, s, tb)
			got, err := m2.Open(ctx, "snap")
			require.NoError(t, err)
			require.Equal(t, 1.0, testutil.ToFloat64(m2.metrics.snapshotLoads.WithLabelValues("ignored")))
			require.Equal(t, rebuilt(t, e, "snap"), indexDump(t, got))
		})
	}
}

// rewrite writes s again after fn changes its position, as taken at taken.
func rewrite(t *testing.T, path string, s *snapshotFile, tb *Table, fn func(*snapshotState), taken time.Time) {
	t.Helper()
	ix := newIndex(tb)
	defer ix.stop()
	st := snapshotState{tree: ix.mu.tree, dirty: map[string]dirtyMark{}, seq: s.seq, seqTime: s.seqTime}
	for _, e := range s.entries {
		st.tree.ReplaceOrInsert(slot{e.key, e})
	}
	for _, d := range s.dirty {
		st.dirty[d.key] = d.mark
	}
	fn(&st)
	require.NoError(t, writeSnapshotFile(path, s.id, st, taken))
}

// FuzzTableSnapshot: a damaged snapshot file gives an error, never a
// panic, and what decodes holds its keys in order.
func FuzzTableSnapshot(f *testing.F) {
	e := &entry{key: "k1", seq: 3, time: 9, item: []byte{1, 2}}
	l := &entry{key: "k2", seq: 4, time: 10, item: []byte{3}, lock: &lock{txn: "t", finalOp: opPut, final: []byte{4}}}
	tomb := &entry{key: "k3", seq: 5, time: 11}
	dir := f.TempDir()
	tb := &Table{m: &Manager{ctx: context.Background()}}
	ix := newIndex(tb)
	for _, x := range []*entry{e, l, tomb} {
		ix.mu.tree.ReplaceOrInsert(slot{x.key, x})
	}
	path := dir + "/seed.idx"
	if err := writeSnapshotFile(path, "id", snapshotState{tree: ix.mu.tree, dirty: map[string]dirtyMark{"k3": {due: 5, prev: 2}}, seq: 5, seqTime: 11}, time.Unix(1, 0)); err != nil {
		f.Fatal(err)
	}
	seed, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add([]byte(snapMagic))
	f.Add([]byte(snapMagicV1))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := readSnapshotFile(data)
		if err != nil {
			return
		}
		for i := 1; i < len(s.entries); i++ {
			require.Less(t, s.entries[i-1].key, s.entries[i].key)
		}
	})
}

// TestTableSnapshotSweep: a manager starting on a snapshot directory
// removes the snapshots of tables that no longer exist (here deleted by
// another process, which removed only its own snapshot) and the temporary
// files of snapshots a crash cut short; it keeps the snapshots of the
// tables that exist, and loads them.
func TestTableSnapshotSweep(t *testing.T) {
	ctx := context.Background()
	e := enginetest.Start(t)
	dir := t.TempDir()
	m1 := snapManager(t, e, dir)
	infos := createSnapTables(t, m1, "keep", "gone")
	keep, gone := infos[0], infos[1]
	fillSnapTable(t, m1, "keep", 0, 20)
	fillSnapTable(t, m1, "gone", 0, 20)
	require.NoError(t, m1.Close()) // writes both snapshots
	require.FileExists(t, m1.snapshotPath(keep.ID))
	require.FileExists(t, m1.snapshotPath(gone.ID))

	other := snapManager(t, e, "off") // another process, without this directory
	require.NoError(t, other.Delete(ctx, "gone"))
	tmp := m1.snapshotPath(keep.ID) + ".tmp"
	require.NoError(t, os.WriteFile(tmp, []byte("cut short"), 0o644))
	stranger := filepath.Join(dir, "notes.txt")
	require.NoError(t, os.WriteFile(stranger, []byte("not a snapshot"), 0o644))

	m2 := snapManager(t, e, dir)
	polltest.Until(t, 10*time.Second, func() error {
		for _, p := range []string{m1.snapshotPath(gone.ID), tmp} {
			if _, err := os.Stat(p); err == nil {
				return fmt.Errorf("%s still there", filepath.Base(p))
			}
		}
		return nil
	})
	require.FileExists(t, m2.snapshotPath(keep.ID))
	require.FileExists(t, stranger, "only snapshot files are swept")
	_, err := m2.Open(ctx, "keep")
	require.NoError(t, err)
	require.Equal(t, 1.0, testutil.ToFloat64(m2.metrics.snapshotLoads.WithLabelValues("loaded")))
}

// TestTableSnapshotDirtyMarks: a snapshot keeps what the compactor knows
// of each key in its work list; one of version 1,
// which had none, reads with the marks unknown.
func TestTableSnapshotDirtyMarks(t *testing.T) {
	tb := &Table{m: &Manager{ctx: context.Background()}}
	ix := newIndex(tb)
	defer ix.stop()
	for _, x := range []*entry{{key: "k1", seq: 7, time: 9, item: []byte{1}}, {key: "k2", seq: 8, time: 10, item: []byte{2}}, {key: "k3", seq: 9, time: 11}} {
		ix.mu.tree.ReplaceOrInsert(slot{x.key, x})
	}
	path := t.TempDir() + "/s.idx"
	st := snapshotState{tree: ix.mu.tree, dirty: map[string]dirtyMark{"k1": {due: 3}, "k3": {due: 9, prev: 4}}, seq: 9, seqTime: 11}
	require.NoError(t, writeSnapshotFile(path, "id", st, time.Unix(1, 0)))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	s, err := readSnapshotFile(data)
	require.NoError(t, err)
	require.Equal(t, []dirtyKey{{"k1", dirtyMark{due: 3}}, {"k3", dirtyMark{due: 9, prev: 4}}}, s.dirty)

	// Version 1: one entry, a tombstone on the work list.
	v1 := []byte(snapMagicV1)
	v1 = binary.AppendUvarint(v1, 2)
	v1 = append(v1, "id"...)
	for _, u := range []uint64{5, 6, 1, 1} { // seq, its time, taken, entries
		v1 = binary.AppendUvarint(v1, u)
	}
	v1 = binary.AppendUvarint(v1, 1)
	v1 = append(v1, 'k')
	v1 = binary.AppendUvarint(v1, 5)
	v1 = binary.AppendUvarint(v1, 6)
	v1 = append(v1, snapDirty)
	v1 = binary.LittleEndian.AppendUint32(v1, crc32.Checksum(v1, crcTable))
	s, err = readSnapshotFile(v1)
	require.NoError(t, err)
	require.Equal(t, []dirtyKey{{"k", dirtyMark{}}}, s.dirty)
}
