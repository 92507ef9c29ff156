package record

import (
	"encoding/base64"
	"math"
	"strconv"

	"github.com/pricestream/pricestream/internal/jsonstr"
)

// JSONEncodeOptions configure JSON encoding. The zero value writes
// timestamps as RFC 3339 strings and dates as yyyy-MM-dd strings.
type JSONEncodeOptions struct {
	// TimeFormat, if set, is the format of timestamps: a numeric format
	// (unix_millis…) writes numbers, any other writes strings.
	TimeFormat TimeFormat
}

// JSONEncoder writes records as JSON objects (one per call, no newline).
// Numbers are written exactly: longs in full, doubles in their source text if
// they kept one (else the shortest text that reads back to the same
// float64; NaN and infinities as null), decimals as number text. Binary is
// base64. Map entries are object members. A JSONEncoder is safe for
// concurrent use.
type JSONEncoder struct {
	opts JSONEncodeOptions
}

// NewJSONEncoder returns an encoder with the given options.
func NewJSONEncoder(opts JSONEncodeOptions) *JSONEncoder { return &JSONEncoder{opts: opts} }

var _ Encoder = (*JSONEncoder)(nil)

// Append appends the JSON object of r to dst.
func (e *JSONEncoder) Append(dst []byte, r *Record) ([]byte, error) {
	return AppendJSON(dst, r, &e.opts), nil
}

// AppendJSON appends r as a JSON object to dst; opts may be nil.
func AppendJSON(dst []byte, r *Record, opts *JSONEncodeOptions) []byte {
	if opts == nil {
		opts = &JSONEncodeOptions{}
	}
	return appendJSONObject(dst, r, opts)
}

func appendJSONObject(dst []byte, r *Record, opts *JSONEncodeOptions) []byte {
	dst = append(dst, '{')
	if r != nil {
		for i, f := range r.fields {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, f.Name)
			dst = append(dst, ':')
			dst = appendJSONValue(dst, f.Value, opts)
		}
	}
	return append(dst, '}')
}

func appendJSONValue(dst []byte, v Value, opts *JSONEncodeOptions) []byte {
	switch v.kind {
	case KindNull:
		return append(dst, "null"...)
	case KindBool:
		return strconv.AppendBool(dst, v.num != 0)
	case KindInt, KindLong:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case KindDouble:
		f := math.Float64frombits(v.num)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return append(dst, "null"...)
		}
		if v.str != "" {
			return append(dst, v.str...)
		}
		return strconv.AppendFloat(dst, f, 'g', -1, 64)
	case KindDecimal:
		return v.appendDecimal(dst)
	case KindString:
		return jsonstr.Append(dst, v.str)
	case KindBinary:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(v.str))
		return append(dst, '"')
	case KindTimestamp:
		if opts.TimeFormat.IsNumeric() {
			return opts.TimeFormat.Format(dst, int64(v.num))
		}
		dst = append(dst, '"')
		dst = opts.TimeFormat.Format(dst, int64(v.num))
		return append(dst, '"')
	case KindDate:
		dst = append(dst, '"')
		dst = v.appendText(dst)
		return append(dst, '"')
	case KindStruct, KindMap:
		return appendJSONObject(dst, v.ref, opts)
	case KindArray:
		dst = append(dst, '[')
		for i, e := range v.Array() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendJSONValue(dst, e, opts)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}
