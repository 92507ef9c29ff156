package table

import (
	"context"
	"errors"
	"fmt"
)

// The change stream of a table of batched writes: its changes are the
// entries of its batch messages (message_batch.go), and a change's
// sequence number is its position, which counts them. A read from a
// position finds the batch that holds it (locate) and skips the entries
// before it.

// decodeBatchChanges appends to out the changes of the batch message at
// seq whose positions are at least from, with their images decoded as
// proj selects.
func (t *Table) decodeBatchChanges(seq uint64, data []byte, proj projection, from uint64, out []*Change) ([]*Change, error) {
	br, err := readBatch(data)
	if err != nil {
		return out, fmt.Errorf("table %q message %d: %w", t.name, seq, err)
	}
	var e batchEntry
	for br.entry(&e) {
		if e.pos < from || e.op == opRestore {
			continue
		}
		c, err := t.entryChange(seq, &e, proj)
		if err != nil {
			return out, err
		}
		out = append(out, c)
	}
	if br.failed() {
		return out, fmt.Errorf("table %q message %d: entry at position %d: %w", t.name, seq, br.next, errCorruptMessage)
	}
	return out, nil
}

// entryChange turns a put or delete entry of the batch at seq into a
// Change.
func (t *Table) entryChange(seq uint64, e *batchEntry, proj projection) (*Change, error) {
	return t.newChange(seq, e.pos, e.op, e.flags, e.time, e.key, e.item, e.old, proj)
}

// batchStreamState is StreamState of a table of batched writes: the
// positions of the first entry kept and of the last written.
func (t *Table) batchStreamState(ctx context.Context) (StreamState, error) {
	s, err := t.m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return StreamState{}, fmt.Errorf("table %q: %w", t.name, classify(t.m.rc, err))
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		// Nothing kept: the next position is the index's, as far as it
		// knows.
		p := t.ix.lastPos.Load()
		return StreamState{FirstSeq: p + 1, LastSeq: p}, nil
	}
	var out StreamState
	first, _, err := t.batchAt(ctx, st.FirstSeq)
	if err != nil {
		return StreamState{}, err
	}
	out.FirstSeq = first
	f, n, err := t.batchAt(ctx, st.LastSeq)
	if err != nil {
		return StreamState{}, err
	}
	out.LastSeq = f + n - 1
	return out, nil
}

// batchAt returns the extent of the first batch message at or after
// engine sequence seq.
func (t *Table) batchAt(ctx context.Context, seq uint64) (first, n uint64, err error) {
	msg, got, err := directGetNext(ctx, t.m.rc, t.jsName, t.wildcard, seq)
	if err != nil {
		return 0, 0, fmt.Errorf("table %q: read message %d: %w", t.name, seq, classify(t.m.rc, err))
	}
	if first, n, err = batchExtent(msg.Data); err != nil {
		return 0, 0, fmt.Errorf("table %q message %d: %w", t.name, got, err)
	}
	return first, n, nil
}

// locate returns the engine sequence to read from for the changes at
// position pos and after: that of the batch holding pos, or of an earlier
// one (the reader skips the entries before pos), or the sequence after
// the stream's last message when pos lies beyond it.
func (t *Table) locate(ctx context.Context, pos uint64) (uint64, error) {
	ix := t.ix
	// applied first, then the last position: applyBatch stores them the
	// other way round, so a batch applied in between leaves applied
	// behind lp (the read then starts earlier than it need, which the
	// reader's skip of the entries before pos makes right), and never lp
	// behind applied (pos inside that batch would start after it).
	applied := ix.applied.Load()
	lp := ix.lastPos.Load()
	if pos > lp {
		return applied + 1, nil // not yet applied: after what the index holds
	}
	s, err := t.m.rjs.Stream(ctx, t.jsName)
	if err != nil {
		return 0, fmt.Errorf("table %q: %w", t.name, classify(t.m.rc, err))
	}
	st := s.CachedInfo().State
	if st.Msgs == 0 {
		return st.LastSeq + 1, nil
	}
	// The first message whose last position is at least pos: messages
	// are never removed but from the front, so [FirstSeq, LastSeq] has no
	// holes.
	lo, hi := st.FirstSeq, min(st.LastSeq, applied)+1
	for lo < hi {
		mid := lo + (hi-lo)/2
		msg, got, err := directGetNext(ctx, t.m.rc, t.jsName, t.wildcard, mid)
		if errors.Is(err, errNoMessage) {
			hi = mid
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("table %q: locate position %d: %w", t.name, pos, classify(t.m.rc, err))
		}
		first, n, err := batchExtent(msg.Data)
		if err != nil {
			return 0, fmt.Errorf("table %q message %d: %w", t.name, got, err)
		}
		if first+n-1 < pos {
			lo = got + 1
		} else {
			hi = mid
		}
	}
	return lo, nil
}

// readBatchChanges is ReadChanges of a table of batched writes: from is a
// position, and so is the next one it returns.
func (t *Table) readBatchChanges(ctx context.Context, from uint64, max int) ([]*Change, uint64, error) {
	if from == 0 {
		from = 1
	}
	seq, err := t.locate(ctx, from)
	if err != nil {
		return nil, 0, err
	}
	var out []*Change
	next := from
	bytes := 0
	_, err = t.scanMessages(ctx, seq, func() (int, int) { return max - len(out), maxReadBytes - bytes }, func(s uint64, data []byte) (bool, error) {
		br, err := readBatch(data)
		if err != nil {
			return false, fmt.Errorf("table %q message %d: %w", t.name, s, err)
		}
		var e batchEntry
		for br.entry(&e) {
			if e.pos < next {
				continue
			}
			if e.op != opRestore {
				if len(out) >= max || bytes >= maxReadBytes {
					return false, nil // next is e.pos: the rest of the batch is read again
				}
				c, err := t.entryChange(s, &e, projection{})
				if err != nil {
					return false, err
				}
				out = append(out, c)
				bytes += c.Size
			}
			next = e.pos + 1
		}
		if br.failed() {
			return false, fmt.Errorf("table %q message %d: entry at position %d: %w", t.name, s, br.next, errCorruptMessage)
		}
		return len(out) < max && bytes < maxReadBytes, nil
	})
	if err != nil {
		return nil, 0, err
	}
	return out, next, nil
}
