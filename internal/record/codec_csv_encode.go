package record

import (
	"bufio"
	"io"
	"strings"
)

// CSVWriter writes records as CSV lines with a fixed list of columns. A
// field is quoted when it holds the delimiter, a quote, a line break, or
// leading or trailing space, or when it is an empty string while an empty
// field means null. Null is written as the first null marker (empty by
// default); other values as [Value.Text]. Missing fields are null. It is
// not safe for concurrent use.
type CSVWriter struct {
	opts   CSVOptions
	w      *bufio.Writer
	names  []string
	header bool
	line   []byte
}

// NewCSVWriter returns a writer of the columns names to w. Unless
// opts.NoHeader is set, the header line is written before the first record.
// Call Flush at the end.
func NewCSVWriter(w io.Writer, names []string, opts CSVOptions) (*CSVWriter, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	return &CSVWriter{opts: opts, w: bufio.NewWriter(w), names: names, header: !opts.NoHeader}, nil
}

// Write writes one record.
func (cw *CSVWriter) Write(r *Record) error {
	if cw.header {
		cw.header = false
		cw.line = cw.line[:0]
		for i, n := range cw.names {
			if i > 0 {
				cw.line = append(cw.line, cw.opts.Delimiter)
			}
			cw.line = cw.appendField(cw.line, n, false)
		}
		cw.line = append(cw.line, '\n')
		if _, err := cw.w.Write(cw.line); err != nil {
			return err
		}
	}
	cw.line = cw.AppendRecord(cw.line[:0], r)
	cw.line = append(cw.line, '\n')
	_, err := cw.w.Write(cw.line)
	return err
}

// AppendRecord appends r as one CSV line (without a line break) to dst.
func (cw *CSVWriter) AppendRecord(dst []byte, r *Record) []byte {
	for i, n := range cw.names {
		if i > 0 {
			dst = append(dst, cw.opts.Delimiter)
		}
		v, _ := r.Get(n)
		if v.IsNull() {
			dst = append(dst, cw.opts.NullMarkers[0]...)
			continue
		}
		dst = cw.appendField(dst, v.Text(), cw.opts.isNull(v.Text()))
	}
	return dst
}

func (cw *CSVWriter) appendField(dst []byte, s string, mustQuote bool) []byte {
	q := cw.opts.Quote
	if !mustQuote {
		mustQuote = strings.IndexByte(s, cw.opts.Delimiter) >= 0 || strings.IndexByte(s, q) >= 0 ||
			strings.ContainsAny(s, "\r\n") || (s != "" && (s[0] == ' ' || s[0] == '\t' || s[len(s)-1] == ' ' || s[len(s)-1] == '\t')) ||
			(cw.opts.Comment != 0 && s != "" && s[0] == cw.opts.Comment)
	}
	if !mustQuote {
		return append(dst, s...)
	}
	dst = append(dst, q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			dst = append(dst, q)
		}
		dst = append(dst, s[i])
	}
	return append(dst, q)
}

// Flush writes any buffered data to the underlying writer.
func (cw *CSVWriter) Flush() error { return cw.w.Flush() }
