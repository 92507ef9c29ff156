package record

import (
	"encoding/base64"
	"math"
	"strconv"
	"unicode/utf8"
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
			dst = appendJSONString(dst, f.Name)
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
		return appendJSONString(dst, v.str)
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

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted and escaped; invalid UTF-8 becomes U+FFFD.
func appendJSONString(dst []byte, s string) []byte {
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
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendJSONString appends s as a quoted JSON string; invalid UTF-8 becomes
// U+FFFD.
func AppendJSONString(dst []byte, s string) []byte { return appendJSONString(dst, s) }
