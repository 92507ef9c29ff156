package stream

import (
	"fmt"
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

// A sequence number is the decimal number Seq·10¹⁰ + Index·10⁴ + partition:
// it increases within a partition and is unique across the partitions of a
// stream, as Kinesis's are. A batch holds fewer than maxBatchRecords < 10⁶
// records and a stream at most MaxPartitions < 10⁴ partitions.

// SequenceNumber returns the decimal sequence number of the record at p in
// partition part, as Kinesis writes it.
func (p Position) SequenceNumber(part int) string {
	b := make([]byte, 0, 32)
	if p.Seq > 0 {
		b = strconv.AppendUint(b, p.Seq, 10)
	}
	b = appendPadded(b, uint64(p.Index), 6)
	b = appendPadded(b, uint64(part), 4)
	i := 0
	for i < len(b)-1 && b[i] == '0' {
		i++
	}
	return string(b[i:])
}

func appendPadded(b []byte, v uint64, width int) []byte {
	var tmp [20]byte
	d := strconv.AppendUint(tmp[:0], v, 10)
	for range width - len(d) {
		b = append(b, '0')
	}
	return append(b, d...)
}

// Less reports whether p comes before o.
func (p Position) Less(o Position) bool {
	return p.Seq < o.Seq || (p.Seq == o.Seq && p.Index < o.Index)
}

// Next returns the position just after p.
func (p Position) Next() Position { return Position{Seq: p.Seq, Index: p.Index + 1} }

// ParseSequenceNumber parses a sequence number made by
// [Position.SequenceNumber], returning its partition and position.
func ParseSequenceNumber(s string) (int, Position, error) {
	bad := func() (int, Position, error) {
		return 0, Position{}, fmt.Errorf("%w: sequence number %q: not one this service issued", ErrInvalidArgument, s)
	}
	if s == "" || len(s) > 30 || strings.TrimLeft(s, "0123456789") != "" || (len(s) > 1 && s[0] == '0') {
		return bad()
	}
	if len(s) < 10 {
		s = strings.Repeat("0", 10-len(s)) + s
	}
	part, _ := strconv.Atoi(s[len(s)-4:])
	idx, _ := strconv.ParseUint(s[len(s)-10:len(s)-4], 10, 32)
	var seq uint64
	if rest := s[:len(s)-10]; rest != "" {
		var err error
		if seq, err = strconv.ParseUint(rest, 10, 64); err != nil {
			return bad()
		}
	}
	if idx >= maxBatchRecords || part >= MaxPartitions || (seq == 0 && idx != 0) {
		return bad()
	}
	return part, Position{Seq: seq, Index: uint32(idx)}, nil
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
	Kind StartKind
	// Partition and Position, for AtPosition and AfterPosition: the
	// partition the position belongs to must be the one read.
	Partition int
	Position  Position
	Time      time.Time // for AtTimestamp
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
		part, p, err := ParseSequenceNumber(v)
		if err != nil {
			return Start{}, err
		}
		if strings.EqualFold(k, "at") {
			return Start{Kind: AtPosition, Partition: part, Position: p}, nil
		}
		return Start{Kind: AfterPosition, Partition: part, Position: p}, nil
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
