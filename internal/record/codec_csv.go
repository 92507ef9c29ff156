package record

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// CSVOptions configure CSV decoding and encoding. The zero value reads
// comma-separated text with a header line, double-quote quoting, and empty
// fields as null.
type CSVOptions struct {
	// Delimiter separates fields; 0 means ','. It may not be a quote, CR or LF.
	Delimiter byte
	// Quote encloses fields that hold delimiters, quotes or line breaks (a
	// quote inside is doubled); 0 means '"'.
	Quote byte
	// NoHeader says the first line is data. Column names then come from
	// Columns, else from Schema, else they are col0, col1, … as Glue names
	// them.
	NoHeader bool
	// Columns names the fields, overriding a header line (which is still
	// skipped unless NoHeader is set). A [CSVDecoder] needs Columns or Schema.
	Columns []string
	// NullMarkers are the field texts read as null, compared after TrimSpace.
	// nil means {""} (an empty field is null); an empty non-nil slice means
	// no text is null. A quoted field ("") is never null.
	NullMarkers []string
	// TrimSpace removes leading and trailing spaces and tabs of unquoted
	// fields.
	TrimSpace bool
	// Comment, if set, starts a line to skip.
	Comment byte
	// Schema, if set, types the fields it names with [Cast] from their text
	// (a timestamp column parses with its format). Other fields stay strings.
	// A text that does not cast is an error naming the line and the column.
	Schema *Schema
}

func (o *CSVOptions) normalize() error {
	if o.Delimiter == 0 {
		o.Delimiter = ','
	}
	if o.Quote == 0 {
		o.Quote = '"'
	}
	if o.NullMarkers == nil {
		o.NullMarkers = []string{""}
	}
	switch o.Delimiter {
	case o.Quote, '\r', '\n':
		return fmt.Errorf("record: csv: invalid delimiter %q", o.Delimiter)
	}
	return nil
}

// csvLayout is the per-column decoding plan.
type csvLayout struct {
	names []string
	types []*Type // nil where untyped
}

func (o *CSVOptions) layout(names []string) csvLayout {
	l := csvLayout{names: names, types: make([]*Type, len(names))}
	if o.Schema != nil {
		for i, n := range names {
			if c := o.Schema.Lookup(n); c != nil {
				l.types[i] = c.Type
			}
		}
	}
	return l
}

// CSVDecoder decodes one CSV line (a stream record's payload) into a record
// with known column names. It is safe for concurrent use.
type CSVDecoder struct {
	opts   CSVOptions
	layout csvLayout
}

// NewCSVDecoder returns a decoder of single CSV lines. The column names come
// from opts.Columns, else from opts.Schema.
func NewCSVDecoder(opts CSVOptions) (*CSVDecoder, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	names := opts.Columns
	if names == nil && opts.Schema != nil {
		names = opts.Schema.Names()
	}
	if len(names) == 0 {
		return nil, errors.New("record: csv: a decoder needs Columns or a Schema")
	}
	return &CSVDecoder{opts: opts, layout: opts.layout(names)}, nil
}

var _ Decoder = (*CSVDecoder)(nil)

// Decode decodes the CSV record in data (one line, or several when quoted
// fields hold line breaks; a final line break is allowed) into r.
func (d *CSVDecoder) Decode(data []byte, r *Record) error {
	r.Reset()
	s := strings.TrimRight(string(data), "\r\n")
	var fields []string
	var buf [32]string
	fields, err := splitCSV(s, &d.opts, buf[:0])
	if err != nil {
		return &DecodeError{Format: "csv", Offset: int64(err.off), Index: -1, Msg: err.msg}
	}
	return d.opts.fill(r, fields, &d.layout, 0, -1)
}

// fill sets r's fields from a split line.
func (o *CSVOptions) fill(r *Record, fields []string, l *csvLayout, line int, index int64) error {
	if len(fields) != len(l.names) {
		return &DecodeError{Format: "csv", Offset: -1, Line: line, Index: index,
			Msg: fmt.Sprintf("%d fields, expected %d", len(fields), len(l.names))}
	}
	if cap(r.fields) < len(fields) {
		r.fields = make([]Field, 0, len(fields))
	}
	for i, text := range fields {
		var v Value
		if text == quotedEmptyMark {
			if t := l.types[i]; t == nil || t.Kind == KindString {
				v = Value{kind: KindString}
			}
		} else if !o.isNull(text) {
			v = Value{kind: KindString, str: text}
			if t := l.types[i]; t != nil && t.Kind != KindString {
				var err error
				if v, err = castIn(v, t, r); err != nil {
					return &DecodeError{Format: "csv", Offset: -1, Line: line, Index: index, Field: l.names[i],
						Msg: "cannot cast to " + t.String(), Err: err}
				}
			}
		}
		r.Append(l.names[i], v)
	}
	return nil
}

func (o *CSVOptions) isNull(text string) bool {
	for _, m := range o.NullMarkers {
		if text == m {
			return true
		}
	}
	return false
}

// quotedEmptyMark is what a quoted empty field ("") splits to when an empty
// field is a null marker, so that it is read as an empty string (or null in
// a typed non-string column) rather than as null.
const quotedEmptyMark = "\x00\"\"\x00"

type csvError struct {
	off int
	msg string
}

// splitCSV splits one record's text into fields (substrings of s where no
// unquoting was needed).
func splitCSV(s string, o *CSVOptions, fields []string) ([]string, *csvError) {
	delim, quote := o.Delimiter, o.Quote
	i := 0
	for {
		if o.TrimSpace {
			j := i
			for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
				j++
			}
			if j < len(s) && s[j] == quote {
				i = j
			}
		}
		if i < len(s) && s[i] == quote {
			// quoted field
			j := i + 1
			var b []byte
			start := j
			for {
				k := strings.IndexByte(s[j:], quote)
				if k < 0 {
					return fields, &csvError{off: i, msg: "unterminated quoted field"}
				}
				j += k
				if j+1 < len(s) && s[j+1] == quote {
					b = append(b, s[start:j+1]...)
					j += 2
					start = j
					continue
				}
				break
			}
			var f string
			if b == nil {
				f = s[start:j]
			} else {
				b = append(b, s[start:j]...)
				f = string(b)
			}
			j++ // closing quote
			if o.TrimSpace {
				for j < len(s) && (s[j] == ' ' || s[j] == '\t') {
					j++
				}
			}
			if f == "" && o.isNull("") {
				f = quotedEmptyMark
			}
			fields = append(fields, f)
			if j == len(s) {
				return fields, nil
			}
			if s[j] != delim {
				return fields, &csvError{off: j, msg: fmt.Sprintf("%s after quoted field", quoteByte(s[j]))}
			}
			i = j + 1
			continue
		}
		// fields are short: one byte loop beats two IndexByte calls
		j := i
		for j < len(s) && s[j] != delim && s[j] != quote {
			j++
		}
		if j < len(s) && s[j] == quote {
			return fields, &csvError{off: j, msg: "bare quote in unquoted field"}
		}
		f := s[i:j]
		if o.TrimSpace {
			f = strings.Trim(f, " \t")
		}
		fields = append(fields, f)
		if j == len(s) {
			return fields, nil
		}
		i = j + 1
	}
}

// CSVReader reads CSV records from an [io.Reader]. It is not safe for
// concurrent use.
type CSVReader struct {
	opts   CSVOptions
	br     *bufio.Reader
	layout csvLayout
	line   int // lines read so far
	index  int64
	buf    []byte
	fields []string
	err    error
}

// NewCSVReader returns a reader of the CSV records in r. Unless opts.NoHeader
// is set it reads the header line now, and it returns an error if it cannot.
func NewCSVReader(r io.Reader, opts CSVOptions) (*CSVReader, error) {
	if err := opts.normalize(); err != nil {
		return nil, err
	}
	cr := &CSVReader{opts: opts, br: bufio.NewReaderSize(r, 64<<10)}
	names := opts.Columns
	if !opts.NoHeader {
		text, startLine, err := cr.next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, &DecodeError{Format: "csv", Offset: -1, Line: 1, Index: -1, Msg: "no header line"}
			}
			return nil, err
		}
		header, cerr := splitCSV(strings.TrimPrefix(text, "\ufeff"), &cr.opts, nil)
		if cerr != nil {
			return nil, &DecodeError{Format: "csv", Offset: int64(cerr.off), Line: startLine, Index: -1, Msg: "header: " + cerr.msg}
		}
		seen := make(map[string]bool, len(header))
		for i, h := range header {
			if h == quotedEmptyMark || h == "" {
				h = fmt.Sprintf("col%d", i)
				header[i] = h
			}
			if seen[h] {
				return nil, &DecodeError{Format: "csv", Offset: -1, Line: startLine, Index: -1, Msg: fmt.Sprintf("duplicate column %q in header", h)}
			}
			seen[h] = true
		}
		if names == nil {
			names = header
		}
	}
	if names == nil && opts.Schema != nil {
		names = opts.Schema.Names()
	}
	if names != nil {
		cr.layout = cr.opts.layout(names)
	}
	return cr, nil
}

// Columns returns the column names (nil before the first record when neither
// a header, Columns nor Schema gave them).
func (cr *CSVReader) Columns() []string { return cr.layout.names }

// Line returns the number of lines read so far.
func (cr *CSVReader) Line() int { return cr.line }

// next returns the text of the next record (joining lines inside quotes)
// and the line it starts on.
func (cr *CSVReader) next() (string, int, error) {
	cr.buf = cr.buf[:0]
	start := cr.line + 1
	for {
		chunk, err := cr.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			cr.buf = append(cr.buf, chunk...)
			continue
		}
		if len(chunk) > 0 || err == nil {
			cr.line++
		}
		cr.buf = append(cr.buf, chunk...)
		if err != nil && !errors.Is(err, io.EOF) {
			return "", start, err
		}
		eof := err != nil
		if !eof && !csvComplete(cr.buf, &cr.opts) {
			continue // a quoted field goes on on the next line
		}
		if len(cr.buf) == 0 && eof {
			return "", start, io.EOF
		}
		text := strings.TrimRight(string(cr.buf), "\r\n")
		if eof && len(text) == 0 {
			return "", start, io.EOF
		}
		if text == "" || (cr.opts.Comment != 0 && text[0] == cr.opts.Comment) {
			if eof {
				return "", start, io.EOF
			}
			cr.buf = cr.buf[:0]
			start = cr.line + 1
			continue
		}
		return text, start, nil
	}
}

// csvComplete reports whether b ends outside a quoted field: only a quote
// that starts a field opens one, so a stray quote inside an unquoted field
// does not swallow the following lines.
func csvComplete(b []byte, o *CSVOptions) bool {
	atStart, inQuote := true, false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inQuote {
			if c == o.Quote {
				if i+1 < len(b) && b[i+1] == o.Quote {
					i++
				} else {
					inQuote = false
				}
			}
			continue
		}
		switch {
		case c == o.Quote && atStart:
			inQuote = true
		case c == o.Delimiter || c == '\n':
			atStart = true
		case o.TrimSpace && (c == ' ' || c == '\t'):
		default:
			atStart = false
		}
	}
	return !inQuote
}

// Read decodes the next record into r, which it resets first. It returns
// [io.EOF] after the last record. A malformed line gives a [*DecodeError]
// with its line number; the next Read goes on with the following line.
func (cr *CSVReader) Read(r *Record) error {
	if cr.err != nil {
		return cr.err
	}
	r.Reset()
	text, line, err := cr.next()
	if err != nil {
		if !errors.Is(err, io.EOF) {
			cr.err = err
		}
		return err
	}
	idx := cr.index
	cr.index++
	var cerr *csvError
	cr.fields, cerr = splitCSV(text, &cr.opts, cr.fields[:0])
	if cerr != nil {
		return &DecodeError{Format: "csv", Offset: int64(cerr.off), Line: line, Index: idx, Msg: cerr.msg}
	}
	if cr.layout.names == nil {
		names := make([]string, len(cr.fields))
		for i := range names {
			names[i] = fmt.Sprintf("col%d", i)
		}
		cr.layout = cr.opts.layout(names)
	}
	return cr.opts.fill(r, cr.fields, &cr.layout, line, idx)
}
