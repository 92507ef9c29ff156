package stream

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Position is the place of a record in its partition: the engine sequence
// of the record batch that holds it and its index in that batch. Positions
// of one partition increase in the order records were stored.
type Position struct {
	Seq   uint64 // engine message sequence; 0 means before the first
	Index uint32 // index of the record in the batch
}

// seqFactor combines a position into one sequence number: Seq*seqFactor+Index.
// A batch holds fewer than maxBatchRecords < seqFactor records.
const seqFactor = 1_000_000

// SequenceNumber returns the decimal sequence number of the record, as
// Kinesis writes it.
func (p Position) SequenceNumber() string {
	if p.Seq > (math.MaxUint64-uint64(p.Index))/seqFactor {
		return strconv.FormatUint(p.Seq, 10) + fmt.Sprintf("%06d", p.Index)
	}
	return strconv.FormatUint(p.Seq*seqFactor+uint64(p.Index), 10)
}

// String returns the sequence number.
func (p Position) String() string { return p.SequenceNumber() }

// Less reports whether p comes before o.
func (p Position) Less(o Position) bool {
	return p.Seq < o.Seq || (p.Seq == o.Seq && p.Index < o.Index)
}

// Next returns the position just after p.
func (p Position) Next() Position { return Position{Seq: p.Seq, Index: p.Index + 1} }

// ParseSequenceNumber parses a sequence number made by
// [Position.SequenceNumber].
func ParseSequenceNumber(s string) (Position, error) {
	if s == "" || len(s) > 26 || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return Position{}, fmt.Errorf("%w: sequence number %q: want a decimal number", ErrInvalidArgument, s)
	}
	if len(s) <= 19 {
		v, err := strconv.ParseUint(s, 10, 64)
		if err == nil {
			return Position{Seq: v / seqFactor, Index: uint32(v % seqFactor)}, nil
		}
	}
	if len(s) <= 6 {
		return Position{}, fmt.Errorf("%w: sequence number %q out of range", ErrInvalidArgument, s)
	}
	seq, err := strconv.ParseUint(s[:len(s)-6], 10, 64)
	if err != nil {
		return Position{}, fmt.Errorf("%w: sequence number %q out of range", ErrInvalidArgument, s)
	}
	idx, _ := strconv.ParseUint(s[len(s)-6:], 10, 32)
	return Position{Seq: seq, Index: uint32(idx)}, nil
}

// StartKind says where reading a partition starts.
type StartKind int

// Start kinds, after Kinesis's shard iterator types.
const (
	TrimHorizon   StartKind = iota // the oldest record still stored
	Latest                         // just after the newest record
	AtPosition                     // at Start.Position
	AfterPosition                  // just after Start.Position
	AtTimestamp                    // the first record that arrived at or after Start.Time
)

var startKindNames = [...]string{"TRIM_HORIZON", "LATEST", "AT_SEQUENCE_NUMBER", "AFTER_SEQUENCE_NUMBER", "AT_TIMESTAMP"}

// String returns the Kinesis name of the kind.
func (k StartKind) String() string {
	if int(k) < len(startKindNames) {
		return startKindNames[k]
	}
	return "StartKind(" + strconv.Itoa(int(k)) + ")"
}

// ParseStartKind parses a Kinesis shard iterator type (case-insensitive).
func ParseStartKind(s string) (StartKind, error) {
	for i, n := range startKindNames {
		if strings.EqualFold(s, n) {
			return StartKind(i), nil
		}
	}
	return 0, fmt.Errorf("%w: start %q: want one of %s", ErrInvalidArgument, s, strings.Join(startKindNames[:], ", "))
}

// Start is where reading a partition begins.
type Start struct {
	Kind     StartKind
	Position Position  // for AtPosition and AfterPosition
	Time     time.Time // for AtTimestamp
}

// ParseStart parses the compact form used by the native API and the CLI:
// "trim_horizon", "latest", "at:SEQ", "after:SEQ" or "time:RFC3339".
func ParseStart(s string) (Start, error) {
	switch k, v, _ := strings.Cut(s, ":"); strings.ToLower(k) {
	case "trim_horizon", "":
		return Start{Kind: TrimHorizon}, nil
	case "latest":
		return Start{Kind: Latest}, nil
	case "at", "after":
		p, err := ParseSequenceNumber(v)
		if err != nil {
			return Start{}, err
		}
		if strings.EqualFold(k, "at") {
			return Start{Kind: AtPosition, Position: p}, nil
		}
		return Start{Kind: AfterPosition, Position: p}, nil
	case "time":
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return Start{}, fmt.Errorf("%w: start %q: %v", ErrInvalidArgument, s, err)
		}
		return Start{Kind: AtTimestamp, Time: t}, nil
	default:
		return Start{}, fmt.Errorf("%w: start %q: want trim_horizon, latest, at:SEQ, after:SEQ or time:RFC3339", ErrInvalidArgument, s)
	}
}
