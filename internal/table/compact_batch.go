package table

import (
	"context"
	"fmt"
	"sort"
	"sync/atomic"
	"time"
)

// compactBatched trims the history of a table of batched writes older
// than its change retention. A batch holds many items' versions, which
// the engine cannot remove one by one, so the batches are removed whole
// from the front of the stream: first the items whose current version
// such a batch still holds are written again (opRestore entries, which
// are no changes, with their write time now), and made durable; then the
// batches go in one request, and the tombstones of deleted items they
// held leave the index. The pass reads no old batch: the first batch to
// keep is one the index marked (a batch a second, with its write time),
// or else is found by binary search over the batches' write times, and
// the versions to write again are the index's entries positioned before
// it.
// The stream's last message always stays: the batcher expects it. A
// restore is written only while the version it copies is still current
// (batcher.publish judges it against the index, which holds every batch
// before it), so the index rebuilt from what is left finds each item's
// current version.
func (m *Manager) compactBatched(ctx context.Context, t *Table, now time.Time) error {
	cutoff := now.Add(-t.retention).UnixNano()
	s, err := m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return fmt.Errorf("table %q: %w", t.name, classify(m.rc, err))
	}
	st := s.CachedInfo().State
	if st.Msgs <= 1 {
		return nil
	}
	// The first batch written at or after the cutoff, or the last: from
	// the index's marks when they reach back past the cutoff (a batch a
	// second), else by binary search over the batches' write times.
	cutSeq, cutPos := t.ix.markAfter(st.FirstSeq, cutoff)
	if cutSeq == 0 {
		var err error
		if cutSeq, err = m.batchAtTime(ctx, t, st.FirstSeq, st.LastSeq, cutoff); err != nil {
			return err
		}
	}
	if cutSeq >= st.LastSeq {
		cutSeq, cutPos = st.LastSeq, 0
	}
	if cutSeq <= st.FirstSeq {
		return nil
	}
	if cutPos == 0 {
		var err error
		if cutPos, _, err = t.batchAt(ctx, cutSeq); err != nil {
			return err
		}
	}
	// Judge what is current against everything stored so far.
	if err := t.syncRead(ctx, true); err != nil {
		return err
	}
	type tombstone struct {
		key string
		pos uint64
	}
	var (
		restores []*batchWrite
		tombs    []tombstone
	)
	t.ix.mu.RLock()
	for k, e := range t.ix.mu.keys {
		switch {
		case e.seq >= cutPos:
		case e.item == nil:
			tombs = append(tombs, tombstone{k, e.seq})
		default:
			restores = append(restores, &batchWrite{op: opRestore, key: []byte(k), item: e.item, of: e.seq})
		}
	}
	t.ix.mu.RUnlock()
	if len(restores) > 0 {
		if err := t.restore(ctx, restores); err != nil {
			return err
		}
	}
	if err := t.Sync(ctx); err != nil {
		return err
	}
	m.metrics.compactRequests.WithLabelValues(t.name).Inc()
	if err := purgeSubject(ctx, m.nc, t.jsName, "", cutSeq); err != nil {
		return fmt.Errorf("table %q: compact: %w", t.name, classify(m.nc, err))
	}
	t.ix.mu.Lock()
	t.ix.dropMarks(cutSeq)
	for _, tb := range tombs {
		if cur := t.ix.mu.keys[tb.key]; cur != nil && cur.seq == tb.pos && cur.item == nil {
			t.ix.remove(tb.key)
		}
	}
	t.ix.mu.Unlock()
	m.metrics.compacted.WithLabelValues(t.name).Add(float64(len(restores) + len(tombs)))
	m.metrics.rewritten.WithLabelValues(t.name).Add(float64(len(restores)))
	m.logger.Debug("table batches compacted", "table", t.name, "batches", cutSeq-st.FirstSeq, "rewritten", len(restores), "tombstones", len(tombs))
	return nil
}

// restore writes ws (restores) through the batcher and waits for them.
func (t *Table) restore(ctx context.Context, ws []*batchWrite) error {
	var left atomic.Int64
	left.Store(int64(len(ws)))
	done := make(chan struct{}) // closed by the last restore's done
	var first atomic.Pointer[error]
	start := time.Now()
	for _, w := range ws {
		w.start = start
		w.done = func(_ uint64, _ []byte, err error) {
			if err != nil {
				first.CompareAndSwap(nil, &err)
			}
			if left.Add(-1) == 0 {
				close(done)
			}
		}
	}
	t.bat.addAll(ws)
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := first.Load(); err != nil {
		return fmt.Errorf("table %q: compact: rewrite: %w", t.name, *err)
	}
	return nil
}

// markAfter returns the first mark at or after the cutoff, when the marks
// reach back to the stream's first message or past the cutoff (else 0).
func (ix *index) markAfter(firstSeq uint64, cutoff int64) (seq, pos uint64) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	ms := ix.marks
	if len(ms) == 0 || (ms[0].seq > firstSeq && ms[0].time >= cutoff) {
		return 0, 0 // the batches before the first mark are not known
	}
	i := sort.Search(len(ms), func(i int) bool { return ms[i].time >= cutoff })
	if i == len(ms) {
		return ^uint64(0), 0 // all before the cutoff: the caller keeps the last
	}
	return ms[i].seq, ms[i].pos
}

// dropMarks forgets the marks of batches below seq; mu is held.
func (ix *index) dropMarks(seq uint64) {
	i := sort.Search(len(ix.marks), func(i int) bool { return ix.marks[i].seq >= seq })
	n := copy(ix.marks, ix.marks[i:])
	ix.marks = ix.marks[:n]
}

// batchAtTime returns the first batch of t's stream, between first and
// last, written at or after cutoff (last when none is), by binary search
// over the batches' write times.
func (m *Manager) batchAtTime(ctx context.Context, t *Table, first, last uint64, cutoff int64) (uint64, error) {
	seq, err := m.firstAtTime(ctx, t, first, last, cutoff, func(data []byte) (int64, bool) {
		_, _, wt, err := batchLastTime(data)
		return wt, err == nil
	})
	if err != nil {
		return 0, fmt.Errorf("table %q: compact: %w", t.name, err)
	}
	return seq, nil
}
