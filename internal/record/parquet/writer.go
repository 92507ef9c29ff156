package parquet

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"reflect"
	"slices"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress"
	"github.com/parquet-go/parquet-go/encoding"

	"github.com/pricestream/pricestream/internal/record"
)

// Writer writes records to a Parquet file with the schema it was made for.
// Columns keep the schema's order. Types map as: boolean BOOLEAN, int INT32,
// long INT64, double DOUBLE, string STRING, binary BYTE_ARRAY, date DATE,
// timestamp TIMESTAMP(MICROS, UTC) (nanoseconds are dropped, as Spark and
// Glue read micros), decimal(p,s) DECIMAL on INT32, INT64 or a fixed array
// by precision, struct a group, array a three-level LIST, map a MAP.
// Nullable columns and struct fields are OPTIONAL, others REQUIRED; array
// elements and map values are OPTIONAL. Choice types cannot be written:
// resolve them first. It is not safe for concurrent use.
type Writer struct {
	w     *pq.GenericWriter[any]
	cols  []*pnode
	names []string
	row   pq.Row
}

// NewWriter returns a writer of records of schema s to w. Call Close to
// write the footer.
func NewWriter(w io.Writer, s *record.Schema) (*Writer, error) {
	root, err := groupOf(s.Columns())
	if err != nil {
		return nil, err
	}
	ps := pq.NewSchema("record", root)
	cols, err := plan(ps)
	if err != nil {
		return nil, fmt.Errorf("parquet: %w", err)
	}
	return &Writer{w: pq.NewGenericWriter[any](w, ps), cols: cols, names: s.Names()}, nil
}

// Write appends one record. A missing field is null.
func (pw *Writer) Write(r *record.Record) error {
	pw.row = pw.row[:0]
	s := striper{row: pw.row}
	for _, c := range pw.cols {
		v, _ := r.Get(c.name)
		if err := s.value(c, v, 0, c.name); err != nil {
			return err
		}
	}
	// a row lists its values column by column; nested values were striped
	// field by field, so interleaved columns are put in order (stable: the
	// order within a column is the repetition order)
	slices.SortStableFunc(s.row, func(a, b pq.Value) int { return a.Column() - b.Column() })
	pw.row = s.row
	_, err := pw.w.WriteRows([]pq.Row{pw.row})
	return err
}

// Close flushes the last row group and writes the footer. It does not close
// the underlying writer.
func (pw *Writer) Close() error { return pw.w.Close() }

// striper turns values into column values with levels.
type striper struct {
	row pq.Row
}

func (s *striper) nulls(n *pnode, rep, def int) {
	switch n.shape {
	case shapeLeaf:
		s.row = append(s.row, pq.NullValue().Level(rep, def, n.col))
	case shapeStruct:
		for _, f := range n.fields {
			s.nulls(f, rep, def)
		}
	case shapeList:
		s.nulls(n.elem, rep, def)
	case shapeMap:
		s.nulls(n.key, rep, def)
		s.nulls(n.elem, rep, def)
	}
}

func (s *striper) value(n *pnode, v record.Value, rep int, path string) error {
	if v.IsNull() {
		if !n.optional {
			return fmt.Errorf("parquet: field %q: null for a required field", path)
		}
		s.nulls(n, rep, n.def-1)
		return nil
	}
	switch n.shape {
	case shapeLeaf:
		pv, err := leafValue(n, v)
		if err != nil {
			return fmt.Errorf("parquet: field %q: %w", path, err)
		}
		s.row = append(s.row, pv.Level(rep, n.def, n.col))
	case shapeStruct:
		if v.Kind() != record.KindStruct {
			return fmt.Errorf("parquet: field %q: %s for a struct", path, v.Kind())
		}
		for _, f := range n.fields {
			fv, _ := v.Struct().Get(f.name)
			if err := s.value(f, fv, rep, path+"."+f.name); err != nil {
				return err
			}
		}
	case shapeList:
		if v.Kind() != record.KindArray {
			return fmt.Errorf("parquet: field %q: %s for an array", path, v.Kind())
		}
		items := v.Array()
		if len(items) == 0 {
			s.nulls(n, rep, n.repNode.def-1)
			return nil
		}
		for i, e := range items {
			r := rep
			if i > 0 {
				r = n.repNode.rep
			}
			if err := s.value(n.elem, e, r, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	case shapeMap:
		var m *record.Record
		switch v.Kind() {
		case record.KindMap:
			m = v.Map()
		case record.KindStruct:
			m = v.Struct()
		default:
			return fmt.Errorf("parquet: field %q: %s for a map", path, v.Kind())
		}
		if m.Len() == 0 {
			s.nulls(n, rep, n.repNode.def-1)
			return nil
		}
		for i, f := range m.Fields() {
			r := rep
			if i > 0 {
				r = n.repNode.rep
			}
			k, err := record.Cast(record.StringValue(f.Name), n.key.typ)
			if err != nil {
				return fmt.Errorf("parquet: field %q: key %q: %w", path, f.Name, err)
			}
			if err := s.value(n.key, k, r, path+"[key]"); err != nil {
				return err
			}
			if err := s.value(n.elem, f.Value, r, path+"["+f.Name+"]"); err != nil {
				return err
			}
		}
	}
	return nil
}

func leafValue(n *pnode, v record.Value) (pq.Value, error) {
	cv, err := record.Cast(v, n.typ)
	if err != nil {
		return pq.Value{}, err
	}
	switch n.conv {
	case convBool:
		return pq.BooleanValue(cv.Bool()), nil
	case convInt32, convDate:
		return pq.Int32Value(int32(cv.Long())), nil
	case convInt64:
		return pq.Int64Value(cv.Long()), nil
	case convDouble:
		return pq.DoubleValue(cv.Double()), nil
	case convString, convBinary:
		return pq.ByteArrayValue([]byte(cv.Str())), nil
	case convTimestamp:
		return pq.Int64Value(floorDiv(cv.UnixNano(), n.mul)), nil
	case convDecimalInt:
		u, _, ok := cv.DecimalInt64()
		if !ok {
			return pq.Value{}, errors.New("decimal too large")
		}
		if n.typ.Precision <= 9 {
			return pq.Int32Value(int32(u)), nil
		}
		return pq.Int64Value(u), nil
	case convDecimalBytes:
		u, _ := cv.Decimal()
		return pq.FixedLenByteArrayValue(fixed16(u)), nil
	}
	return pq.Value{}, fmt.Errorf("cannot write %s", n.typ)
}

// fixed16 returns n in 16 bytes of big-endian two's complement.
func fixed16(n *big.Int) []byte {
	b := make([]byte, 16)
	if n.Sign() >= 0 {
		n.FillBytes(b)
		return b
	}
	m := new(big.Int).Add(n, new(big.Int).Lsh(big.NewInt(1), 128))
	m.FillBytes(b)
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// groupOf builds a Parquet group of columns that keeps their order
// (parquet.Group, a map, sorts its fields by name).
func groupOf(cols []record.Column) (pq.Node, error) {
	g := orderedGroup{}
	for _, c := range cols {
		n, err := nodeOf(c.Type)
		if err != nil {
			return nil, fmt.Errorf("parquet: column %q: %w", c.Name, err)
		}
		if c.Nullable {
			n = pq.Optional(n)
		} else {
			n = pq.Required(n)
		}
		g = append(g, orderedField{Node: n, name: c.Name})
	}
	return g, nil
}

func nodeOf(t *record.Type) (pq.Node, error) {
	switch t.Kind {
	case record.KindBool:
		return pq.Leaf(pq.BooleanType), nil
	case record.KindInt:
		return pq.Int(32), nil
	case record.KindLong:
		return pq.Int(64), nil
	case record.KindDouble:
		return pq.Leaf(pq.DoubleType), nil
	case record.KindString:
		return pq.String(), nil
	case record.KindBinary:
		return pq.Leaf(pq.ByteArrayType), nil
	case record.KindDate:
		return pq.Date(), nil
	case record.KindTimestamp:
		return pq.Timestamp(pq.Microsecond), nil
	case record.KindDecimal:
		switch {
		case t.Precision <= 9:
			return pq.Decimal(t.Scale, t.Precision, pq.Int32Type), nil
		case t.Precision <= 18:
			return pq.Decimal(t.Scale, t.Precision, pq.Int64Type), nil
		}
		return pq.Decimal(t.Scale, t.Precision, pq.FixedLenByteArrayType(16)), nil
	case record.KindStruct:
		if len(t.Fields) == 0 {
			return nil, errors.New("an empty struct has no Parquet form")
		}
		return groupOf(t.Fields)
	case record.KindArray:
		e, err := nodeOf(t.Elem)
		if err != nil {
			return nil, err
		}
		return pq.List(pq.Optional(e)), nil
	case record.KindMap:
		k, err := nodeOf(t.Key)
		if err != nil {
			return nil, err
		}
		v, err := nodeOf(t.Elem)
		if err != nil {
			return nil, err
		}
		return pq.Map(pq.Required(k), pq.Optional(v)), nil
	}
	return nil, fmt.Errorf("no Parquet form for %s (resolve choice and null types first)", t)
}

// orderedGroup is a Parquet group node whose fields keep their order.
type orderedGroup []orderedField

type orderedField struct {
	pq.Node
	name string
}

func (f orderedField) Name() string { return f.name }
func (f orderedField) Value(base reflect.Value) reflect.Value {
	return base.MapIndex(reflect.ValueOf(f.name))
}

func (g orderedGroup) ID() int                     { return 0 }
func (g orderedGroup) String() string              { return "group" }
func (g orderedGroup) Type() pq.Type               { return pq.Group{}.Type() }
func (g orderedGroup) Optional() bool              { return false }
func (g orderedGroup) Repeated() bool              { return false }
func (g orderedGroup) Required() bool              { return true }
func (g orderedGroup) Leaf() bool                  { return false }
func (g orderedGroup) Encoding() encoding.Encoding { return nil }
func (g orderedGroup) Compression() compress.Codec { return nil }
func (g orderedGroup) GoType() reflect.Type        { return reflect.TypeFor[map[string]any]() }
func (g orderedGroup) Fields() []pq.Field {
	out := make([]pq.Field, len(g))
	for i := range g {
		out[i] = g[i]
	}
	return out
}
