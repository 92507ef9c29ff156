package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Column is a named, typed column of a [Schema], or a field of a struct
// [Type].
type Column struct {
	Name     string
	Type     *Type
	Nullable bool
	Comment  string
}

// columnJSON is the JSON form of a column.
type columnJSON struct {
	Name     string `json:"name"`
	Type     string `json:"type"`
	Nullable *bool  `json:"nullable,omitempty"`
	Comment  string `json:"comment,omitempty"`
}

// MarshalJSON writes {"name","type","nullable"} (and "comment" if set), the
// type in the syntax of [Type.String].
func (c Column) MarshalJSON() ([]byte, error) {
	if c.Type == nil {
		return nil, fmt.Errorf("record: column %q has no type", c.Name)
	}
	nullable := c.Nullable
	return json.Marshal(columnJSON{Name: c.Name, Type: c.Type.String(), Nullable: &nullable, Comment: c.Comment})
}

// UnmarshalJSON reads the form MarshalJSON writes; a missing "nullable"
// means true, as in Hive.
func (c *Column) UnmarshalJSON(b []byte) error {
	var j columnJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return fmt.Errorf("record: column: %w", err)
	}
	if j.Name == "" {
		return errors.New("record: column: missing name")
	}
	t, err := ParseType(j.Type)
	if err != nil {
		return fmt.Errorf("record: column %q: %w", j.Name, err)
	}
	*c = Column{Name: j.Name, Type: t, Nullable: j.Nullable == nil || *j.Nullable, Comment: j.Comment}
	return nil
}

// Schema is the ordered list of columns of a record, a catalog table or a
// file. A Schema is immutable once built and safe for concurrent use; build
// one with [NewSchema], [ParseSchemaJSON] or schema inference.
type Schema struct {
	cols  []Column
	index map[string]int
}

// NewSchema returns a schema of cols, which it keeps. Column names must be
// unique and non-empty, and every column must have a type.
func NewSchema(cols ...Column) (*Schema, error) {
	s := &Schema{cols: cols, index: make(map[string]int, len(cols))}
	var errs []error
	for i, c := range cols {
		switch {
		case c.Name == "":
			errs = append(errs, fmt.Errorf("record: schema: column %d: missing name", i))
		case c.Type == nil:
			errs = append(errs, fmt.Errorf("record: schema: column %q: missing type", c.Name))
		}
		if _, dup := s.index[c.Name]; dup {
			errs = append(errs, fmt.Errorf("record: schema: duplicate column %q", c.Name))
		}
		s.index[c.Name] = i
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// MustSchema is [NewSchema] for schemas known to be valid; it panics on an
// error.
func MustSchema(cols ...Column) *Schema {
	s, err := NewSchema(cols...)
	if err != nil {
		panic(err)
	}
	return s
}

// ParseSchemaJSON reads the JSON form [{"name","type","nullable"}, …].
func ParseSchemaJSON(b []byte) (*Schema, error) {
	var cols []Column
	if err := json.Unmarshal(b, &cols); err != nil {
		return nil, fmt.Errorf("record: schema: %w", err)
	}
	return NewSchema(cols...)
}

// MarshalJSON writes the schema as [{"name","type","nullable"}, …].
func (s *Schema) MarshalJSON() ([]byte, error) {
	if s == nil || s.cols == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(s.cols)
}

// UnmarshalJSON reads the form MarshalJSON writes.
func (s *Schema) UnmarshalJSON(b []byte) error {
	p, err := ParseSchemaJSON(b)
	if err != nil {
		return err
	}
	*s = *p
	return nil
}

// Len returns the number of columns.
func (s *Schema) Len() int { return len(s.cols) }

// Columns returns the columns in order. The slice must not be modified.
func (s *Schema) Columns() []Column { return s.cols }

// Column returns the i-th column.
func (s *Schema) Column(i int) *Column { return &s.cols[i] }

// Index returns the position of the column called name, or -1.
func (s *Schema) Index(name string) int {
	if i, ok := s.index[name]; ok {
		return i
	}
	return -1
}

// Lookup returns the column called name, or nil.
func (s *Schema) Lookup(name string) *Column {
	if i, ok := s.index[name]; ok {
		return &s.cols[i]
	}
	return nil
}

// Names returns the column names in order.
func (s *Schema) Names() []string {
	out := make([]string, len(s.cols))
	for i := range s.cols {
		out[i] = s.cols[i].Name
	}
	return out
}

// Type returns the schema as a struct type.
func (s *Schema) Type() *Type { return StructType(s.cols...) }

// String returns the schema as a struct type in the syntax of [Type.String].
func (s *Schema) String() string { return s.Type().String() }

// Equal reports whether s and o have the same columns in the same order.
func (s *Schema) Equal(o *Schema) bool { return s.Type().Equal(o.Type()) }

// Describe returns one line per column, "name type [not null]", for logs and
// command output.
func (s *Schema) Describe() string {
	var b strings.Builder
	for _, c := range s.cols {
		b.WriteString(c.Name)
		b.WriteByte(' ')
		b.WriteString(c.Type.String())
		if !c.Nullable {
			b.WriteString(" not null")
		}
		b.WriteByte('\n')
	}
	return b.String()
}
