package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/pricestream/pricestream/internal/jsonstr"
)

// row is one input record: its JSON encoding and its partition key.
type row struct {
	line int
	data []byte
	key  string
}

// rowReader reads JSON lines or CSV (with a header) and turns each record
// into a JSON object, taking the partition key from keyField.
type rowReader struct {
	format   string // "jsonl" or "csv"
	keyField string
	br       *bufio.Reader
	csv      *csv.Reader
	header   []string
	line     int
	keyCol   int
}

func newRowReader(r io.Reader, format, keyField string) (*rowReader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	if format == "" || format == "auto" {
		format = sniffFormat(br)
	}
	rr := &rowReader{format: format, keyField: keyField, br: br, keyCol: -1}
	switch format {
	case "jsonl", "json":
		rr.format = "jsonl"
	case "csv":
		rr.csv = csv.NewReader(br)
		rr.csv.ReuseRecord = true
		rr.csv.FieldsPerRecord = 0
		h, err := rr.csv.Read()
		if err != nil {
			return nil, fmt.Errorf("csv header: %w", err)
		}
		rr.header = append([]string(nil), h...)
		if len(rr.header) > 0 {
			rr.header[0] = strings.TrimPrefix(rr.header[0], "\ufeff")
		}
		rr.line = 1
		if keyField != "" {
			for i, h := range rr.header {
				if h == keyField {
					rr.keyCol = i
				}
			}
			if rr.keyCol < 0 {
				return nil, fmt.Errorf("--partition-key %q is not a column of the CSV header (%s)", keyField, strings.Join(rr.header, ","))
			}
		}
	default:
		return nil, fmt.Errorf("unknown format %q: want jsonl, csv or auto", format)
	}
	return rr, nil
}

// sniffFormat guesses JSON lines when the first non-space byte opens an
// object, CSV otherwise.
func sniffFormat(br *bufio.Reader) string {
	b, _ := br.Peek(4096)
	b = bytes.TrimLeft(b, " \t\r\n\ufeff")
	if len(b) > 0 && b[0] == '{' {
		return "jsonl"
	}
	return "csv"
}

// rowError is a bad input row: the reader can go on after it.
type rowError struct{ msg string }

func (e *rowError) Error() string { return e.msg }

func badRow(format string, args ...any) error { return &rowError{fmt.Sprintf(format, args...)} }

// next returns the next row, or io.EOF. A bad row is a *rowError naming its
// line, after which reading can go on; other errors end the input.
func (rr *rowReader) next() (*row, error) {
	if rr.format == "csv" {
		return rr.nextCSV()
	}
	for {
		b, err := rr.br.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			if errors.Is(err, io.EOF) {
				return nil, io.EOF
			}
			return nil, err
		}
		rr.line++
		b = bytes.TrimSpace(b)
		if len(b) == 0 {
			continue
		}
		var fields map[string]json.RawMessage
		if err := json.Unmarshal(b, &fields); err != nil {
			return nil, badRow("line %d: not a JSON object: %v", rr.line, err)
		}
		r := &row{line: rr.line, data: b, key: strconv.Itoa(rr.line)}
		if rr.keyField != "" {
			v, ok := fields[rr.keyField]
			if !ok || string(v) == "null" {
				return nil, badRow("line %d: no field %q for the partition key", rr.line, rr.keyField)
			}
			var s string
			if json.Unmarshal(v, &s) != nil {
				s = string(v)
			}
			r.key = s
		}
		return r, nil
	}
}

func (rr *rowReader) nextCSV() (*row, error) {
	rec, err := rr.csv.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return nil, badRow("%v", pe)
		}
		return nil, err
	}
	line, _ := rr.csv.FieldPos(0)
	if len(rec) != len(rr.header) {
		return nil, badRow("line %d: %d fields, the header has %d", line, len(rec), len(rr.header))
	}
	buf := make([]byte, 0, 256)
	buf = append(buf, '{')
	for i, v := range rec {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = jsonstr.AppendHTMLSafe(buf, rr.header[i])
		buf = append(buf, ':')
		buf = appendCSVValue(buf, v)
	}
	buf = append(buf, '}')
	r := &row{line: line, data: buf, key: strconv.Itoa(line)}
	if rr.keyCol >= 0 {
		if rec[rr.keyCol] == "" {
			return nil, badRow("line %d: empty partition key column %q", line, rr.keyField)
		}
		r.key = rec[rr.keyCol]
	}
	return r, nil
}

// appendCSVValue writes a CSV field as JSON: empty is null, a decimal
// number stays a number (its text, so large ids stay exact), anything else
// is a string.
func appendCSVValue(dst []byte, v string) []byte {
	if v == "" {
		return append(dst, "null"...)
	}
	if isJSONNumber(v) {
		return append(dst, v...)
	}
	return jsonstr.AppendHTMLSafe(dst, v)
}

// isJSONNumber reports whether s is a number as JSON writes it.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i == len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}
