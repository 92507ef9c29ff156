package avro

import (
	"errors"
	"fmt"

	hamba "github.com/hamba/avro/v2"

	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/record"
)

// op is the operation of a compiled schema node.
type op uint8

const (
	opNull op = iota
	opBool
	opInt
	opLong
	opFloat
	opDouble
	opBytes
	opString
	opRecord
	opEnum
	opArray
	opMap
	opUnion
	opFixed
	opDate         // int days
	opTimestamp    // long in units of mul nanoseconds
	opDecimalBytes // bytes, two's complement big-endian
	opDecimalFixed // fixed, two's complement big-endian
)

// node is a compiled Avro schema node. Named types that refer to themselves
// share the node, so the tree may be cyclic.
type node struct {
	op       op
	name     string // full name of named types
	fields   []field
	elem     *node   // array items, map values
	branches []*node // union
	symbols  []string
	size     int   // fixed
	mul      int64 // timestamp unit in nanoseconds
	scale    int   // decimal
	prec     int   // decimal
	nullIdx  int   // union: index of the null branch, or -1
	// recursive marks a record that contains itself; inside itself it is
	// carried as JSON text (the catalog has no recursive types).
	recursive bool
}

type field struct {
	name string
	node *node
}

// compile turns a hamba schema into a node tree.
func compile(s hamba.Schema, named map[string]*node) (*node, error) {
	switch s := s.(type) {
	case *hamba.RefSchema:
		n, ok := named[s.Schema().FullName()]
		if !ok {
			return compile(s.Schema(), named)
		}
		if n.op == opRecord {
			n.recursive = true
		}
		return n, nil
	case *hamba.RecordSchema:
		if n, ok := named[s.FullName()]; ok {
			n.recursive = true
			return n, nil
		}
		n := &node{op: opRecord, name: s.FullName()}
		named[s.FullName()] = n
		for _, f := range s.Fields() {
			c, err := compile(f.Type(), named)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w", s.Name(), f.Name(), err)
			}
			n.fields = append(n.fields, field{name: f.Name(), node: c})
		}
		return n, nil
	case *hamba.NullSchema:
		return &node{op: opNull}, nil
	case *hamba.EnumSchema:
		return &node{op: opEnum, name: s.FullName(), symbols: s.Symbols()}, nil
	case *hamba.ArraySchema:
		e, err := compile(s.Items(), named)
		if err != nil {
			return nil, err
		}
		return &node{op: opArray, elem: e}, nil
	case *hamba.MapSchema:
		e, err := compile(s.Values(), named)
		if err != nil {
			return nil, err
		}
		return &node{op: opMap, elem: e}, nil
	case *hamba.UnionSchema:
		n := &node{op: opUnion, nullIdx: -1}
		for i, b := range s.Types() {
			c, err := compile(b, named)
			if err != nil {
				return nil, err
			}
			if c.op == opNull {
				n.nullIdx = i
			}
			n.branches = append(n.branches, c)
		}
		return n, nil
	case *hamba.FixedSchema:
		if d, ok := s.Logical().(*hamba.DecimalLogicalSchema); ok {
			if d.Scale() > record.MaxDecimalPrecision {
				return nil, errors.New("decimal scale beyond 38")
			}
			return &node{op: opDecimalFixed, size: s.Size(), scale: d.Scale(), prec: d.Precision()}, nil
		}
		return &node{op: opFixed, name: s.FullName(), size: s.Size()}, nil
	case *hamba.PrimitiveSchema:
		var lt hamba.LogicalType
		if l := s.Logical(); l != nil {
			lt = l.Type()
		}
		switch s.Type() {
		case hamba.Null:
			return &node{op: opNull}, nil
		case hamba.Boolean:
			return &node{op: opBool}, nil
		case hamba.Int:
			if lt == hamba.Date {
				return &node{op: opDate}, nil
			}
			return &node{op: opInt}, nil
		case hamba.Long:
			switch lt {
			case hamba.TimestampMillis, hamba.LocalTimestampMillis:
				return &node{op: opTimestamp, mul: 1e6}, nil
			case hamba.TimestampMicros, hamba.LocalTimestampMicros:
				return &node{op: opTimestamp, mul: 1e3}, nil
			case "timestamp-nanos", "local-timestamp-nanos":
				return &node{op: opTimestamp, mul: 1}, nil
			}
			return &node{op: opLong}, nil
		case hamba.Float:
			return &node{op: opFloat}, nil
		case hamba.Double:
			return &node{op: opDouble}, nil
		case hamba.Bytes:
			if d, ok := s.Logical().(*hamba.DecimalLogicalSchema); ok {
				if d.Scale() > record.MaxDecimalPrecision {
					return nil, errors.New("decimal scale beyond 38")
				}
				return &node{op: opDecimalBytes, scale: d.Scale(), prec: d.Precision()}, nil
			}
			return &node{op: opBytes}, nil
		case hamba.String:
			return &node{op: opString}, nil
		}
	}
	return nil, fmt.Errorf("unsupported Avro schema %s", s.Type())
}

// recordType returns the catalog type of a node. seen holds the records
// being expanded: a record met again inside itself is a string (its value
// is carried as JSON text).
func (n *node) recordType(seen map[*node]bool) (t *record.Type, nullable bool) {
	switch n.op {
	case opNull:
		return record.TypeNull, true
	case opBool:
		return record.TypeBool, false
	case opInt:
		return record.TypeInt, false
	case opLong:
		return record.TypeLong, false
	case opFloat, opDouble:
		return record.TypeDouble, false
	case opBytes, opFixed:
		return record.TypeBinary, false
	case opString, opEnum:
		return record.TypeString, false
	case opDate:
		return record.TypeDate, false
	case opTimestamp:
		return record.TypeTime, false
	case opDecimalBytes, opDecimalFixed:
		p := n.prec
		if p < 1 || p > record.MaxDecimalPrecision {
			p = record.MaxDecimalPrecision
		}
		return record.DecimalType(p, min(n.scale, p)), false
	case opArray:
		e, _ := n.elem.recordType(seen)
		return record.ArrayType(e), false
	case opMap:
		e, _ := n.elem.recordType(seen)
		return record.MapType(record.TypeString, e), false
	case opRecord:
		if seen[n] {
			return record.TypeString, false
		}
		seen[n] = true
		defer delete(seen, n)
		return record.StructType(n.columns(seen)...), false
	case opUnion:
		var alts []*record.Type
		for _, b := range n.branches {
			t, _ := b.recordType(seen)
			alts = append(alts, t)
		}
		return record.ChoiceType(alts...), n.nullIdx >= 0
	}
	return record.TypeNull, true
}

func (n *node) columns(seen map[*node]bool) []record.Column {
	cols := make([]record.Column, 0, len(n.fields))
	for _, f := range n.fields {
		t, nullable := f.node.recordType(seen)
		cols = append(cols, record.Column{Name: f.name, Type: t, Nullable: nullable})
	}
	return cols
}

// SchemaJSON returns an Avro writer schema (JSON) for a catalog schema, so
// that records of that schema can be encoded to Avro: the record is named
// name; nullable columns become unions with null (null first, default
// null); timestamps are timestamp-micros, dates date, decimals bytes with
// the decimal logical type; a choice becomes a union of its alternatives.
// Map keys must be strings.
func SchemaJSON(s *record.Schema, name string) (string, error) {
	st := &schemaText{names: map[string]int{}}
	b, err := st.record(name, s.Columns())
	if err != nil {
		return "", err
	}
	return string(b), nil
}

type schemaText struct {
	names map[string]int
}

func (st *schemaText) uniqueName(base string) string {
	n := st.names[base]
	st.names[base] = n + 1
	if n == 0 {
		return base
	}
	return fmt.Sprintf("%s_%d", base, n)
}

func quoteJSON(s string) []byte { return jsonstr.Append(nil, s) }

func (st *schemaText) record(name string, cols []record.Column) ([]byte, error) {
	b := []byte(`{"type":"record","name":`)
	b = append(b, quoteJSON(st.uniqueName(avroName(name)))...)
	b = append(b, `,"fields":[`...)
	for i, c := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		if !validName(c.Name) {
			return nil, fmt.Errorf("avro: column %q: not a valid Avro name ([A-Za-z_][A-Za-z0-9_]*)", c.Name)
		}
		t, err := st.typ(c.Type, c.Name)
		if err != nil {
			return nil, fmt.Errorf("avro: column %q: %w", c.Name, err)
		}
		b = append(b, `{"name":`...)
		b = append(b, quoteJSON(c.Name)...)
		b = append(b, `,"type":`...)
		if c.Nullable && c.Type.Kind != record.KindNull {
			if c.Type.Kind == record.KindChoice {
				// a union already: add null as its first branch
				t = append([]byte(`["null",`), t[1:]...)
			} else {
				t = append(append([]byte(`["null",`), t...), ']')
			}
			b = append(b, t...)
			b = append(b, `,"default":null}`...)
			continue
		}
		b = append(b, t...)
		b = append(b, '}')
	}
	return append(b, "]}"...), nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return true
}

func avroName(s string) string {
	out := []byte{}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			out = append(out, c)
		} else {
			out = append(out, '_')
		}
	}
	if len(out) == 0 {
		return "record"
	}
	return string(out)
}

func (st *schemaText) typ(t *record.Type, name string) ([]byte, error) {
	switch t.Kind {
	case record.KindNull:
		return []byte(`"null"`), nil
	case record.KindBool:
		return []byte(`"boolean"`), nil
	case record.KindInt:
		return []byte(`"int"`), nil
	case record.KindLong:
		return []byte(`"long"`), nil
	case record.KindDouble:
		return []byte(`"double"`), nil
	case record.KindString:
		return []byte(`"string"`), nil
	case record.KindBinary:
		return []byte(`"bytes"`), nil
	case record.KindDate:
		return []byte(`{"type":"int","logicalType":"date"}`), nil
	case record.KindTimestamp:
		return []byte(`{"type":"long","logicalType":"timestamp-micros"}`), nil
	case record.KindDecimal:
		return fmt.Appendf(nil, `{"type":"bytes","logicalType":"decimal","precision":%d,"scale":%d}`, t.Precision, t.Scale), nil
	case record.KindArray:
		e, err := st.typ(t.Elem, name)
		if err != nil {
			return nil, err
		}
		return append(append([]byte(`{"type":"array","items":`), e...), '}'), nil
	case record.KindMap:
		if t.Key.Kind != record.KindString {
			return nil, errors.New("map keys must be strings in Avro")
		}
		e, err := st.typ(t.Elem, name)
		if err != nil {
			return nil, err
		}
		return append(append([]byte(`{"type":"map","values":`), e...), '}'), nil
	case record.KindStruct:
		return st.record(name, t.Fields)
	case record.KindChoice:
		b := []byte{'['}
		for i, c := range t.Choices {
			if i > 0 {
				b = append(b, ',')
			}
			e, err := st.typ(c, name)
			if err != nil {
				return nil, err
			}
			b = append(b, e...)
		}
		return append(b, ']'), nil
	}
	return nil, fmt.Errorf("no Avro type for %s", t)
}
