package catalog

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/grok"
)

// Database groups tables, as a Glue database does.
type Database struct {
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	// Created and Updated are set by the catalog.
	Created time.Time `json:"created,omitzero"`
	Updated time.Time `json:"updated,omitzero"`
}

// Validate reports every problem of the database definition.
func (d *Database) Validate() error {
	var ps problems
	if err := ValidateName(d.Name); err != nil {
		ps.add("name", "%v", err)
	}
	if len(d.Description) > MaxDescriptionLen {
		ps.add("description", "at most %d bytes", MaxDescriptionLen)
	}
	checkParameters(&ps, d.Parameters)
	return ps.err()
}

func checkParameters(ps *problems, params map[string]string) {
	if len(params) > MaxParameters {
		ps.add("parameters", "at most %d parameters", MaxParameters)
	}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		if k == "" || len(k) > 255 {
			ps.add("parameters", "keys must be 1-255 bytes, got %q", k)
		}
		if len(params[k]) > MaxParameterLen {
			ps.add("parameters."+k, "at most %d bytes", MaxParameterLen)
		}
	}
}

// Location says where a table's data lives: a pricestream stream, a
// pricestream table, or a path of files (a file, a directory or a glob).
// Exactly one is set.
type Location struct {
	Stream string `json:"stream,omitempty"`
	Table  string `json:"table,omitempty"`
	Path   string `json:"path,omitempty"`
}

// ParseLocation reads "stream:NAME", "table:NAME", "path:PATH", a
// file:// URL, or a bare path.
func ParseLocation(s string) (Location, error) {
	kind, rest, ok := strings.Cut(s, ":")
	switch {
	case s == "":
		return Location{}, errors.New("empty location")
	case ok && kind == "stream":
		return Location{Stream: rest}, nil
	case ok && kind == "table":
		return Location{Table: rest}, nil
	case ok && kind == "path":
		return Location{Path: rest}, nil
	case strings.HasPrefix(s, "file://"):
		return Location{Path: strings.TrimPrefix(s, "file://")}, nil
	case ok && !strings.ContainsAny(kind, `/\.`) && len(kind) > 1:
		return Location{}, errors.New("location " + s + ": want stream:NAME, table:NAME, path:PATH or a path")
	}
	return Location{Path: s}, nil
}

// String returns the location in the form ParseLocation reads.
func (l Location) String() string {
	switch {
	case l.Stream != "":
		return "stream:" + l.Stream
	case l.Table != "":
		return "table:" + l.Table
	case l.Path != "":
		return "path:" + l.Path
	}
	return ""
}

// IsZero reports whether no location is set.
func (l Location) IsZero() bool { return l == Location{} }

func (l Location) check(ps *problems) {
	n := 0
	for _, s := range []string{l.Stream, l.Table, l.Path} {
		if s != "" {
			n++
		}
	}
	switch {
	case n == 0:
		ps.add("location", "set one of stream, table or path")
	case n > 1:
		ps.add("location", "set only one of stream, table or path")
	case l.Stream != "":
		if err := validateStreamName(l.Stream); err != nil {
			ps.add("location.stream", "%v", err)
		}
	case l.Table != "":
		if !streamNameRE.MatchString(l.Table) {
			ps.add("location.table", "table name %q: want 1-128 characters of a-z, A-Z, 0-9, '_', '.', '-'", l.Table)
		}
	}
}

// FormatType is a data format of the catalog.
type FormatType string

// The formats. JSON covers one object, an array of objects and JSON lines;
// Grok is log lines parsed with a Grok pattern.
const (
	FormatJSON    FormatType = "json"
	FormatCSV     FormatType = "csv"
	FormatAvro    FormatType = "avro"
	FormatParquet FormatType = "parquet"
	FormatGrok    FormatType = "grok"
)

// Formats lists the formats.
var Formats = []FormatType{FormatJSON, FormatCSV, FormatAvro, FormatParquet, FormatGrok}

// Format is a table's data format and its options.
type Format struct {
	// Type is json, csv, avro or parquet. Default json.
	Type FormatType `json:"type"`
	// Delimiter of CSV fields: one character. Default ",".
	Delimiter string `json:"delimiter,omitempty"`
	// Quote of CSV fields: one character. Default `"`.
	Quote string `json:"quote,omitempty"`
	// Header says whether the first CSV line names the columns. Default true
	// for files; records of a stream never have one.
	Header *bool `json:"header,omitempty"`
	// NullMarkers are CSV texts read as null. Default [""] (an empty
	// field); an empty list means none.
	NullMarkers []string `json:"null_markers,omitempty"`
	// AvroSchema is the Avro writer schema (JSON text) that records of the
	// table are encoded with; required for avro on a stream.
	AvroSchema string `json:"avro_schema,omitempty"`
	// GrokPattern is the Grok expression of one log line (grok only), such
	// as "%{COMMONAPACHELOG}"; each %{SYNTAX:field} is a field.
	GrokPattern string `json:"grok_pattern,omitempty"`
	// GrokCustomPatterns add or override named patterns (NAME →
	// expression) for GrokPattern.
	GrokCustomPatterns map[string]string `json:"grok_custom_patterns,omitempty"`
}

// HasHeader reports whether CSV data starts with a header line.
func (f *Format) HasHeader() bool { return f.Header == nil || *f.Header }

// CSVOptions returns the record package's options for the CSV format.
func (f *Format) CSVOptions() record.CSVOptions {
	o := record.CSVOptions{NoHeader: !f.HasHeader(), NullMarkers: f.NullMarkers}
	if f.Delimiter != "" {
		o.Delimiter = f.Delimiter[0]
	}
	if f.Quote != "" {
		o.Quote = f.Quote[0]
	}
	return o
}

func (f *Format) check(ps *problems, loc Location) {
	switch f.Type {
	case FormatJSON:
	case FormatCSV:
		if len(f.Delimiter) > 1 {
			ps.add("format.delimiter", "want one character, got %q", f.Delimiter)
		}
		if len(f.Quote) > 1 {
			ps.add("format.quote", "want one character, got %q", f.Quote)
		}
		if f.Delimiter != "" && (f.Delimiter == f.Quote || (f.Quote == "" && f.Delimiter == `"`) || f.Delimiter == "\n" || f.Delimiter == "\r") {
			ps.add("format.delimiter", "%q cannot be a delimiter", f.Delimiter)
		}
	case FormatAvro:
		if f.AvroSchema == "" {
			if loc.Path == "" {
				ps.add("format.avro_schema", "required: records of a stream carry no schema")
			}
		} else if _, err := avro.New(f.AvroSchema); err != nil {
			ps.add("format.avro_schema", "%v", err)
		}
	case FormatParquet:
		if loc.Path == "" && !loc.IsZero() {
			ps.add("format.type", "parquet is a file format: the location must be a path")
		}
	case FormatGrok:
		if f.GrokPattern == "" {
			ps.add("format.grok_pattern", "required by the grok format")
		} else if _, err := grok.New(grok.Options{Pattern: f.GrokPattern, CustomPatterns: f.GrokCustomPatterns}); err != nil {
			ps.add("format.grok_pattern", "%s", strings.TrimPrefix(err.Error(), "grok: "))
		}
	case "":
		ps.add("format.type", "missing: want one of json, csv, avro, parquet, grok")
	default:
		ps.add("format.type", "unknown format %q: want one of json, csv, avro, parquet, grok", string(f.Type))
	}
	if f.Type != FormatCSV && (f.Delimiter != "" || f.Quote != "" || f.Header != nil || f.NullMarkers != nil) {
		ps.add("format", "delimiter, quote, header and null_markers apply to csv only")
	}
	if f.Type != FormatAvro && f.AvroSchema != "" {
		ps.add("format.avro_schema", "applies to avro only")
	}
	if f.Type != FormatGrok && (f.GrokPattern != "" || f.GrokCustomPatterns != nil) {
		ps.add("format.grok_pattern", "grok_pattern and grok_custom_patterns apply to grok only")
	}
}

// EventTime names the field that holds a record's event time and its
// format.
type EventTime struct {
	// Field is a column, or a dotted path into struct columns.
	Field string `json:"field"`
	// Format is a time format ([record.ParseTimeFormat]); empty means the
	// column's own format (a timestamp column's) or flexible ISO 8601. A
	// number column needs unix_seconds, unix_millis, unix_micros or
	// unix_nanos.
	Format string `json:"format,omitempty"`
}

// Compatibility is a table's schema compatibility mode, as a schema
// registry's (Confluent's and Glue's); see [CheckCompatibility].
type Compatibility string

// The modes. "Readers" decode data written with another version's schema.
const (
	// CompatNone checks nothing.
	CompatNone Compatibility = "NONE"
	// CompatDisabled refuses every schema change (other fields may change).
	CompatDisabled Compatibility = "DISABLED"
	// CompatBackward: a reader of the new schema reads data written with
	// the previous one. The default.
	CompatBackward Compatibility = "BACKWARD"
	// CompatBackwardAll: ... with every earlier one.
	CompatBackwardAll Compatibility = "BACKWARD_ALL"
	// CompatForward: a reader of the previous schema reads data written
	// with the new one.
	CompatForward Compatibility = "FORWARD"
	// CompatForwardAll: readers of every earlier schema read data written
	// with the new one.
	CompatForwardAll Compatibility = "FORWARD_ALL"
	// CompatFull: backward and forward with the previous schema.
	CompatFull Compatibility = "FULL"
	// CompatFullAll: backward and forward with every earlier schema.
	CompatFullAll Compatibility = "FULL_ALL"
)

// Compatibilities lists the modes.
var Compatibilities = []Compatibility{CompatNone, CompatDisabled, CompatBackward, CompatBackwardAll, CompatForward, CompatForwardAll, CompatFull, CompatFullAll}

// ParseCompatibility reads a mode, case-insensitively; "" is BACKWARD, and
// Confluent's *_TRANSITIVE spellings are taken for *_ALL.
func ParseCompatibility(s string) (Compatibility, error) {
	if s == "" {
		return CompatBackward, nil
	}
	u := Compatibility(strings.ReplaceAll(strings.ToUpper(s), "_TRANSITIVE", "_ALL"))
	if slices.Contains(Compatibilities, u) {
		return u, nil
	}
	return "", errors.New("unknown compatibility mode " + strconvQuote(s) + ": want NONE, DISABLED, BACKWARD, BACKWARD_ALL, FORWARD, FORWARD_ALL, FULL or FULL_ALL")
}

// Table is a table definition: where data lives, how it is encoded, and
// its schema, with free parameters. A Table read from the catalog is one
// version of the definition; the catalog never changes it, so it is safe
// to share (copy it with [Table.Clone] to change it).
type Table struct {
	Database    string
	Name        string
	Description string
	Location    Location
	Format      Format
	// Schema is the table's columns.
	Schema *record.Schema
	// PartitionKeys are the columns whose values partition the data (the
	// field a stream's partition key is taken from, or the partition
	// columns of files).
	PartitionKeys []string
	// EventTime is the field holding each record's event time, or nil.
	EventTime *EventTime
	// Compatibility is the schema compatibility mode; default BACKWARD.
	Compatibility Compatibility
	// Parameters are free key/value properties (Glue's table parameters).
	Parameters map[string]string
	// Deprecated lists columns a crawler no longer saw and marked
	// deprecated (DEPRECATE_IN_DATABASE) instead of deleting them. They stay
	// in the schema, nullable.
	Deprecated []string

	// Version counts the table's versions from 1; Created is when version
	// 1 was made and Updated when this one was. The catalog sets them.
	Version int
	Created time.Time
	Updated time.Time
}

// Clone returns a copy of t that can be changed without touching t (the
// Schema, which is immutable, is shared).
func (t *Table) Clone() *Table {
	c := *t
	c.PartitionKeys = slices.Clone(t.PartitionKeys)
	if t.EventTime != nil {
		et := *t.EventTime
		c.EventTime = &et
	}
	c.Parameters = maps.Clone(t.Parameters)
	c.Deprecated = slices.Clone(t.Deprecated)
	c.Format.NullMarkers = slices.Clone(t.Format.NullMarkers)
	c.Format.GrokCustomPatterns = maps.Clone(t.Format.GrokCustomPatterns)
	if t.Format.Header != nil {
		h := *t.Format.Header
		c.Format.Header = &h
	}
	return &c
}

// FullName returns "database.table".
func (t *Table) FullName() string { return t.Database + "." + t.Name }

// IsDeprecated reports whether the column called name is deprecated.
func (t *Table) IsDeprecated(name string) bool { return slices.Contains(t.Deprecated, name) }

// columnJSON is a column as written in definitions: its type as text.
type columnJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable *bool  `json:"nullable,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// tableJSON is the JSON (and YAML) form of a table definition.
type tableJSON struct {
	Kind              string            `json:"kind,omitempty"`
	Database          string            `json:"database"`
	Name              string            `json:"name"`
	Description       string            `json:"description,omitempty"`
	Version           int               `json:"version,omitempty"`
	Created           *time.Time        `json:"created,omitempty"`
	Updated           *time.Time        `json:"updated,omitempty"`
	Location          Location          `json:"location"`
	Format            Format            `json:"format"`
	Columns           []columnJSON      `json:"columns"`
	PartitionKeys     []string          `json:"partition_keys,omitempty"`
	EventTime         *EventTime        `json:"event_time,omitempty"`
	Compatibility     string            `json:"compatibility,omitempty"`
	Parameters        map[string]string `json:"parameters,omitempty"`
	DeprecatedColumns []string          `json:"deprecated_columns,omitempty"`
}

// MarshalJSON writes the definition with its columns as
// [{"name","type","nullable"}] (types in the syntax of [record.ParseType]).
func (t Table) MarshalJSON() ([]byte, error) {
	j := tableJSON{
		Database: t.Database, Name: t.Name, Description: t.Description, Version: t.Version,
		Location: t.Location, Format: t.Format, PartitionKeys: t.PartitionKeys, EventTime: t.EventTime,
		Compatibility: string(t.Compatibility), Parameters: t.Parameters, DeprecatedColumns: t.Deprecated,
		Columns: []columnJSON{},
	}
	if !t.Created.IsZero() {
		j.Created = &t.Created
	}
	if !t.Updated.IsZero() {
		j.Updated = &t.Updated
	}
	if t.Schema != nil {
		for _, c := range t.Schema.Columns() {
			nullable := c.Nullable
			j.Columns = append(j.Columns, columnJSON{Name: c.Name, Type: c.Type.String(), Nullable: &nullable, Comment: c.Comment})
		}
	}
	// types are full of < and >: keep them readable
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(j); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// UnmarshalJSON reads the form MarshalJSON writes, and checks it as
// [ParseTable] does.
func (t *Table) UnmarshalJSON(b []byte) error {
	var j tableJSON
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&j); err != nil {
		return invalidf("%v", err)
	}
	tt, err := j.table()
	if err != nil {
		return err
	}
	*t = *tt
	return nil
}

// ParseTable reads a table definition in its JSON form and checks it,
// reporting every problem at once as a [*DefinitionError].
func ParseTable(b []byte) (*Table, error) {
	var t Table
	if err := t.UnmarshalJSON(b); err != nil {
		return nil, err
	}
	return &t, nil
}

// table turns the written form into a Table, checking everything that can
// be checked without the catalog.
func (j *tableJSON) table() (*Table, error) {
	var ps problems
	t := j.build(&ps)
	t.check(&ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return t, nil
}

// build turns the written form into a Table, adding the problems of its
// parts (kind, mode, columns) but not checking the whole.
func (j *tableJSON) build(ps *problems) *Table {
	t := &Table{
		Database: j.Database, Name: j.Name, Description: j.Description, Location: j.Location, Format: j.Format,
		PartitionKeys: j.PartitionKeys, EventTime: j.EventTime, Parameters: j.Parameters, Deprecated: j.DeprecatedColumns,
		Version: j.Version,
	}
	if j.Created != nil {
		t.Created = *j.Created
	}
	if j.Updated != nil {
		t.Updated = *j.Updated
	}
	if j.Kind != "" && j.Kind != KindTable {
		ps.add("kind", "want %s, got %q", KindTable, j.Kind)
	}
	mode, err := ParseCompatibility(j.Compatibility)
	if err != nil {
		ps.add("compatibility", "%v", err)
		mode = CompatBackward // reported once
	}
	t.Compatibility = mode
	if t.Format.Type == "" {
		t.Format.Type = FormatJSON
	}
	before := len(ps.list)
	cols := make([]record.Column, 0, len(j.Columns))
	seen := make(map[string]int, len(j.Columns))
	for i, c := range j.Columns {
		path := "columns[" + itoa(i) + "]"
		if c.Name == "" {
			ps.add(path+".name", "missing")
		} else if prev, dup := seen[c.Name]; dup {
			ps.add(path+".name", "duplicate column %q (also columns[%d])", c.Name, prev)
		} else {
			seen[c.Name] = i
		}
		if c.Type == "" {
			ps.add(path+".type", "missing")
			continue
		}
		typ, err := record.ParseType(c.Type)
		if err != nil {
			ps.add(path+".type", "%s", typeErrorText(err))
			continue
		}
		cols = append(cols, record.Column{Name: c.Name, Type: typ, Nullable: c.Nullable == nil || *c.Nullable, Comment: c.Comment})
	}
	// A table of Avro files or records may take its columns from the
	// writer schema.
	if len(j.Columns) == 0 && t.Format.Type == FormatAvro && t.Format.AvroSchema != "" {
		if codec, err := avro.New(t.Format.AvroSchema); err == nil {
			cols = append(cols, codec.Schema().Columns()...)
		}
	}
	if len(ps.list) == before {
		s, err := record.NewSchema(cols...)
		if err != nil {
			ps.add("columns", "%v", err)
		}
		t.Schema = s
	}
	return t
}

// typeErrorText is the message of a type syntax error without the record
// package's prefix, keeping its offset.
func typeErrorText(err error) string {
	var se *record.TypeSyntaxError
	if errors.As(err, &se) {
		return "offset " + itoa(se.Offset) + " of " + strconvQuote(se.Text) + ": " + se.Msg
	}
	return strings.TrimPrefix(err.Error(), "record: ")
}

// Validate checks the definition, reporting every problem at once as a
// [*DefinitionError].
func (t *Table) Validate() error {
	var ps problems
	t.check(&ps)
	return ps.err()
}

// check adds the problems of a table whose schema, if set, is built.
func (t *Table) check(ps *problems) {
	if t.Database == "" {
		ps.add("database", "missing")
	} else if err := ValidateName(t.Database); err != nil {
		ps.add("database", "%v", err)
	}
	if t.Name == "" {
		ps.add("name", "missing")
	} else if err := ValidateName(t.Name); err != nil {
		ps.add("name", "%v", err)
	}
	if len(t.Description) > MaxDescriptionLen {
		ps.add("description", "at most %d bytes", MaxDescriptionLen)
	}
	t.Location.check(ps)
	if t.Location.Table != "" && t.Format.Type != FormatJSON {
		ps.add("format.type", "a pricestream table holds documents: want json")
	}
	t.Format.check(ps, t.Location)
	if !slices.Contains(Compatibilities, t.Compatibility) {
		ps.add("compatibility", "unknown mode %q", string(t.Compatibility))
	}
	if t.Schema == nil {
		if len(ps.list) == 0 {
			ps.add("columns", "missing")
		}
		return
	}
	switch n := t.Schema.Len(); {
	case n == 0:
		ps.add("columns", "a table needs at least one column")
	case n > MaxColumns:
		ps.add("columns", "at most %d columns, got %d", MaxColumns, n)
	}
	if t.Format.Type == FormatAvro && t.Format.AvroSchema != "" {
		if codec, err := avro.New(t.Format.AvroSchema); err == nil {
			ws := codec.Schema()
			for i, c := range t.Schema.Columns() {
				if ws.Lookup(c.Name) == nil && !c.Nullable {
					ps.add("columns["+itoa(i)+"]", "column %q is not nullable but the Avro writer schema has no such field", c.Name)
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, k := range t.PartitionKeys {
		path := "partition_keys[" + itoa(i) + "]"
		switch {
		case t.Schema.Lookup(k) == nil:
			ps.add(path, "%q is not a column", k)
		case seen[k]:
			ps.add(path, "duplicate %q", k)
		}
		seen[k] = true
	}
	if et := t.EventTime; et != nil {
		t.checkEventTime(ps, et)
	}
	seen = map[string]bool{}
	for i, d := range t.Deprecated {
		path := "deprecated_columns[" + itoa(i) + "]"
		c := t.Schema.Lookup(d)
		switch {
		case c == nil:
			ps.add(path, "%q is not a column", d)
		case !c.Nullable:
			ps.add(path, "deprecated column %q must be nullable", d)
		case seen[d]:
			ps.add(path, "duplicate %q", d)
		}
		seen[d] = true
	}
	checkParameters(ps, t.Parameters)
}

func (t *Table) checkEventTime(ps *problems, et *EventTime) {
	if et.Field == "" {
		ps.add("event_time.field", "missing")
		return
	}
	typ := t.fieldType(et.Field)
	if typ == nil {
		ps.add("event_time.field", "%q is not a column (or a path into struct columns)", et.Field)
		return
	}
	var f record.TimeFormat
	if et.Format != "" {
		var err error
		if f, err = record.ParseTimeFormat(et.Format); err != nil {
			ps.add("event_time.format", "%s", strings.TrimPrefix(err.Error(), "record: "))
			return
		}
	}
	switch typ.Kind {
	case record.KindTimestamp, record.KindDate:
		if et.Format != "" && !typ.Format.IsZero() && !typ.Format.Equal(f) {
			ps.add("event_time.format", "%q differs from the column's format %q", et.Format, typ.Format.String())
		}
	case record.KindString:
		if f.IsNumeric() {
			ps.add("event_time.format", "%q reads numbers, but %q is a string column", et.Format, et.Field)
		}
	case record.KindInt, record.KindLong, record.KindDouble, record.KindDecimal:
		if !f.IsNumeric() {
			ps.add("event_time.format", "%q is a %s column: want unix_seconds, unix_millis, unix_micros or unix_nanos", et.Field, typ.Kind)
		}
	default:
		ps.add("event_time.field", "%q is a %s column: want timestamp, date, string or a number", et.Field, typ)
	}
}

// fieldType returns the type at a column name or dotted path into
// structs, or nil.
func (t *Table) fieldType(path string) *record.Type {
	if c := t.Schema.Lookup(path); c != nil {
		return c.Type
	}
	name, rest, ok := strings.Cut(path, ".")
	c := t.Schema.Lookup(name)
	if !ok || c == nil {
		return nil
	}
	typ := c.Type
	for _, part := range strings.Split(rest, ".") {
		if typ.Kind != record.KindStruct {
			return nil
		}
		f := typ.Field(part)
		if f == nil {
			return nil
		}
		typ = f.Type
	}
	return typ
}

// EventTimeFormat returns the format of the event-time field: its own, or
// the column's, or the flexible ISO format. ok is false without an event
// time.
func (t *Table) EventTimeFormat() (f record.TimeFormat, ok bool) {
	if t.EventTime == nil {
		return f, false
	}
	if t.EventTime.Format != "" {
		f, err := record.ParseTimeFormat(t.EventTime.Format)
		return f, err == nil
	}
	if typ := t.fieldType(t.EventTime.Field); typ != nil {
		return typ.Format, true
	}
	return f, true
}
