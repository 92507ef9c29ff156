package table

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// The compactor is one goroutine per manager. On every tick
// (Config.CompactInterval), and when a table's index becomes ready, it
// finishes the lock markers of decided or stale transactions, and trims each
// open table's change history: on every item subject with more than one
// message, the versions older than the table's change retention go, except
// the item's current one; a deletion's tombstone goes once it is older than
// the retention (the subject is then empty, as if the item never was).
// What lies below the stream's floor goes first, in one request
// (compact_floor.go); what is above, key by key.
// Before trimming it deletes the items whose TTL has passed (ttl.go);
// other items are permanent.

func (m *Manager) runCompactor() {
	pprof.Do(m.ctx, pprof.Labels("role", "table-compactor"), func(ctx context.Context) {
		// With an embedded engine that nobody else reaches, every lock
		// marker older than this process was left by its previous life.
		var orphansBefore time.Time
		if m.eng.Embedded() && m.eng.Config().Listen == "" {
			orphansBefore = time.Now()
		}
		tick := time.NewTicker(m.cfg.CompactInterval)
		defer tick.Stop()
		for {
			compact := false
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				compact = true
			case <-m.kick:
			}
			for _, t := range m.openTables() {
				select {
				case <-t.ix.ready:
				default:
					continue
				}
				if t.ix.readyErr != nil {
					continue
				}
				m.resolveLocks(ctx, t, orphansBefore)
				if compact {
					now := time.Now()
					if _, err := m.expire(ctx, t, now, now.Add(m.cfg.CompactInterval/2)); err != nil && ctx.Err() == nil {
						m.logger.Warn("table ttl expiry", "table", t.name, "err", err)
					}
					if err := m.compact(ctx, t, now); err != nil && ctx.Err() == nil {
						m.logger.Warn("table compaction", "table", t.name, "err", err)
					}
					if err := t.readStats(ctx); err != nil && ctx.Err() == nil {
						m.logger.Warn("table stream state", "table", t.name, "err", err)
					}
				}
			}
		}
	})
}

// kickCompactor asks the compactor for a pass of lock recovery now.
func (m *Manager) kickCompactor() {
	select {
	case m.kick <- struct{}{}:
	default:
	}
}

// seqAtTime returns the first sequence of t's stream whose message was
// written at or after cutoff (last+1 when there is none), by binary search
// over the write times the messages carry.
func (m *Manager) seqAtTime(ctx context.Context, t *Table, cutoff int64) (uint64, error) {
	st, err := t.StreamState(ctx)
	if err != nil {
		return 0, err
	}
	return m.firstAtTime(ctx, t, max(st.FirstSeq, 1), st.LastSeq+1, cutoff, func(data []byte) (int64, bool) {
		var v version
		err := decodeVersion(data, &v)
		return v.time, err == nil
	})
}

// firstAtTime returns the first sequence in [lo, hi) of t's stream whose
// message was written at or after cutoff, as at reads its write time (a
// message at cannot read counts as older), or hi when there is none, by
// binary search: the messages' times rise with their sequence.
func (m *Manager) firstAtTime(ctx context.Context, t *Table, lo, hi uint64, cutoff int64, at func(data []byte) (int64, bool)) (uint64, error) {
	for lo < hi {
		mid := lo + (hi-lo)/2
		msg, seq, err := directGetNext(ctx, m.rc, t.jsName, t.wildcard, mid)
		if errors.Is(err, errNoMessage) {
			hi = mid
			continue
		}
		if err != nil {
			return 0, classify(m.rc, err)
		}
		if wt, ok := at(msg.Data); !ok || wt < cutoff {
			lo = seq + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// compact trims t's history older than its retention, as of now.
func (m *Manager) compact(ctx context.Context, t *Table, now time.Time) error {
	if t.batched {
		return m.compactBatched(ctx, t, now)
	}
	cutoff := now.Add(-t.retention).UnixNano()
	// A table of HistoryLatest holds one version per subject (the engine
	// removes the one before as it stores the next): only its tombstones
	// past the cutoff are left to trim.
	latest := t.history == HistoryLatest
	cutSeq := uint64(math.MaxUint64)
	if !latest {
		t.ix.mu.RLock()
		n := len(t.ix.mu.dirty)
		t.ix.mu.RUnlock()
		if n == 0 {
			return nil
		}
		var err error
		if cutSeq, err = m.seqAtTime(ctx, t, cutoff); err != nil {
			return err
		}
		if compactFloor {
			n, err := m.compactBelowFloor(ctx, t, cutSeq)
			if n > 0 {
				m.metrics.compacted.WithLabelValues(t.name).Add(float64(n))
			}
			if err != nil {
				return err
			}
		}
	}
	// The keys with something to do: those whose sequence in the work
	// list (an item's oldest version; a deleted item's version before it
	// or its tombstone) is older than the cutoff. The others (a table's recent changes, and a
	// deleted item for the retention after its deletion) are passed over
	// without a request to the engine, so that a pass costs what it
	// trims, not what is dirty.
	t.ix.mu.RLock()
	keys := make([]string, 0, min(len(t.ix.mu.dirty), 1024))
	for k, mark := range t.ix.mu.dirty {
		if mark.due == 0 || mark.due < cutSeq {
			keys = append(keys, k)
		}
	}
	t.ix.mu.RUnlock()
	if len(keys) == 0 {
		return nil
	}
	st, err := t.StreamState(ctx)
	if err != nil {
		return err
	}
	// The keys' requests go out compactInFlight at once: one after
	// another they took a millisecond or more each on a busy machine,
	// fewer than the bench's shop's orders expire a second.
	var trimmed atomic.Int64
	f := newInflight(compactInFlight)
	for _, k := range keys {
		if f.failed() != nil || ctx.Err() != nil {
			break
		}
		f.start()
		go func() {
			purged, err := m.trimKey(ctx, t, k, cutSeq, cutoff, st.LastSeq, latest)
			if purged {
				trimmed.Add(1)
			}
			f.finish(err)
		}()
	}
	first := f.wait()
	if first == nil {
		first = ctx.Err()
	}
	if n := trimmed.Load(); n > 0 {
		m.metrics.compacted.WithLabelValues(t.name).Add(float64(n))
		m.logger.Debug("table compacted", "table", t.name, "keys", n)
	}
	return first
}

// compactInFlight is how many of a compaction pass's requests to the
// engine wait at once (a variable for BenchmarkTableCompactPass's
// baseline).
var compactInFlight = 32

// trimKey trims the history of t's item k, a key of the compactor's work
// list, as of the cutoff (cutSeq, the first sequence written at or after
// it; last, the stream's last sequence), and updates the work list. It
// reports whether it asked the engine to remove anything.
func (m *Manager) trimKey(ctx context.Context, t *Table, k string, cutSeq uint64, cutoff int64, last uint64, latest bool) (bool, error) {
	e := t.ix.get(k)
	if e == nil || e.lock != nil {
		return false, nil
	}
	subj := t.subject([]byte(k))
	tombstone := e.item == nil
	below := min(cutSeq, e.seq)
	gone := false
	if tombstone && e.time < cutoff && e.seq != last {
		below, gone = e.seq+1, true
	}
	t.ix.mu.RLock()
	mark := t.ix.mu.dirty[k]
	t.ix.mu.RUnlock()
	purged := false
	switch {
	case gone && mark.prev != 0:
		// The tombstone (and the one version before it, if still
		// there), by their sequences: a purge below a sequence steps
		// through every message of the blocks the subject spans.
		prev := mark.prev
		if latest {
			prev = e.seq // the engine removed the version before as it stored the tombstone
		}
		for _, seq := range []uint64{prev, e.seq} {
			if err := deleteMsg(ctx, m.nc, t.jsName, seq); err != nil {
				return false, err
			}
			m.metrics.compactRequests.WithLabelValues(t.name).Inc()
			if seq == e.seq {
				break
			}
		}
		purged = true
	case tombstone && !gone:
		switch {
		case latest:
			// The engine removed the version before as it stored the
			// tombstone.
			mark = dirtyMark{due: e.seq, prev: e.seq}
		case mark.prev != 0 && mark.prev != e.seq:
			// The one version before the deletion goes once past the
			// retention; the tombstone later.
			if mark.prev < cutSeq {
				if err := deleteMsg(ctx, m.nc, t.jsName, mark.prev); err != nil {
					return false, err
				}
				m.metrics.compactRequests.WithLabelValues(t.name).Inc()
				purged = true
				mark = dirtyMark{due: e.seq, prev: e.seq}
			}
		default:
			// A longer history goes with the tombstone.
			mark.due = e.seq
		}
	case below > 1 && (!latest || gone) && (gone || mark.due == 0 || mark.due < below):
		if err := purgeSubject(ctx, m.nc, t.jsName, subj, below); err != nil {
			return false, err
		}
		m.metrics.compactRequests.WithLabelValues(t.name).Inc()
		purged = true
		if !gone {
			// What is left may begin after below (at the current
			// version, when no other came after the cutoff): the next
			// passes skip the key until the cutoff passes that.
			mark = dirtyMark{due: below}
			if _, seq, err := directGetNext(ctx, m.rc, t.jsName, subj, below); err == nil {
				mark.due = seq
			}
		}
	}
	t.ix.mu.Lock()
	defer t.ix.mu.Unlock()
	if t.ix.lookup(k) == e {
		switch {
		case gone:
			t.ix.remove(k)
			delete(t.ix.mu.dirty, k)
		case e.seq < cutSeq && !tombstone:
			delete(t.ix.mu.dirty, k) // only the current version is left
		case purged || tombstone:
			t.ix.mu.dirty[k] = mark
		}
	}
	return purged, nil
}

// streamStats is what a table's engine stream holds: its messages, their
// bytes, and the write time of the oldest.
type streamStats struct {
	msgs, bytes uint64
	first       time.Time
}

// readStats reads what t's engine stream holds, for the metrics.
func (t *Table) readStats(ctx context.Context) error {
	s, err := t.m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return fmt.Errorf("table %q: %w", t.name, classify(t.m.rc, err))
	}
	st := s.CachedInfo().State
	h := &streamStats{msgs: st.Msgs, bytes: st.Bytes}
	if st.Msgs > 0 {
		h.first = st.FirstTime
	}
	t.stats.Store(h)
	return nil
}
