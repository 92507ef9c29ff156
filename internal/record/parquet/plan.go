package parquet

import (
	"errors"
	"fmt"

	pq "github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/pricestream/pricestream/internal/record"
)

// shape is how a schema node assembles.
type shape uint8

const (
	shapeLeaf shape = iota
	shapeStruct
	shapeList // an array: rep is the repeated node, elem the element
	shapeMap  // a map: rep is the repeated key_value group
)

// conv is how a leaf's physical value becomes a record value.
type conv uint8

const (
	convBool conv = iota
	convInt32
	convUint32
	convInt64
	convUint64
	convFloat
	convDouble
	convString
	convBinary
	convDate
	convTimestamp // int64 in units of mul nanoseconds
	convInt96     // legacy Impala timestamp
	convDecimalInt
	convDecimalBytes
	convUUID
)

// pnode is a compiled Parquet schema node.
type pnode struct {
	name     string
	shape    shape
	optional bool
	repeated bool
	def      int // definition level of a present, non-null value here
	rep      int // repetition level of this node
	typ      *record.Type
	// leaf
	col   int
	conv  conv
	mul   int64 // timestamp unit
	scale int   // decimal
	// struct
	fields []*pnode
	// list and map
	repNode *pnode // the repeated node
	elem    *pnode // list element, or map value
	key     *pnode // map key
	// first leaf column under this node, for peeking levels
	lead int
}

// maxSchemaDepth bounds the nesting of a Parquet schema.
const maxSchemaDepth = 64

type planner struct {
	col int
}

// plan compiles the root of a Parquet schema into top-level columns.
func plan(root pq.Node) ([]*pnode, error) {
	p := &planner{}
	var out []*pnode
	for _, f := range root.Fields() {
		n, err := p.node(f, f.Name(), 0, 0, 0)
		if err != nil {
			return nil, fmt.Errorf("column %q: %w", f.Name(), err)
		}
		out = append(out, n)
	}
	return out, nil
}

func logical(n pq.Node) *format.LogicalType {
	if n.Leaf() || n.Type() != nil {
		return n.Type().LogicalType()
	}
	return nil
}

func converted(n pq.Node) *deprecated.ConvertedType {
	if n.Type() == nil {
		return nil
	}
	return n.Type().ConvertedType()
}

func isList(n pq.Node) bool {
	if lt := logical(n); lt != nil {
		if _, ok := lt.Value.(*format.ListType); ok {
			return true
		}
	}
	ct := converted(n)
	return ct != nil && *ct == deprecated.List
}

func isMap(n pq.Node) bool {
	if lt := logical(n); lt != nil {
		if _, ok := lt.Value.(*format.MapType); ok {
			return true
		}
	}
	ct := converted(n)
	return ct != nil && (*ct == deprecated.Map || *ct == deprecated.MapKeyValue)
}

// node compiles n; def and rep are the levels of its parent.
func (p *planner) node(n pq.Node, name string, def, rep, depth int) (*pnode, error) {
	if depth > maxSchemaDepth {
		return nil, errors.New("schema nested too deeply")
	}
	pn := &pnode{name: name, optional: n.Optional(), repeated: n.Repeated(), lead: p.col}
	pn.def, pn.rep = def, rep
	if n.Optional() || n.Repeated() {
		pn.def++
	}
	if n.Repeated() {
		pn.rep++
		// a bare repeated field: an array of non-null elements
		inner := *pn
		inner.repeated = false
		arr := &pnode{name: name, shape: shapeList, def: def, rep: rep, lead: p.col}
		e, err := p.inner(n, name, &inner, depth)
		if err != nil {
			return nil, err
		}
		arr.repNode = e
		arr.elem = e
		arr.typ = record.ArrayType(e.typ)
		return arr, nil
	}
	return p.inner(n, name, pn, depth)
}

// inner compiles the content of n into pn (levels already set).
func (p *planner) inner(n pq.Node, name string, pn *pnode, depth int) (*pnode, error) {
	switch {
	case n.Leaf():
		pn.shape = shapeLeaf
		pn.col = p.col
		p.col++
		if err := leafConv(n, pn); err != nil {
			return nil, err
		}
		return pn, nil
	case isList(n) && len(n.Fields()) == 1 && n.Fields()[0].Repeated():
		pn.shape = shapeList
		r := n.Fields()[0]
		rn := &pnode{name: r.Name(), repeated: true, def: pn.def + 1, rep: pn.rep + 1, lead: p.col}
		pn.repNode = rn
		// three levels: repeated group with one field, the element
		// (unless it is the legacy two-level form: the repeated node is the
		// element itself: a leaf, or a group of several fields, or named
		// "array" or "<name>_tuple")
		if !r.Leaf() && len(r.Fields()) == 1 && r.Name() != "array" && r.Name() != name+"_tuple" {
			f := r.Fields()[0]
			e, err := p.node(f, f.Name(), rn.def, rn.rep, depth+1)
			if err != nil {
				return nil, err
			}
			pn.elem = e
		} else {
			inner := &pnode{name: r.Name(), def: rn.def, rep: rn.rep, lead: p.col}
			e, err := p.inner(r, r.Name(), inner, depth+1)
			if err != nil {
				return nil, err
			}
			pn.elem = e
			pn.repNode = e
		}
		pn.typ = record.ArrayType(pn.elem.typ)
		return pn, nil
	case isMap(n) && len(n.Fields()) == 1 && n.Fields()[0].Repeated() && len(n.Fields()[0].Fields()) == 2:
		pn.shape = shapeMap
		kv := n.Fields()[0]
		rn := &pnode{name: kv.Name(), repeated: true, def: pn.def + 1, rep: pn.rep + 1, lead: p.col}
		pn.repNode = rn
		kf, vf := kv.Fields()[0], kv.Fields()[1]
		k, err := p.node(kf, kf.Name(), rn.def, rn.rep, depth+1)
		if err != nil {
			return nil, err
		}
		if k.shape != shapeLeaf {
			return nil, errors.New("map key is not a scalar")
		}
		v, err := p.node(vf, vf.Name(), rn.def, rn.rep, depth+1)
		if err != nil {
			return nil, err
		}
		pn.key, pn.elem = k, v
		pn.typ = record.MapType(k.typ, v.typ)
		return pn, nil
	default:
		pn.shape = shapeStruct
		cols := make([]record.Column, 0, len(n.Fields()))
		for _, f := range n.Fields() {
			c, err := p.node(f, f.Name(), pn.def, pn.rep, depth+1)
			if err != nil {
				return nil, err
			}
			pn.fields = append(pn.fields, c)
			cols = append(cols, record.Column{Name: f.Name(), Type: c.typ, Nullable: c.optional})
		}
		if len(pn.fields) == 0 {
			return nil, errors.New("empty group")
		}
		pn.typ = record.StructType(cols...)
		return pn, nil
	}
}

func leafConv(n pq.Node, pn *pnode) error {
	lt := logical(n)
	ct := converted(n)
	var lv format.LogicalTypeValue
	if lt != nil {
		lv = lt.Value
	}
	set := func(c conv, t *record.Type) error {
		pn.conv, pn.typ = c, t
		return nil
	}
	decimal := func(prec, scale int) (*record.Type, error) {
		if prec < 1 || prec > record.MaxDecimalPrecision || scale < 0 || scale > prec {
			return nil, fmt.Errorf("decimal(%d,%d) beyond decimal(38)", prec, scale)
		}
		pn.scale = scale
		return record.DecimalType(prec, scale), nil
	}
	switch n.Type().Kind() {
	case pq.Boolean:
		return set(convBool, record.TypeBool)
	case pq.Int32:
		switch v := lv.(type) {
		case *format.DateType:
			return set(convDate, record.TypeDate)
		case *format.DecimalType:
			t, err := decimal(int(v.Precision), int(v.Scale))
			if err != nil {
				return err
			}
			return set(convDecimalInt, t)
		case *format.IntType:
			if !v.IsSigned && v.BitWidth == 32 {
				return set(convUint32, record.TypeLong)
			}
		}
		if ct != nil && *ct == deprecated.Date {
			return set(convDate, record.TypeDate)
		}
		return set(convInt32, record.TypeInt)
	case pq.Int64:
		switch v := lv.(type) {
		case *format.TimestampType:
			pn.mul = int64(v.Unit.Value.Duration())
			return set(convTimestamp, record.TypeTime)
		case *format.DecimalType:
			t, err := decimal(int(v.Precision), int(v.Scale))
			if err != nil {
				return err
			}
			return set(convDecimalInt, t)
		case *format.IntType:
			if !v.IsSigned {
				return set(convUint64, record.TypeLong)
			}
		}
		if ct != nil {
			switch *ct {
			case deprecated.TimestampMillis:
				pn.mul = 1e6
				return set(convTimestamp, record.TypeTime)
			case deprecated.TimestampMicros:
				pn.mul = 1e3
				return set(convTimestamp, record.TypeTime)
			}
		}
		return set(convInt64, record.TypeLong)
	case pq.Int96:
		return set(convInt96, record.TypeTime)
	case pq.Float:
		return set(convFloat, record.TypeDouble)
	case pq.Double:
		return set(convDouble, record.TypeDouble)
	case pq.ByteArray, pq.FixedLenByteArray:
		switch v := lv.(type) {
		case *format.StringType, *format.EnumType, *format.JsonType:
			return set(convString, record.TypeString)
		case *format.DecimalType:
			t, err := decimal(int(v.Precision), int(v.Scale))
			if err != nil {
				return err
			}
			return set(convDecimalBytes, t)
		case *format.UUIDType:
			return set(convUUID, record.TypeString)
		}
		if ct != nil {
			switch *ct {
			case deprecated.UTF8, deprecated.Enum, deprecated.Json:
				return set(convString, record.TypeString)
			}
		}
		return set(convBinary, record.TypeBinary)
	}
	return fmt.Errorf("unsupported physical type %v", n.Type().Kind())
}
