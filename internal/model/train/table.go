package train

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Table is the named columns of one or more data files, read with
// [Table.Read]: CSV with a header line, or JSON lines (one object a line).
// A column holds a number per row, NaN where the value is missing; a
// column that holds any other value somewhere is text, and remembers
// where it first saw one. A file without some column has it missing.
//
// A value is a number if it is a JSON number or a string (CSV field or
// JSON string) that parses as a finite number; it is missing if it is
// absent, JSON null, or a string that is empty (after trimming spaces) or
// null, NaN, NA or N/A in any case. Anything else (words, true and false,
// JSON objects and arrays, infinities) is text.
//
// The zero Table is empty and ready to use. A Table is not safe for
// concurrent use.
type Table struct {
	cols  []*column
	index map[string]int
	rows  int
}

type column struct {
	name    string
	values  []float64
	numbers int   // values that are numbers
	text    *cell // the first value that is text, if any
}

// cell locates a value in a file, for messages.
type cell struct {
	file  string
	line  int
	value string
}

func (c *cell) String() string {
	v := c.value
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("%s: line %d: %q", c.file, c.line, v)
}

// Rows returns the number of rows read.
func (t *Table) Rows() int { return t.rows }

// Columns returns the column names, in the order they first appeared.
func (t *Table) Columns() []string {
	out := make([]string, len(t.cols))
	for i, c := range t.cols {
		out[i] = c.name
	}
	return out
}

func (t *Table) column(name string) *column {
	if i, ok := t.index[name]; ok {
		return t.cols[i]
	}
	if t.index == nil {
		t.index = map[string]int{}
	}
	c := &column{name: name, values: make([]float64, t.rows, t.rows+1)}
	for i := range c.values {
		c.values[i] = math.NaN()
	}
	t.index[name] = len(t.cols)
	t.cols = append(t.cols, c)
	return c
}

// newRow appends a row of missing values.
func (t *Table) newRow() {
	t.rows++
	for _, c := range t.cols {
		c.values = append(c.values, math.NaN())
	}
}

// set sets the value of column c in the last row from a string.
func (t *Table) set(c *column, s string, at func() cell) {
	v, ok := parseValue(s)
	if !ok {
		t.markText(c, at)
		return
	}
	if !math.IsNaN(v) {
		c.numbers++
	}
	c.values[t.rows-1] = v
}

// markText records that column c holds text, if it is the first.
func (t *Table) markText(c *column, at func() cell) {
	if c.text == nil {
		p := at()
		c.text = &p
	}
}

// parseValue reads a CSV field or JSON string: NaN for a missing value,
// false for text.
func parseValue(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(s) {
	case "", "null", "nan", "na", "n/a":
		return math.NaN(), true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, false
	}
	return v, true
}

// Read appends the rows of the file called name, read from r. The format
// is CSV if name ends in .csv, JSON lines if it ends in .json, .jsonl or
// .ndjson, else JSON lines if the first non-blank byte is '{' and CSV
// otherwise. An error names the file and line; the rows of a file that
// fails are not kept.
func (t *Table) Read(name string, r io.Reader) error {
	br := bufio.NewReaderSize(r, 64<<10)
	jsonl := false
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
	case ".json", ".jsonl", ".ndjson":
		jsonl = true
	default:
		for {
			b, err := br.ReadByte()
			if err != nil {
				break
			}
			if b == ' ' || b == '\t' || b == '\r' || b == '\n' {
				continue
			}
			jsonl = b == '{'
			_ = br.UnreadByte()
			break
		}
	}
	rows, ncols := t.rows, len(t.cols)
	texts := make([]*cell, ncols)
	for i, c := range t.cols {
		texts[i] = c.text
	}
	var err error
	if jsonl {
		err = t.readJSONLines(name, br)
	} else {
		err = t.readCSV(name, br)
	}
	if err != nil {
		t.truncate(rows, ncols)
		for i, c := range t.cols {
			c.text = texts[i]
		}
	}
	return err
}

// truncate drops the rows and columns added since the table had rows rows
// and ncols columns.
func (t *Table) truncate(rows, ncols int) {
	for _, c := range t.cols[ncols:] {
		delete(t.index, c.name)
	}
	t.cols = t.cols[:ncols]
	for _, c := range t.cols {
		for _, v := range c.values[rows:] {
			if !math.IsNaN(v) {
				c.numbers--
			}
		}
		c.values = c.values[:rows]
	}
	t.rows = rows
}

func (t *Table) readCSV(name string, r io.Reader) error {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err == io.EOF {
		return fmt.Errorf("%s: empty file (a CSV file needs a header line)", name)
	}
	if err != nil {
		return csvError(name, err)
	}
	cols := make([]*column, len(header))
	seen := make(map[string]bool, len(header))
	for i, h := range header {
		if i == 0 {
			h = strings.TrimPrefix(h, "\ufeff")
		}
		h = strings.TrimSpace(h)
		if h == "" {
			return fmt.Errorf("%s: line 1: column %d has no name", name, i+1)
		}
		if seen[h] {
			return fmt.Errorf("%s: line 1: column %q appears twice", name, h)
		}
		seen[h] = true
		cols[i] = t.column(h)
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return csvError(name, err)
		}
		line, _ := cr.FieldPos(0)
		t.newRow()
		for i, s := range rec {
			t.set(cols[i], s, func() cell { return cell{file: name, line: line, value: s} })
		}
	}
}

func csvError(name string, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return fmt.Errorf("%s: line %d: %w", name, pe.Line, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

func (t *Table) readJSONLines(name string, br *bufio.Reader) error {
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if len(bytes.TrimSpace(b)) > 0 {
			if err := t.readObject(name, line, b); err != nil {
				return err
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: line %d: %w", name, line, err)
		}
	}
}

// readObject appends the row of one JSON lines line.
func (t *Table) readObject(name string, line int, b []byte) error {
	bad := func(f string, args ...any) error {
		return fmt.Errorf("%s: line %d: %s", name, line, fmt.Sprintf(f, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	tok, err := dec.Token()
	if err != nil {
		return bad("%v", jsonErr(err))
	}
	if tok != json.Delim('{') {
		return bad("not a JSON object")
	}
	t.newRow()
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return bad("%v", jsonErr(err))
		}
		key := tok.(string) // encoding/json gives object keys as strings
		if seen[key] {
			return bad("key %q appears twice", key)
		}
		seen[key] = true
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return bad("%v", jsonErr(err))
		}
		c := t.column(key)
		at := func() cell { return cell{file: name, line: line, value: string(raw)} }
		switch raw[0] {
		case '"':
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return bad("%v", jsonErr(err))
			}
			t.set(c, s, func() cell { return cell{file: name, line: line, value: s} })
		case 'n':
		case 't', 'f', '{', '[':
			t.markText(c, at)
		default:
			t.set(c, string(raw), at)
		}
	}
	if _, err := dec.Token(); err != nil {
		return bad("%v", jsonErr(err))
	}
	if _, err := dec.Token(); err != io.EOF {
		return bad("more than one JSON value on the line")
	}
	return nil
}

// jsonErr drops encoding/json's byte offsets, which count within the line
// and would mislead next to a line number.
func jsonErr(err error) error {
	if err == io.EOF || err == io.ErrUnexpectedEOF {
		return errors.New("unexpected end of the JSON object")
	}
	return err
}

// Ignored is a column that [Table.DefaultFeatures] leaves out, and why.
type Ignored struct {
	Column string `json:"column"`
	Reason string `json:"reason"`
}

// DefaultFeatures returns the columns that serve as features when none
// are named, in the order they first appeared, and those it leaves out
// with the reason: the label; every column whose name says it is an id or
// a time ([IDOrTime]); every column that holds text; every column with no
// value at all.
func (t *Table) DefaultFeatures(label string) (features []string, ignored []Ignored) {
	for _, c := range t.cols {
		var why string
		switch {
		case c.name == label:
			continue
		case c.name == "":
			why = "no name"
		case IDOrTime(c.name):
			why = "named like an id or a time"
		case c.text != nil:
			why = "not numeric: " + c.text.String()
		case c.numbers == 0:
			why = "no values"
		default:
			features = append(features, c.name)
			continue
		}
		ignored = append(ignored, Ignored{Column: c.name, Reason: why})
	}
	return features, ignored
}

// IDOrTime reports whether a column name says it is an identifier or a
// time, which no demand model should learn from: in lower case, "id",
// "key", "seq", "time", "timestamp", "ts", "date" or "datetime", or a name
// ending in "_id", "_key", "_seq", "_time", "_timestamp", "_ts", "_date" or
// "_at", or one starting with "window_" (window bounds).
func IDOrTime(name string) bool {
	n := strings.ToLower(name)
	switch n {
	case "id", "key", "seq", "time", "timestamp", "ts", "date", "datetime":
		return true
	}
	for _, s := range []string{"_id", "_key", "_seq", "_time", "_timestamp", "_ts", "_date", "_at"} {
		if strings.HasSuffix(n, s) {
			return true
		}
	}
	return strings.HasPrefix(n, "window_")
}

// Data returns the rows as training data: label's column as the labels
// and the named features (nil: [Table.DefaultFeatures]) in the order
// given. Rows whose label is missing are left out, and counted in
// skipped. Naming a column that does not exist or holds text is an error
// that shows where the text is.
func (t *Table) Data(label string, features []string) (d Data, skipped int, err error) {
	lc, ok := t.index[label]
	if !ok {
		return Data{}, 0, fmt.Errorf("train: label: no column %q (columns: %s)", label, strings.Join(t.Columns(), ", "))
	}
	if c := t.cols[lc]; c.text != nil {
		return Data{}, 0, fmt.Errorf("train: label %q is not numeric: %s", label, c.text)
	}
	if features == nil {
		features, _ = t.DefaultFeatures(label)
		if len(features) == 0 {
			return Data{}, 0, fmt.Errorf("train: no numeric column to serve as a feature besides the label %q", label)
		}
	}
	cols := make([]*column, len(features))
	for i, f := range features {
		j, ok := t.index[f]
		switch {
		case !ok:
			return Data{}, 0, fmt.Errorf("train: feature: no column %q (columns: %s)", f, strings.Join(t.Columns(), ", "))
		case f == label:
			return Data{}, 0, fmt.Errorf("train: feature %q is the label", f)
		case slices.Index(features, f) != i:
			return Data{}, 0, fmt.Errorf("train: feature %q named twice", f)
		case t.cols[j].text != nil:
			return Data{}, 0, fmt.Errorf("train: feature %q is not numeric: %s", f, t.cols[j].text)
		}
		cols[i] = t.cols[j]
	}
	d.Features = slices.Clone(features)
	labels := t.cols[lc].values
	flat := make([]float64, 0, t.rows*len(cols))
	for r := range t.rows {
		if math.IsNaN(labels[r]) {
			skipped++
			continue
		}
		start := len(flat)
		for _, c := range cols {
			flat = append(flat, c.values[r])
		}
		d.Rows = append(d.Rows, flat[start:len(flat):len(flat)])
		d.Labels = append(d.Labels, labels[r])
	}
	return d, skipped, nil
}
