package table

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// An index snapshot is a local file holding a table's index as of one
// engine sequence, so that a restart loads it and reads only the changes
// stored after it, instead of the whole stream. It is a cache: the engine
// stays the truth, and a snapshot that cannot be trusted is ignored (the
// index is then rebuilt from the stream, as without snapshots).
//
// The file, <dir>/<table id>.idx, written to a temporary name, fsynced and
// renamed into place:
//
//	8 bytes  magic "PSTIDX2\n"
//	uvarint  length, table id
//	uvarint  seq: the last message the index applied
//	uvarint  that message's write time, Unix nanoseconds
//	uvarint  when the snapshot was taken, Unix nanoseconds
//	uvarint  number of entries
//	entries in key order:
//	  uvarint length, key; uvarint seq; uvarint time; byte flags
//	  (snapItem, snapDirty, snapLock, snapFinal)
//	  if snapDirty: uvarint due, uvarint prev: what the compactor knows
//	               of the key (dirtyMark; 0: unknown)
//	  if snapItem: uvarint length, binary item
//	  if snapLock: uvarint length, transaction id; byte final op;
//	               if snapFinal: uvarint length, final item
//	4 bytes  CRC-32C (Castagnoli) of everything before, little endian
//
// A snapshot is used only when all of these hold, so that every change
// after it is still in the stream: its table id is the open table's (a
// table deleted and created again under the same name has a new id); the
// stream's last sequence is at least the snapshot's; the message at the
// snapshot's sequence is still there with the same write time (the stream
// did not lose and rewrite its tail); and the snapshot is younger than half
// the table's change retention (the compactor removes a deletion's
// tombstone once it is older than the retention, and a snapshot older than
// that could bring a deleted item back).
//
// Version 1 ("PSTIDX1\n") had nothing after snapDirty; it is read with the
// marks unknown, so the compactor asks the engine about each such key once.

const snapMagic = "PSTIDX2\n"

const snapMagicV1 = "PSTIDX1\n"

const (
	snapItem  byte = 1 << 0
	snapDirty byte = 1 << 1
	snapLock  byte = 1 << 2
	snapFinal byte = 1 << 3
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

var errBadSnapshot = errors.New("table: bad index snapshot")

// snapshotState is what a snapshot holds: a copy-on-write clone of the
// tree, the dirty keys, and the position.
type snapshotState struct {
	tree    *entryTree
	dirty   map[string]dirtyMark
	seq     uint64
	seqTime int64
}

// capture takes a consistent copy of the index for a snapshot; ok is false
// when the index has applied nothing yet.
func (ix *index) capture() (s snapshotState, ok bool) {
	ix.mu.Lock() // Clone needs exclusive access to mark nodes shared
	defer ix.mu.Unlock()
	if ix.mu.last.seq == 0 {
		return s, false
	}
	s.tree = ix.mu.tree.Clone()
	s.dirty = maps.Clone(ix.mu.dirty)
	s.seq, s.seqTime = ix.mu.last.seq, ix.mu.last.time
	return s, true
}

func (m *Manager) snapshotPath(id string) string {
	return filepath.Join(m.cfg.SnapshotDir, id+".idx")
}

// writeSnapshot writes t's index to its snapshot file when the index has
// applied something since the last one. It returns whether it wrote.
func (m *Manager) writeSnapshot(t *Table) (bool, error) {
	if m.cfg.SnapshotDir == "" {
		return false, nil
	}
	select {
	case <-t.ix.ready:
		if t.ix.readyErr != nil {
			return false, nil
		}
	default:
		return false, nil // never snapshot a half-loaded index
	}
	s, ok := t.ix.capture()
	if !ok || s.seq <= t.ix.snapSeq.Load() {
		return false, nil
	}
	start := time.Now()
	if err := os.MkdirAll(m.cfg.SnapshotDir, 0o755); err != nil {
		return false, fmt.Errorf("table %q: index snapshot: %w", t.name, err)
	}
	path := m.snapshotPath(t.id)
	tmp := path + ".tmp"
	if err := writeSnapshotFile(tmp, t.id, s, time.Now()); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("table %q: index snapshot: %w", t.name, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return false, fmt.Errorf("table %q: index snapshot: %w", t.name, err)
	}
	if d, err := os.Open(m.cfg.SnapshotDir); err == nil {
		_ = d.Sync() // make the rename durable
		_ = d.Close()
	}
	t.ix.snapSeq.Store(s.seq)
	m.metrics.snapshotSeconds.Observe(time.Since(start).Seconds())
	m.logger.Debug("table index snapshot written", "table", t.name, "seq", s.seq, "took", time.Since(start).Round(time.Millisecond))
	return true, nil
}

func writeSnapshotFile(path, id string, s snapshotState, now time.Time) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}()
	crc := crc32.New(crcTable)
	w := bufio.NewWriterSize(io.MultiWriter(f, crc), 1<<20)
	var buf []byte
	buf = append(buf, snapMagic...)
	buf = appendBytes(buf, []byte(id))
	buf = binary.AppendUvarint(buf, s.seq)
	buf = binary.AppendUvarint(buf, uint64(s.seqTime))
	buf = binary.AppendUvarint(buf, uint64(now.UnixNano()))
	buf = binary.AppendUvarint(buf, uint64(s.tree.Len()))
	if _, err := w.Write(buf); err != nil {
		return err
	}
	var werr error
	s.tree.Ascend(func(sl slot) bool {
		buf = appendSnapEntry(buf[:0], sl.e, s.dirty)
		_, werr = w.Write(buf)
		return werr == nil
	})
	if werr != nil {
		return werr
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if _, err := f.Write(binary.LittleEndian.AppendUint32(nil, crc.Sum32())); err != nil {
		return err
	}
	return f.Sync()
}

func appendSnapEntry(dst []byte, e *entry, dirty map[string]dirtyMark) []byte {
	var flags byte
	if e.item != nil {
		flags |= snapItem
	}
	mark, isDirty := dirty[e.key]
	if isDirty {
		flags |= snapDirty
	}
	if e.lock != nil {
		flags |= snapLock
		if e.lock.final != nil {
			flags |= snapFinal
		}
	}
	dst = binary.AppendUvarint(dst, uint64(len(e.key)))
	dst = append(dst, e.key...)
	dst = binary.AppendUvarint(dst, e.seq)
	dst = binary.AppendUvarint(dst, uint64(e.time))
	dst = append(dst, flags)
	if isDirty {
		dst = binary.AppendUvarint(dst, mark.due)
		dst = binary.AppendUvarint(dst, mark.prev)
	}
	if flags&snapItem != 0 {
		dst = appendBytes(dst, e.item)
	}
	if flags&snapLock != 0 {
		dst = appendBytes(dst, []byte(e.lock.txn))
		dst = append(dst, e.lock.finalOp)
		if flags&snapFinal != 0 {
			dst = appendBytes(dst, e.lock.final)
		}
	}
	return dst
}

// snapshotFile is a decoded snapshot.
type snapshotFile struct {
	id      string
	seq     uint64
	seqTime int64
	taken   time.Time
	entries []*entry
	dirty   []dirtyKey
}

// dirtyKey is a key of the compactor's work list, with its mark.
type dirtyKey struct {
	key  string
	mark dirtyMark
}

// readSnapshotFile decodes a snapshot. Its entries do not alias data.
func readSnapshotFile(data []byte) (*snapshotFile, error) {
	if len(data) < len(snapMagic)+4 {
		return nil, fmt.Errorf("%w: not a snapshot", errBadSnapshot)
	}
	v1 := false
	switch string(data[:len(snapMagic)]) {
	case snapMagic:
	case snapMagicV1:
		v1 = true
	default:
		return nil, fmt.Errorf("%w: not a snapshot", errBadSnapshot)
	}
	body := data[:len(data)-4]
	if crc32.Checksum(body, crcTable) != binary.LittleEndian.Uint32(data[len(data)-4:]) {
		return nil, fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	r := snapReader{b: body[len(snapMagic):]}
	s := &snapshotFile{id: string(r.bytes())}
	s.seq = r.uvarint()
	s.seqTime = int64(r.uvarint())
	s.taken = time.Unix(0, int64(r.uvarint()))
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) { // every entry takes bytes
		return nil, fmt.Errorf("%w: header", errBadSnapshot)
	}
	s.entries = make([]*entry, 0, n)
	prev := ""
	for i := uint64(0); i < n; i++ {
		e := &entry{key: string(r.bytes())}
		e.seq = r.uvarint()
		e.time = int64(r.uvarint())
		flags := r.byte()
		var mark dirtyMark
		if flags&snapDirty != 0 && !v1 {
			mark.due, mark.prev = r.uvarint(), r.uvarint()
		}
		if flags&snapItem != 0 {
			e.item = clone(r.bytes())
			if e.item == nil {
				e.item = []byte{}
			}
		}
		if flags&snapLock != 0 {
			l := &lock{txn: string(r.bytes()), finalOp: r.byte()}
			if flags&snapFinal != 0 {
				l.final = clone(r.bytes())
			}
			e.lock = l
		}
		if r.err != nil {
			return nil, fmt.Errorf("%w: entry %d", errBadSnapshot, i)
		}
		if i > 0 && e.key <= prev {
			return nil, fmt.Errorf("%w: entry %d out of key order", errBadSnapshot, i)
		}
		prev = e.key
		if flags&snapDirty != 0 {
			s.dirty = append(s.dirty, dirtyKey{e.key, mark})
		}
		s.entries = append(s.entries, e)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadSnapshot, len(r.b))
	}
	return s, nil
}

// snapReader reads a snapshot's fields; the first error sticks.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errBadSnapshot
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *snapReader) byte() byte {
	if r.err != nil || len(r.b) == 0 {
		r.err = errBadSnapshot
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *snapReader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errBadSnapshot
		return nil
	}
	b := r.b[:n:n]
	r.b = r.b[n:]
	return b
}

// loadSnapshot fills the index from t's snapshot file when there is one
// that can be trusted against the stream whose last sequence is lastSeq,
// and returns the sequence it reflects (0 when it loaded nothing).
func (ix *index) loadSnapshot(ctx context.Context, lastSeq uint64) uint64 {
	t := ix.t
	m := t.m
	if m.cfg.SnapshotDir == "" {
		return 0
	}
	path := m.snapshotPath(t.id)
	start := time.Now()
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	ignore := func(reason string, args ...any) uint64 {
		m.logger.Info("table index snapshot ignored; rebuilding the index from the engine", append([]any{"table", t.name, "reason", reason}, args...)...)
		m.metrics.snapshotLoads.WithLabelValues("ignored").Inc()
		return 0
	}
	if err != nil {
		return ignore("unreadable", "err", err)
	}
	s, err := readSnapshotFile(data)
	data = nil
	switch {
	case err != nil:
		return ignore("corrupt", "err", err)
	case s.id != t.id:
		return ignore("another table's snapshot")
	case s.seq > lastSeq:
		return ignore("ahead of the engine", "seq", s.seq, "engine_last_seq", lastSeq)
	case time.Since(s.taken) > t.retention/2:
		return ignore("older than half the change retention", "taken", s.taken)
	}
	msg, got, err := directGetNext(ctx, m.rc, t.jsName, t.wildcard, s.seq)
	if err != nil || got != s.seq {
		return ignore("its last message is gone from the engine", "seq", s.seq)
	}
	var lastPos uint64
	if t.batched {
		first, n, last, err := batchLastTime(msg.Data)
		if err != nil || last != s.seqTime {
			return ignore("its last message differs from the engine's", "seq", s.seq)
		}
		lastPos = first + n - 1
	} else {
		var v version
		if err := decodeVersion(msg.Data, &v); err != nil || v.time != s.seqTime {
			return ignore("its last message differs from the engine's", "seq", s.seq)
		}
	}
	ix.mu.Lock()
	if len(ix.mu.keys) == 0 {
		ix.mu.keys = make(map[string]*entry, len(s.entries))
	}
	for _, e := range s.entries {
		ix.put(e)
		if e.item != nil {
			ix.mu.items++
			ix.mu.bytes += int64(len(e.item))
		}
		if e.lock != nil {
			ix.mu.locked[e.key] = struct{}{}
		}
	}
	for _, d := range s.dirty {
		ix.mu.dirty[d.key] = d.mark
	}
	ix.mu.last.seq, ix.mu.last.time = s.seq, s.seqTime
	ix.lastPos.Store(lastPos)
	ix.mu.Unlock()
	ix.snapSeq.Store(s.seq)
	ix.advance(s.seq)
	m.metrics.snapshotLoads.WithLabelValues("loaded").Inc()
	m.logger.Info("table index loaded from its snapshot", "table", t.name, "items", len(s.entries), "seq", s.seq, "took", time.Since(start).Round(time.Millisecond))
	return s.seq
}

// removeSnapshot removes the snapshot of the table with the given id.
func (m *Manager) removeSnapshot(id string) {
	if m.cfg.SnapshotDir == "" || id == "" {
		return
	}
	if err := os.Remove(m.snapshotPath(id)); err != nil && !errors.Is(err, os.ErrNotExist) {
		m.logger.Warn("table index snapshot not removed", "id", id, "err", err)
	}
}

// sweepEvery is how often the snapshot directory is swept of the
// snapshots of tables that no longer exist.
const sweepEvery = time.Hour

// sweepSnapshots removes the snapshots of tables that no longer exist
// (deleted by another process, or while this one was down: Delete removes
// only the snapshot of its own process) and, at startup, the temporary
// files of snapshots a crash cut short. It removes nothing when the
// tables cannot be listed.
func (m *Manager) sweepSnapshots(ctx context.Context, startup bool) {
	files, err := os.ReadDir(m.cfg.SnapshotDir)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			m.logger.Warn("table index snapshots not swept", "err", err)
		}
		return
	}
	infos, err := m.List(ctx)
	if err != nil {
		m.logger.Debug("table index snapshots not swept", "err", err)
		return
	}
	live := make(map[string]bool, len(infos))
	for _, in := range infos {
		live[in.ID] = true
	}
	for _, t := range m.openTables() {
		live[t.id] = true
	}
	for _, f := range files {
		name := f.Name()
		id, isSnap := strings.CutSuffix(name, ".idx")
		orphan := isSnap && id != "" && !live[id]
		if !orphan && !(startup && strings.HasSuffix(name, ".idx.tmp")) {
			continue
		}
		if err := os.Remove(filepath.Join(m.cfg.SnapshotDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			m.logger.Warn("table index snapshot not removed", "file", name, "err", err)
			continue
		}
		m.logger.Info("table index snapshot removed: its table no longer exists, or a crash cut it short", "file", name)
	}
}

// runSnapshots writes each open table's index snapshot every
// Config.SnapshotInterval when it has changed, and sweeps the snapshot
// directory at start and every sweepEvery.
func (m *Manager) runSnapshots(ctx context.Context) {
	m.sweepSnapshots(ctx, true)
	tick := time.NewTicker(m.cfg.SnapshotInterval)
	defer tick.Stop()
	sweep := time.NewTicker(sweepEvery)
	defer sweep.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-sweep.C:
			m.sweepSnapshots(ctx, false)
			continue
		case <-tick.C:
		}
		for _, t := range m.openTables() {
			if ctx.Err() != nil {
				return
			}
			if _, err := m.writeSnapshot(t); err != nil {
				m.logger.Warn("table index snapshot", "table", t.name, "err", err)
			}
		}
	}
}
