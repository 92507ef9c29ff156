package api

import (
	"encoding/base64"
	"strconv"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

// appendRecordJSON appends a stored record as a native API JSON object.
// Data that is valid JSON is embedded as it is; other bytes go base64-encoded
// in data_base64.
func appendRecordJSON(dst []byte, r *stream.Record) []byte {
	dst = append(dst, `{"partition":`...)
	dst = strconv.AppendInt(dst, int64(r.Partition), 10)
	dst = append(dst, `,"sequence_number":"`...)
	dst = append(dst, r.Position.SequenceNumber(r.Partition)...)
	dst = append(dst, `","offset":`...)
	dst = strconv.AppendUint(dst, r.Offset, 10)
	dst = append(dst, `,"partition_key":`...)
	dst = jsonstr.Append(dst, r.PartitionKey)
	dst = append(dst, `,"arrival":"`...)
	dst = record.AppendTimeRFC3339Nano(dst, r.Arrival.UTC())
	if len(r.Data) > 0 && json.Valid(r.Data) {
		dst = append(dst, `","data":`...)
		dst = append(dst, r.Data...)
	} else {
		dst = append(dst, `","data_base64":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, r.Data)
		dst = append(dst, '"')
	}
	return append(dst, '}')
}
