package record

import (
	"fmt"
	"strconv"
)

// Decoder decodes one encoded record, such as the payload of one stream
// record, into r, which it resets first. Implementations in this package
// ([JSONDecoder], [CSVDecoder]) and in its codec subpackages are safe for
// concurrent use by several goroutines, each with its own Record. The
// decoded record may keep references to data's bytes only through a copy it
// owns: the caller may reuse data after Decode returns.
type Decoder interface {
	Decode(data []byte, r *Record) error
}

// Encoder appends the encoding of r to dst and returns the extended buffer.
type Encoder interface {
	Append(dst []byte, r *Record) ([]byte, error)
}

// DecodeError is the error of input that a decoder cannot read. It says
// where: the byte offset in the input, the line for line-based formats, the
// record's index in a file or batch, and the field.
type DecodeError struct {
	Format string // "json", "csv", "avro", "parquet"
	Offset int64  // byte offset in the input, or -1 if unknown
	Line   int    // 1-based line, or 0 if not known or not line-based
	Index  int64  // 0-based index of the record in a file or batch, or -1
	Field  string // path of the field, if known
	Msg    string
	Err    error // underlying error, if any
}

// Error returns "record: FORMAT: record N, line L, offset O, field \"F\": message".
func (e *DecodeError) Error() string {
	b := []byte("record: ")
	b = append(b, e.Format...)
	b = append(b, ": "...)
	if e.Index >= 0 {
		b = append(b, "record "...)
		b = strconv.AppendInt(b, e.Index, 10)
		b = append(b, ", "...)
	}
	if e.Line > 0 {
		b = append(b, "line "...)
		b = strconv.AppendInt(b, int64(e.Line), 10)
		b = append(b, ", "...)
	}
	if e.Offset >= 0 {
		b = append(b, "offset "...)
		b = strconv.AppendInt(b, e.Offset, 10)
		b = append(b, ", "...)
	}
	if e.Field != "" {
		b = append(b, "field "...)
		b = strconv.AppendQuote(b, e.Field)
		b = append(b, ", "...)
	}
	b = b[:len(b)-2]
	b = append(b, ": "...)
	b = append(b, e.Msg...)
	if e.Err != nil {
		b = append(b, ": "...)
		b = append(b, e.Err.Error()...)
	}
	return string(b)
}

// Unwrap returns the underlying error.
func (e *DecodeError) Unwrap() error { return e.Err }

func quoteByte(c byte) string {
	if c >= 0x20 && c < 0x7f {
		return fmt.Sprintf("%q", rune(c))
	}
	return fmt.Sprintf("byte 0x%02x", c)
}

func sprintf(format string, args ...any) string { return fmt.Sprintf(format, args...) }
