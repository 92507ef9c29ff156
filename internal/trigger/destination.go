package trigger

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/pricestream/pricestream/internal/stream"
)

// Conditions under which records go to the destination, after Lambda's.
const (
	// ConditionRetriesExhausted: the function failed past the retry policy.
	ConditionRetriesExhausted = "RetryAttemptsExhausted"
	// ConditionRecordAgeExceeded: the record was older than max_record_age.
	ConditionRecordAgeExceeded = "RecordAgeExceeded"
)

// FailedRecord is what the on-failure destination receives for each record
// that failed: the record itself, as the function would have received it,
// and why it failed.
type FailedRecord struct {
	Trigger        string    `json:"trigger"`
	Condition      string    `json:"condition"`
	Error          string    `json:"error,omitempty"`
	Attempts       int       `json:"attempts"`
	Source         string    `json:"source"`
	Partition      int       `json:"partition"`
	SequenceNumber string    `json:"sequence_number"`
	Key            string    `json:"key"`
	Arrival        time.Time `json:"arrival"`
	FailedAt       time.Time `json:"failed_at"`
	// Record is the record in the shape of the source's Lambda event
	// (a Kinesis or DynamoDB Streams record).
	Record json.RawMessage `json:"record"`
}

// sink receives failed records. Send returns once they are stored.
type sink interface {
	Send(ctx context.Context, recs []FailedRecord) error
}

// streamSink appends failed records to a data stream, keyed by the
// records' keys so that the failures of one key stay in order.
type streamSink struct{ s *stream.Stream }

func (d *streamSink) Send(ctx context.Context, recs []FailedRecord) error {
	for len(recs) > 0 {
		n := min(len(recs), stream.MaxPutRecords)
		entries := make([]stream.Entry, 0, n)
		for i := range recs[:n] {
			b, err := json.Marshal(&recs[i])
			if err != nil {
				return err
			}
			if len(b) > d.s.MaxRecordSize() {
				// Too large for the destination: keep the facts, leave out
				// the payload, and say so.
				fr := recs[i]
				fr.Record = nil
				fr.Error += fmt.Sprintf(" (the record, %d bytes encoded, exceeds the destination's maximum record size; its payload is left out)", len(b))
				if b, err = json.Marshal(&fr); err != nil {
					return err
				}
			}
			key := recs[i].Key
			if key == "" || len(key) > stream.MaxPartitionKeyLen {
				key = recs[i].SequenceNumber
			}
			entries = append(entries, stream.Entry{PartitionKey: key, Data: b})
		}
		res, err := d.s.Append(ctx, entries)
		if err != nil {
			return fmt.Errorf("destination %s: %w", d.s.Name(), err)
		}
		for i := range res {
			if res[i].Err != nil {
				// The caller resends all: records stored already may be
				// stored twice (at-least-once).
				return fmt.Errorf("destination %s: %w", d.s.Name(), res[i].Err)
			}
		}
		recs = recs[n:]
	}
	return nil
}
