package table

import (
	"context"
	"fmt"
	"time"

	"github.com/pricestream/pricestream/internal/engine"
)

// ResumeAfter returns the sequence a change reader continues from that
// last took the change at seq, having saved that position at time saved:
// seq+1, or, when seq lies past the newest message of the table's stream,
// the first change stored at or after saved, with pastEnd true.
//
// A sequence past the end means the stream is not the one the reader
// read: the table was deleted and created again under its name, or its
// stream lost an unsynced tail to a power failure. The engine then stores
// new changes at sequences the reader has already passed, and a reader
// that went on from its position would skip them. Every change it has not
// seen was stored after it saved its position, as long as the clock did
// not go back.
func (t *Table) ResumeAfter(ctx context.Context, seq uint64, saved time.Time) (from uint64, pastEnd bool, err error) {
	st, err := t.StreamState(ctx)
	if err != nil {
		return 0, false, err
	}
	if seq <= st.LastSeq {
		return seq + 1, false, nil
	}
	if from, err = t.firstSince(ctx, saved, st.LastSeq); err != nil {
		return 0, false, err
	}
	return from, true, nil
}

// Created returns the table's creation time; a table deleted and created
// again under its name has a new one.
func (t *Table) Created() time.Time { return t.created }

// FirstSince returns the sequence of the first message of the table's
// stream stored at or after since, or the sequence the next one will have
// when there is none.
func (t *Table) FirstSince(ctx context.Context, since time.Time) (uint64, error) {
	st, err := t.StreamState(ctx)
	if err != nil {
		return 0, err
	}
	return t.firstSince(ctx, since, st.LastSeq)
}

// firstSince returns the sequence of the first message stored at or after
// since, or last+1 when there is none.
func (t *Table) firstSince(ctx context.Context, since time.Time, last uint64) (uint64, error) {
	if last == 0 {
		return 1, nil
	}
	msg, err := engine.FirstSince(ctx, t.m.rjs, t.jsName, t.wildcard, since)
	if err != nil {
		return 0, fmt.Errorf("table %q: find time %s: %w", t.name, since.Format(time.RFC3339Nano), classify(t.m.rc, err))
	}
	if msg == nil {
		return last + 1, nil
	}
	md, err := msg.Metadata()
	if err != nil {
		return 0, err
	}
	return md.Sequence.Stream, nil
}
