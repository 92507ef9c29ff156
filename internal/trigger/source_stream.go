package trigger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/pricestream/pricestream/internal/stream"
)

// StreamSource is a data stream as a trigger source. Its records are
// encoded as Kinesis records; their key is the partition key.
type StreamSource struct {
	s    *stream.Stream
	meta EventMeta
}

var (
	_ Source  = (*StreamSource)(nil)
	_ Tipper  = (*StreamSource)(nil)
	_ Created = (*StreamSource)(nil)
)

// NewStreamSource returns s as a source; region and account go into the
// records' ARNs.
func NewStreamSource(s *stream.Stream, region, account string) *StreamSource {
	return &StreamSource{s: s, meta: EventMeta{
		Region:    region,
		SourceARN: "arn:aws:kinesis:" + region + ":" + account + ":stream/" + s.Name(),
	}}
}

func (*StreamSource) denseOffsets() {}

// Created returns the stream's creation time.
func (ss *StreamSource) Created() time.Time { return ss.s.Created() }

// Partitions returns the stream's partition count.
func (ss *StreamSource) Partitions() int { return ss.s.Partitions() }

// AppendRecord appends r as a Kinesis record.
func (ss *StreamSource) AppendRecord(dst []byte, r *Record) []byte {
	return AppendKinesisRecord(dst, r, &ss.meta)
}

// Tip returns the records stored in a partition and the newest's arrival.
func (ss *StreamSource) Tip(ctx context.Context, part int) (uint64, time.Time, error) {
	t, err := ss.s.Tip(ctx, part)
	if err != nil {
		return 0, time.Time{}, err
	}
	return t.Records, t.LastArrival, nil
}

// Open subscribes to a partition.
func (ss *StreamSource) Open(ctx context.Context, part int, from From) (PartitionReader, error) {
	var pos stream.Position
	if from.After != "" {
		p, after, err := stream.ParseSequenceNumber(from.After)
		if err != nil {
			return nil, fmt.Errorf("trigger: checkpoint of partition %d: %w", part, err)
		}
		if p != part {
			return nil, fmt.Errorf("trigger: checkpoint %s belongs to partition %d, not %d", from.After, p, part)
		}
		var pastEnd bool
		again := recreated(ss, from.SourceCreated)
		if again {
			pos, err = ss.s.Resolve(ctx, part, stream.Start{Kind: stream.AtTimestamp, Time: from.Saved})
		} else {
			pos, pastEnd, err = ss.s.ResumeAfter(ctx, part, after, from.Saved)
		}
		if err != nil {
			return nil, err
		}
		if (pastEnd || again) && from.PastEnd != nil {
			from.PastEnd(again, pos.SequenceNumber(part))
		}
	} else {
		st := stream.Start{Kind: stream.TrimHorizon}
		switch from.Start {
		case StartLatest:
			st.Kind = stream.Latest
		case StartAtTimestamp:
			st = stream.Start{Kind: stream.AtTimestamp, Time: from.Time}
		}
		var err error
		if pos, err = ss.s.Resolve(ctx, part, st); err != nil {
			return nil, err
		}
	}
	sub, err := ss.s.Subscribe(ctx, part, pos)
	if err != nil {
		return nil, err
	}
	return &streamReader{sub: sub, part: part}, nil
}

type streamReader struct {
	sub  *stream.Subscription
	part int
}

func (r *streamReader) Next(ctx context.Context) ([]Record, error) {
	for {
		recs, err := r.sub.Next(ctx)
		if err != nil {
			if errors.Is(err, stream.ErrClosed) {
				return nil, fmt.Errorf("%w: %v", ErrClosed, err)
			}
			return nil, err
		}
		if len(recs) == 0 {
			continue // a batch wholly before the start
		}
		out := make([]Record, len(recs))
		for i := range recs {
			sr := &recs[i]
			out[i] = Record{
				SequenceNumber: sr.Position.SequenceNumber(r.part),
				Partition:      r.part,
				Key:            sr.PartitionKey,
				Arrival:        sr.Arrival,
				Offset:         sr.Offset,
				Data:           sr.Data,
			}
		}
		return out, nil
	}
}

func (r *streamReader) Close() { r.sub.Stop() }

// Sources opens the sources of the trigger manager: data streams from a
// stream manager, and table change streams through Tables once tables
// exist.
type Sources struct {
	Streams *stream.Manager
	// Tables opens "table:" sources; nil means tables are not available.
	Tables SourceOpener
	// Region and AccountID go into the records' ARNs.
	Region, AccountID string
}

// OpenSource opens a stream (or, through Tables, a table) as a source.
func (s *Sources) OpenSource(ctx context.Context, ref SourceRef) (Source, error) {
	switch ref.Kind {
	case "stream":
		if s.Streams == nil {
			return nil, errors.New("trigger: no stream manager")
		}
		st, err := s.Streams.Open(ctx, ref.Name)
		if err != nil {
			if errors.Is(err, stream.ErrNotFound) {
				return nil, fmt.Errorf("%w: source %s: %v", ErrNotFound, ref, err)
			}
			return nil, err
		}
		return NewStreamSource(st, s.Region, s.AccountID), nil
	case "table":
		if s.Tables == nil {
			return nil, fmt.Errorf("trigger: source %s: table change streams are not available in this server yet", ref)
		}
		return s.Tables.OpenSource(ctx, ref)
	}
	return nil, fmt.Errorf("%w: source kind %q", ErrInvalidArgument, ref.Kind)
}
