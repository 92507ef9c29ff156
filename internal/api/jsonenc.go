package api

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/goccy/go-json"

	"github.com/pricestream/pricestream/internal/stream"
)

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD.
func AppendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

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
	dst = AppendJSONString(dst, r.PartitionKey)
	dst = append(dst, `,"arrival":"`...)
	dst = r.Arrival.UTC().AppendFormat(dst, time.RFC3339Nano)
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
