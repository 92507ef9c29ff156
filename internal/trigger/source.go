package trigger

import (
	"context"
	"slices"
	"time"
)

// Source is where a trigger's records come from: a data stream, or a
// table's change stream. Implementations are safe for concurrent use.
type Source interface {
	// Partitions returns the number of partitions; it does not change
	// while the trigger runs.
	Partitions() int
	// Open starts push delivery of partition part from a position: just
	// after the record whose sequence number is from.After when it is set,
	// else at from.Start. The caller must Close the reader.
	Open(ctx context.Context, part int, from From) (PartitionReader, error)
	// AppendRecord appends r as the JSON record Lambda would give a
	// function for this kind of source (see [AppendKinesisRecord] and
	// [AppendDynamoDBRecord]). It must not block.
	AppendRecord(dst []byte, r *Record) []byte
}

// PartitionReader delivers one partition's records in order, as the
// source stores them.
type PartitionReader interface {
	// Next blocks until at least one record is stored after those already
	// returned (or ctx is done, or the reader is closed) and returns the
	// records available, in order. The slice and records belong to the
	// caller. After Close it returns an error wrapping ErrClosed.
	Next(ctx context.Context) ([]Record, error)
	// Close releases the reader; a blocked Next returns. It is idempotent.
	Close()
}

// Created is a Source that knows when it was created: a source deleted
// and created again under its name has a new time, and its checkpoints
// from before do not name positions in it.
type Created interface {
	Created() time.Time
}

// recreated reports whether a checkpoint taken on a source created at
// created (Unix ns, 0 when not known) belongs to an earlier source than s.
func recreated(s Created, created int64) bool {
	return created != 0 && s.Created().UnixNano() != created
}

// Tipper is a Source that can say how far a partition extends, for lag.
type Tipper interface {
	// Tip returns the number of records ever stored in the partition and
	// when the newest arrived.
	Tip(ctx context.Context, part int) (records uint64, last time.Time, err error)
}

// From is where a partition reader starts.
type From struct {
	// After is a sequence number from a checkpoint: start just after it.
	After string
	// Saved is when the checkpoint was committed, and SourceCreated the
	// creation time (Unix ns) of the source it was taken on (0: not
	// known). When After lies past the partition's end, or the source was
	// created again since (see [Created]), the engine has stored or will
	// store new records at sequences the checkpoint passed: Open then
	// starts at the first record stored at or after Saved, and calls
	// PastEnd (when set) with the sequence number it starts at.
	Saved         time.Time
	SourceCreated int64
	PastEnd       func(recreated bool, from string)
	// Start applies when After is empty: trim_horizon, latest or
	// at_timestamp (with Time).
	Start string
	Time  time.Time
}

// SourceOpener opens a source by kind and name for the trigger manager.
type SourceOpener interface {
	// OpenSource returns the source named by ref. It returns an error
	// wrapping ErrNotFound when the source does not exist.
	OpenSource(ctx context.Context, ref SourceRef) (Source, error)
}

// denseOffsets marks a Source whose records' offsets count the records of
// a partition without gaps, so that a gap means records expired before
// the trigger read them.
type denseOffsets interface{ denseOffsets() }

// projectable is a Source whose records carry images (a table's change
// stream) that can deliver them projected.
type projectable interface {
	// project returns a source like this one whose records' images hold
	// only the top-level attributes names returns (nil: whole images),
	// asked each time a partition is opened.
	project(names func() []string) Source
}

// projected returns src delivering only the image attributes that fn
// reads and filters match on, when src can project, fn names what it reads
// ([ImageProjector]) and no filter needs a whole image; otherwise src. The
// function is asked at each open of a partition, so that what it reads
// may change (see [ErrReread]).
func projected(src Source, fn Function, filters Filters) Source {
	ps, ok := src.(projectable)
	if !ok {
		return src
	}
	ip, ok := fn.(ImageProjector)
	if !ok {
		return src
	}
	fnames, whole := filters.imageAttrs()
	if whole {
		return src
	}
	return ps.project(func() []string {
		names := ip.ImageAttrs()
		if names == nil {
			return nil
		}
		all := append(slices.Clone(names), fnames...)
		slices.Sort(all)
		all = slices.Compact(all)
		if all == nil {
			all = []string{}
		}
		return all
	})
}
