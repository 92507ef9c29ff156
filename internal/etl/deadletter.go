package etl

import (
	"context"
	"encoding/json"
	"time"

	"github.com/pricestream/pricestream/internal/stream"
)

// DeadLetter is a record a job could not process, as its dead-letter
// stream keeps it: the original bytes, why, where in the pipeline, and
// where in the source it was.
type DeadLetter struct {
	Job    string `json:"job"`
	Reason string `json:"reason"` // decode, cast, expression, assert reasons, event_time, late, ...
	Stage  string `json:"stage"`  // decode, transforms[2].filter, window, ...
	Error  string `json:"error"`
	// Source position: the stream or table, the partition, the record's
	// sequence number (a change's sequence for a table) and partition key.
	Source       string    `json:"source"`
	Partition    int       `json:"partition"`
	Position     string    `json:"position"`
	PartitionKey string    `json:"partition_key,omitempty"`
	Arrival      time.Time `json:"arrival"`
	// Data is the original record (for a table change, its new image as
	// JSON).
	Data []byte    `json:"data"`
	Time time.Time `json:"time"`
	// DLQPosition is the dead letter's own sequence number in the
	// dead-letter stream (set when listed).
	DLQPosition string `json:"dlq_position,omitempty"`
}

// deadLetterEntry encodes a dead letter for the dead-letter stream.
func deadLetterEntry(d *DeadLetter) stream.Entry {
	b, _ := json.Marshal(d)
	return stream.Entry{PartitionKey: d.Job, Data: b}
}

// DeadLetters lists up to limit dead letters of a job, oldest first, from
// its dead-letter stream (after the given dead-letter sequence number, if
// any).
func (m *Manager) DeadLetters(ctx context.Context, job string, limit int) ([]DeadLetter, error) {
	d, err := m.get(ctx, job)
	if err != nil {
		return nil, err
	}
	s, err := m.streams.Open(ctx, d.Spec.DeadLetter)
	if err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	var out []DeadLetter
	for part := range s.Partitions() {
		pos := stream.Position{}
		for len(out) < limit {
			res, err := s.Read(ctx, part, pos, stream.ReadOptions{MaxRecords: stream.MaxReadRecords})
			if err != nil {
				return nil, err
			}
			for _, r := range res.Records {
				var dl DeadLetter
				if json.Unmarshal(r.Data, &dl) != nil || dl.Job != job {
					continue
				}
				dl.DLQPosition = r.Position.SequenceNumber(part)
				out = append(out, dl)
				if len(out) == limit {
					break
				}
			}
			if len(res.Records) == 0 || res.Next == pos {
				break
			}
			pos = res.Next
		}
	}
	return out, nil
}
