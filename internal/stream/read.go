package stream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/pricestream/pricestream/internal/engine"
)

// Record is a stored record.
type Record struct {
	Partition int
	Position  Position
	// Offset counts the records stored in the partition before this one.
	Offset       uint64
	PartitionKey string
	// Data aliases the engine message; the reader may keep it but must not
	// modify it.
	Data []byte
	// Arrival is when ingest accepted the record.
	Arrival time.Time
}

// ReadOptions bound one Read.
type ReadOptions struct {
	MaxRecords int // default 1,000; at most 10,000
	MaxBytes   int // default and at most 10 MiB of data
}

// Read limits, after Kinesis GetRecords.
const (
	DefaultReadRecords = 1000
	MaxReadRecords     = 10_000
	MaxReadBytes       = 10 << 20
)

// ReadResult is the outcome of a Read.
type ReadResult struct {
	Records []Record
	// Next is where the next Read continues.
	Next Position
	// MillisBehind is how long ago the oldest unread record arrived; 0 when
	// the read reached the newest record.
	MillisBehind int64
}

func (s *Stream) checkPartition(part int) error {
	if part < 0 || part >= len(s.ranges) {
		return fmt.Errorf("%w: partition %d: stream %q has partitions 0-%d", ErrInvalidArgument, part, s.name, len(s.ranges)-1)
	}
	return nil
}

// Read returns records of a partition from position from (inclusive).
func (s *Stream) Read(ctx context.Context, part int, from Position, opts ReadOptions) (*ReadResult, error) {
	if err := s.checkPartition(part); err != nil {
		return nil, err
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = DefaultReadRecords
	}
	opts.MaxRecords = min(opts.MaxRecords, MaxReadRecords)
	if opts.MaxBytes <= 0 || opts.MaxBytes > MaxReadBytes {
		opts.MaxBytes = MaxReadBytes
	}
	res := &ReadResult{Next: from}
	seq := from.Seq
	bytes := 0
	for {
		msg, mseq, err := directGet(ctx, s.m.rc, s.jsNames[part], s.subjects[part], seq)
		if errors.Is(err, errNoMessage) {
			return res, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read stream %q partition %d: %w", s.name, part, classify(s.m.rc, err))
		}
		br, err := newBatchReader(msg.Data)
		if err != nil {
			return nil, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
		}
		skip := uint32(0)
		if mseq == from.Seq {
			skip = from.Index
		}
		full := len(res.Records) >= opts.MaxRecords || bytes >= opts.MaxBytes
		var r batchRecord
		for i := uint32(0); ; i++ {
			ok, err := br.next(&r)
			if err != nil {
				return nil, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
			}
			if !ok {
				break
			}
			if i < skip {
				continue
			}
			if full || len(res.Records) >= opts.MaxRecords || (bytes+len(r.data) > opts.MaxBytes && len(res.Records) > 0) {
				res.Next = Position{Seq: mseq, Index: i}
				res.MillisBehind = max(0, time.Since(time.Unix(0, r.arrival)).Milliseconds())
				return res, nil
			}
			bytes += len(r.data)
			res.Records = append(res.Records, Record{
				Partition:    part,
				Position:     Position{Seq: mseq, Index: i},
				Offset:       br.hdr.offset + uint64(i),
				PartitionKey: r.key,
				Data:         r.data,
				Arrival:      time.Unix(0, r.arrival),
			})
		}
		res.Next = Position{Seq: mseq + 1}
		seq = mseq + 1
	}
}

// Resolve turns a start into the position of the first record to read.
func (s *Stream) Resolve(ctx context.Context, part int, st Start) (Position, error) {
	if err := s.checkPartition(part); err != nil {
		return Position{}, err
	}
	switch st.Kind {
	case TrimHorizon:
		return Position{}, nil
	case AtPosition, AfterPosition:
		if st.Partition != part {
			return Position{}, fmt.Errorf("%w: sequence number %s belongs to partition %d, not %d", ErrInvalidArgument, st.Position.SequenceNumber(st.Partition), st.Partition, part)
		}
		if st.Kind == AfterPosition {
			return st.Position.Next(), nil
		}
		return st.Position, nil
	case Latest:
		tip, err := s.Tip(ctx, part)
		if err != nil {
			return Position{}, err
		}
		return tip.Next, nil
	case AtTimestamp:
		return s.resolveTime(ctx, part, st.Time)
	}
	return Position{}, fmt.Errorf("%w: start kind %d", ErrInvalidArgument, st.Kind)
}

// resolveTime finds the first record that arrived at or after t. The engine
// finds the first batch stored at or after t (a batch is stored after its
// records arrive); records in it that arrived before t are skipped.
func (s *Stream) resolveTime(ctx context.Context, part int, t time.Time) (Position, error) {
	tip, err := s.Tip(ctx, part)
	if err != nil {
		return Position{}, err
	}
	if tip.Records == 0 || tip.LastArrival.Before(t) {
		return tip.Next, nil
	}
	msg, err := engine.FirstSince(ctx, s.m.rjs, s.jsNames[part], s.subjects[part], t)
	if err != nil {
		return Position{}, fmt.Errorf("stream %q partition %d: find time %s: %w", s.name, part, t.Format(time.RFC3339Nano), classify(s.m.rc, err))
	}
	if msg == nil {
		return tip.Next, nil
	}
	md, err := msg.Metadata()
	if err != nil {
		return Position{}, err
	}
	mseq := md.Sequence.Stream
	br, err := newBatchReader(msg.Data())
	if err != nil {
		return Position{}, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
	}
	var r batchRecord
	for i := uint32(0); ; i++ {
		ok, err := br.next(&r)
		if err != nil {
			return Position{}, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
		}
		if !ok {
			return Position{Seq: mseq + 1}, nil
		}
		if r.arrival >= t.UnixNano() {
			return Position{Seq: mseq, Index: i}, nil
		}
	}
}

// testHookTipEmpty, when set (by a test), runs in Tip after it found a
// partition empty, before it reads the stream's last sequence.
var testHookTipEmpty atomic.Pointer[func()]

// Tip describes the newest end of a partition.
type Tip struct {
	// Next is the position the next stored record will be at or after.
	Next Position
	// Records is the number of records ever stored in the partition (the
	// offset of the next one).
	Records uint64
	// LastArrival is when the newest record arrived; zero when there is none.
	LastArrival time.Time
}

// Tip returns the newest end of a partition.
func (s *Stream) Tip(ctx context.Context, part int) (Tip, error) {
	if err := s.checkPartition(part); err != nil {
		return Tip{}, err
	}
	msg, mseq, err := directGetLast(ctx, s.m.rc, s.jsNames[part], s.subjects[part])
	var data []byte
	if err == nil {
		data = msg.Data
	}
	if errors.Is(err, errNoMessage) {
		// Nothing stored: everything from the stream's next sequence is new.
		// A batch stored after the get and before the stream's last
		// sequence is read takes that sequence, and a reader starting after
		// it would skip the batch: the partition is asked again after the
		// sequence is read, of the stream's leader as the sequence was (a
		// replica answering a direct get may not hold the batch yet).
		if f := testHookTipEmpty.Load(); f != nil {
			(*f)()
		}
		si, ierr := s.m.js.Stream(ctx, s.jsNames[part])
		if ierr != nil {
			return Tip{}, fmt.Errorf("stream %q: %w", s.name, classify(s.m.nc, ierr))
		}
		next := si.CachedInfo().State.LastSeq + 1
		mseq, data, err = msgGetLast(ctx, s.m.nc, s.jsNames[part], s.subjects[part])
		if errors.Is(err, errNoMessage) {
			return Tip{Next: Position{Seq: next}}, nil
		}
	}
	if err != nil {
		return Tip{}, fmt.Errorf("stream %q partition %d: %w", s.name, part, classify(s.m.rc, err))
	}
	br, err := newBatchReader(data)
	if err != nil {
		return Tip{}, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
	}
	var r batchRecord
	last := br.hdr.base
	for {
		ok, err := br.next(&r)
		if err != nil {
			return Tip{}, fmt.Errorf("stream %q partition %d batch %d: %w", s.name, part, mseq, err)
		}
		if !ok {
			break
		}
		last = r.arrival
	}
	return Tip{Next: Position{Seq: mseq + 1}, Records: br.hdr.offset + uint64(br.hdr.count), LastArrival: time.Unix(0, last)}, nil
}

// ResumeAfter returns where a reader continues that last took the record
// at position after in partition part, having saved that position at time
// saved: the next position, or, when after lies past the partition's
// newest stored record, the first record that arrived at or after saved,
// with pastEnd true.
//
// A position past the end means the stream is not the one the reader
// read: it was deleted and created again under its name, or it lost an
// unsynced tail to a power failure. The engine then stores new records at
// sequences the reader has already passed, and a reader that went on from
// its position would skip them. Every record it has not seen arrived after
// it saved its position (records before that are ones it read, or lost
// ones), as long as the clock did not go back.
func (s *Stream) ResumeAfter(ctx context.Context, part int, after Position, saved time.Time) (from Position, pastEnd bool, err error) {
	tip, err := s.Tip(ctx, part)
	if err != nil {
		return Position{}, false, err
	}
	if after.Seq < tip.Next.Seq {
		return after.Next(), false, nil
	}
	if from, err = s.resolveTime(ctx, part, saved); err != nil {
		return Position{}, false, err
	}
	return from, true, nil
}

// Subscription delivers a partition's records as they are stored, from a
// start position on, with the engine pushing them (no polling).
type Subscription struct {
	s    *Stream
	part int
	skip Position
	cons jetstream.Consumer
	it   jetstream.MessagesContext
}

// Subscribe starts delivering partition part from position from
// (inclusive). Stop must be called to release it.
func (s *Stream) Subscribe(ctx context.Context, part int, from Position) (*Subscription, error) {
	if err := s.checkPartition(part); err != nil {
		return nil, err
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{s.subjects[part]}, DeliverPolicy: jetstream.DeliverAllPolicy}
	if from.Seq > 1 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = from.Seq
	}
	cons, err := s.m.rjs.OrderedConsumer(ctx, s.jsNames[part], cfg)
	if err != nil {
		return nil, fmt.Errorf("subscribe stream %q partition %d: %w", s.name, part, classify(s.m.rc, err))
	}
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(256, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("subscribe stream %q partition %d: %w", s.name, part, classify(s.m.rc, err))
	}
	return &Subscription{s: s, part: part, skip: from, cons: cons, it: it}, nil
}

// Next blocks until the next batch of records is stored (or ctx is done, or
// the subscription stopped) and returns its records from the start position
// on. A batch wholly before the start position yields an empty slice.
func (sub *Subscription) Next(ctx context.Context) ([]Record, error) {
	msg, err := sub.it.Next(jetstream.NextContext(ctx))
	if err != nil {
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil, ErrClosed
		}
		return nil, err
	}
	md, err := msg.Metadata()
	if err != nil {
		return nil, fmt.Errorf("stream %q partition %d: %w", sub.s.name, sub.part, err)
	}
	mseq := md.Sequence.Stream
	br, err := newBatchReader(msg.Data())
	if err != nil {
		return nil, fmt.Errorf("stream %q partition %d batch %d: %w", sub.s.name, sub.part, mseq, err)
	}
	out := make([]Record, 0, br.hdr.count)
	var r batchRecord
	for i := uint32(0); ; i++ {
		ok, err := br.next(&r)
		if err != nil {
			return nil, fmt.Errorf("stream %q partition %d batch %d: %w", sub.s.name, sub.part, mseq, err)
		}
		if !ok {
			break
		}
		p := Position{Seq: mseq, Index: i}
		if p.Less(sub.skip) {
			continue
		}
		out = append(out, Record{Partition: sub.part, Position: p, Offset: br.hdr.offset + uint64(i), PartitionKey: r.key, Data: r.data, Arrival: time.Unix(0, r.arrival)})
	}
	return out, nil
}

// Stop ends the subscription; a blocked Next returns ErrClosed. Stop is
// idempotent.
func (sub *Subscription) Stop() { sub.it.Stop() }
