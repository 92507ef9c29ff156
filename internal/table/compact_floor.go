package table

import (
	"context"
)

// The floor of a table's stream: the first message its index still
// needs. Below it lie only versions that were replaced or deleted, and
// tombstones, all older than the change retention, so one request removes
// them all: the engine drops the whole blocks below it and rewrites the
// one it falls in, where removing them one by one (a request each, and a
// deletion record and sometimes a block rewrite each in the engine) took
// the bench's engine about 48 µs of CPU per message, two per order of a
// table whose items expire. A table whose items all expire or are
// deleted in time (Fast Sneakers' orders) has its floor a retention
// behind; one with an item never written again keeps it low, and its
// history goes key by key as before.

// compactFloor says whether compaction passes remove a table's history
// below its floor in one request first (a variable for
// BenchmarkTableCompactFloor's baseline).
var compactFloor = true

// floorChunk is how many entries the floor's scan reads, and how many of
// the work list's keys its index update changes, under one hold of the
// index's lock, so that the applier waits for a chunk, not for the whole
// table.
const floorChunk = 1024

// compactBelowFloor removes every message of t's stream below its floor as
// of cutSeq (the first sequence written at or after the retention's
// cutoff), and the tombstones and work-list marks below it from the
// index. It returns how many deleted items left the index.
func (m *Manager) compactBelowFloor(ctx context.Context, t *Table, cutSeq uint64) (int, error) {
	floor, ok := t.ix.floor(cutSeq)
	if !ok || floor <= t.floorDone.Load() {
		return 0, nil
	}
	st, err := t.StreamState(ctx)
	if err != nil {
		return 0, err
	}
	// The stream's last message stays, as trimKey leaves it: the engine
	// then keeps the stream's last sequence however it restarts.
	if floor = min(floor, st.LastSeq); floor <= t.floorDone.Load() {
		return 0, nil
	}
	if floor > st.FirstSeq {
		if err := purgeSubject(ctx, m.nc, t.jsName, "", floor); err != nil {
			return 0, err
		}
		m.metrics.compactRequests.WithLabelValues(t.name).Inc()
	}
	n := t.ix.dropBelow(floor)
	t.floorDone.Store(floor)
	return n, nil
}

// floor returns the first sequence of the table's stream that the index
// may still need, as of cutSeq: no later than cutSeq (what is newer than
// the retention's cutoff stays), than any item's current version, or than
// the first message the index had not applied when it began. It reports
// false while a transaction holds a lock marker on an item (the versions
// a transaction may still need are not worked out).
//
// It reads the entries floorChunk at a time, in key order, releasing the
// index's lock between chunks so that the applier does not wait for a
// whole table: what the applier applies meanwhile lies after the first
// message not applied at the start, so it cannot lower the floor. It
// reads none when the oldest current version it found last time is still
// its item's current version (an item never written again: the floor
// cannot have moved).
func (ix *index) floor(cutSeq uint64) (uint64, bool) {
	ix.mu.RLock()
	f := min(cutSeq, ix.mu.last.seq+1)
	locked := len(ix.mu.locked) > 0
	// The oldest current version found last time, when still current,
	// is still the oldest: writes since have later sequences.
	hint := ix.mu.oldest
	still := hint.seq != 0 && ix.mu.keys[hint.key] != nil && ix.mu.keys[hint.key].seq == hint.seq
	ix.mu.RUnlock()
	if locked {
		return 0, false
	}
	if still {
		return min(f, hint.seq), true
	}
	oldest := oldestVersion{}
	for from, more := "", true; more; {
		n := 0
		more = false
		ix.mu.RLock()
		if len(ix.mu.locked) > 0 {
			ix.mu.RUnlock()
			return 0, false
		}
		ix.mu.tree.AscendGreaterOrEqual(slot{key: from}, func(s slot) bool {
			if n == floorChunk {
				from, more = s.key, true
				return false
			}
			n++
			if s.e.item != nil && (oldest.seq == 0 || s.e.seq < oldest.seq) {
				oldest = oldestVersion{s.key, s.e.seq}
			}
			return true
		})
		ix.mu.RUnlock()
	}
	ix.mu.Lock()
	ix.mu.oldest = oldest
	ix.mu.Unlock()
	if oldest.seq != 0 {
		f = min(f, oldest.seq)
	}
	return f, true
}

// oldestVersion is an item's key and the sequence of its current version.
type oldestVersion struct {
	key string
	seq uint64
}

// dropBelow updates the index for a stream whose messages below floor are
// gone: the deleted items whose tombstones were below it leave the index
// and the compactor's work list, and the work list's marks below it move
// up to what is left. It returns how many deleted items left.
func (ix *index) dropBelow(floor uint64) int {
	type goner struct {
		k string
		e *entry
	}
	var gone []goner
	var moved []string
	ix.mu.RLock()
	for k, mark := range ix.mu.dirty {
		e := ix.mu.keys[k]
		switch {
		case e == nil || e.lock != nil:
		case e.item == nil && e.seq < floor:
			gone = append(gone, goner{k, e})
		case mark.prev != 0 && mark.prev < floor, mark.due != 0 && mark.due < floor:
			moved = append(moved, k)
		}
	}
	ix.mu.RUnlock()

	dropped := 0
	for len(gone) > 0 || len(moved) > 0 {
		ix.mu.Lock()
		for n := 0; n < floorChunk && len(gone) > 0; n++ {
			g := gone[0]
			gone = gone[1:]
			if ix.lookup(g.k) == g.e { // not written since
				ix.remove(g.k)
				delete(ix.mu.dirty, g.k)
				dropped++
			}
		}
		for n := 0; n < floorChunk && len(moved) > 0; n++ {
			k := moved[0]
			moved = moved[1:]
			e, mark := ix.lookup(k), ix.mu.dirty[k]
			switch {
			case e == nil || e.lock != nil:
			case e.item == nil && mark.prev != 0 && mark.prev < floor:
				// The one version before the deletion is gone: the
				// tombstone is all the subject holds.
				ix.mu.dirty[k] = dirtyMark{due: e.seq, prev: e.seq}
			case mark.due != 0 && mark.due < floor:
				// What is left of the history begins at the floor or
				// later.
				mark.due = floor
				ix.mu.dirty[k] = mark
			}
		}
		ix.mu.Unlock()
	}
	return dropped
}
