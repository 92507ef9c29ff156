package trigger

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/pricestream/pricestream/internal/table"
)

// TableSource is a table's change stream as a trigger source: one
// partition (a table's changes are totally ordered, as its DynamoDB stream
// has one shard), records encoded as DynamoDB Streams records, ordered per
// item key.
type TableSource struct {
	t    *table.Table
	view string
	meta EventMeta
	// attrs, when set, returns the only attributes of the images a reader
	// decodes (see [ImageProjector]), asked at each Open; nil from it, or
	// no attrs, means whole images.
	attrs func() []string
}

var (
	_ Source      = (*TableSource)(nil)
	_ Tipper      = (*TableSource)(nil)
	_ Created     = (*TableSource)(nil)
	_ projectable = (*TableSource)(nil)
)

// NewTableSource returns t's change stream as a source; region and account
// go into the records' ARNs (the table's DynamoDB stream ARN).
func NewTableSource(t *table.Table, region, account string) *TableSource {
	view := string(t.StreamView())
	if view == "" {
		// A table without a stream view still has its change stream; the
		// trigger sees the new images.
		view = string(table.ViewNewImage)
	}
	label := t.Info().Created.UTC().Format("2006-01-02T15:04:05.000")
	return &TableSource{t: t, view: view, meta: EventMeta{
		Region:    region,
		SourceARN: "arn:aws:dynamodb:" + region + ":" + account + ":table/" + t.Name() + "/stream/" + label,
	}}
}

// project returns a copy of the source whose readers decode only the
// attributes names returns, when it opens them, of the changes' images.
func (ts *TableSource) project(names func() []string) Source {
	c := *ts
	c.attrs = names
	return &c
}

// Created returns the table's creation time.
func (ts *TableSource) Created() time.Time { return ts.t.Created() }

// Partitions returns 1.
func (ts *TableSource) Partitions() int { return 1 }

// AppendRecord appends r as a DynamoDB Streams record.
func (ts *TableSource) AppendRecord(dst []byte, r *Record) []byte {
	return AppendDynamoDBRecord(dst, r, &ts.meta)
}

// Tip returns the newest engine sequence of the table's stream, which
// bounds the changes after a checkpoint from above (the stream also holds
// messages that change nothing), and no arrival time.
func (ts *TableSource) Tip(ctx context.Context, _ int) (uint64, time.Time, error) {
	st, err := ts.t.StreamState(ctx)
	if err != nil {
		return 0, time.Time{}, err
	}
	return st.LastSeq, time.Time{}, nil
}

// Open subscribes to the table's changes.
func (ts *TableSource) Open(ctx context.Context, part int, from From) (PartitionReader, error) {
	if part != 0 {
		return nil, fmt.Errorf("%w: table %q has one partition, not %d", ErrInvalidArgument, ts.t.Name(), part)
	}
	pos := table.Position{Kind: table.TrimHorizon}
	switch {
	case from.After != "":
		seq, err := strconv.ParseUint(from.After, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("trigger: checkpoint %q of table %q: %w", from.After, ts.t.Name(), err)
		}
		var start uint64
		var pastEnd bool
		again := recreated(ts, from.SourceCreated)
		if again {
			start, err = ts.t.FirstSince(ctx, from.Saved)
		} else {
			start, pastEnd, err = ts.t.ResumeAfter(ctx, seq, from.Saved)
		}
		if err != nil {
			return nil, err
		}
		if (pastEnd || again) && from.PastEnd != nil {
			from.PastEnd(again, strconv.FormatUint(start, 10))
		}
		pos = table.Position{Kind: table.AtSeq, Seq: start}
	case from.Start == StartLatest:
		pos = table.Position{Kind: table.Latest}
	case from.Start == StartAtTimestamp:
		return nil, fmt.Errorf("%w: at_timestamp works with data streams only", ErrInvalidArgument)
	}
	var opts []table.SubscribeOption
	var attrs []string
	if ts.attrs != nil {
		if attrs = ts.attrs(); attrs != nil {
			opts = append(opts, table.ImageAttrs(attrs...))
		}
	}
	sub, err := ts.t.Subscribe(ctx, pos, opts...)
	if err != nil {
		return nil, err
	}
	return &tableReader{ts: ts, sub: sub, attrs: attrs}, nil
}

type tableReader struct {
	ts    *TableSource
	sub   *table.Subscription
	attrs []string // the projection of this read; nil: whole images
}

// tableChunk is the most changes one Next returns: a reader that fell
// behind gets what the subscription read ahead in one chunk, so that the
// runner's batches fill up (one change per chunk kept batches at a few
// records, and an invocation and a checkpoint per few records).
const tableChunk = 500

func (r *tableReader) Next(ctx context.Context) ([]Record, error) {
	cs, err := r.sub.NextBatch(ctx, tableChunk)
	if err != nil {
		if errors.Is(err, table.ErrClosed) {
			return nil, fmt.Errorf("%w: %v", ErrClosed, err)
		}
		return nil, err
	}
	recs := make([]Record, len(cs))
	changes := make([]Change, len(cs)) // one allocation for the chunk's
	var kb []byte                      // the keys' JSON, one buffer for the chunk
	for i, c := range cs {
		ch := &changes[i]
		*ch = Change{EventName: string(c.Event), Keys: c.Keys, StreamViewType: r.ts.view, SizeBytes: c.Size, Projected: r.attrs, Expired: c.Expired}
		switch table.ViewType(r.ts.view) {
		case table.ViewNewImage:
			ch.NewImage = c.New
		case table.ViewOldImage:
			ch.OldImage = c.Old
		case table.ViewNewAndOldImgs:
			ch.NewImage, ch.OldImage = c.New, c.Old
		}
		kb = c.Keys.AppendJSON(kb[:0])
		recs[i] = Record{
			SequenceNumber: sequenceNumber(c.Seq),
			Key:            string(kb),
			Arrival:        c.Time,
			Offset:         c.Seq,
			Change:         ch,
		}
	}
	return recs, nil
}

func (r *tableReader) Close() { r.sub.Stop() }

// sequenceNumber returns seq as the DynamoDB Streams API shows it: 21
// digits, zero-padded (fmt's %021d without fmt's cost per change).
func sequenceNumber(seq uint64) string {
	var b [21]byte
	d := strconv.AppendUint(b[:0], seq, 10)
	if len(d) >= len(b) {
		return string(d)
	}
	n := len(d)
	copy(b[len(b)-n:], d)
	for i := range len(b) - n {
		b[i] = '0'
	}
	return string(b[:])
}

// TableOpener opens "table:" sources from a table manager.
type TableOpener struct {
	Tables *table.Manager
	// Region and AccountID go into the records' ARNs.
	Region, AccountID string
}

// OpenSource opens a table's change stream.
func (o *TableOpener) OpenSource(ctx context.Context, ref SourceRef) (Source, error) {
	t, err := o.Tables.Open(ctx, ref.Name)
	if err != nil {
		if errors.Is(err, table.ErrNotFound) {
			return nil, fmt.Errorf("%w: source %s: %v", ErrNotFound, ref, err)
		}
		return nil, err
	}
	return NewTableSource(t, o.Region, o.AccountID), nil
}
