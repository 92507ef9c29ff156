package avro

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/big"

	"github.com/pricestream/pricestream/internal/record"
)

// Append appends the Avro binary encoding of r to dst. Each field of the
// writer schema takes the record's field of that name, cast to the schema's
// type where needed (a long for an int field in range, text for a string
// field); a missing field is null, which only a union with null accepts.
// A union takes the first branch the value matches by kind, else the first
// it casts to. Errors name the field.
func (c *Codec) Append(dst []byte, r *record.Record) ([]byte, error) {
	e := encoder{b: dst}
	var err error
	if c.wrap {
		v, _ := r.Get("value")
		err = e.value(c.root, v, "value", 0)
	} else {
		err = e.fields(c.root, r, "", 0)
	}
	if err != nil {
		return dst, err
	}
	return e.b, nil
}

type encoder struct {
	b []byte
}

func encErr(path string, format string, args ...any) error {
	return fmt.Errorf("avro: encode field %q: %s", path, fmt.Sprintf(format, args...))
}

func (e *encoder) long(n int64) {
	e.b = binary.AppendUvarint(e.b, uint64(n<<1)^uint64(n>>63))
}

func (e *encoder) bytes(s string) {
	e.long(int64(len(s)))
	e.b = append(e.b, s...)
}

func (e *encoder) fields(n *node, r *record.Record, prefix string, depth int) error {
	for _, f := range n.fields {
		v, _ := r.Get(f.name)
		path := f.name
		if prefix != "" {
			path = prefix + "." + f.name
		}
		if err := e.value(f.node, v, path, depth); err != nil {
			return err
		}
	}
	return nil
}

// matches reports whether v's kind is the natural one of n.
func matches(n *node, v record.Value) bool {
	k := v.Kind()
	switch n.op {
	case opNull:
		return k == record.KindNull
	case opBool:
		return k == record.KindBool
	case opInt:
		return k == record.KindInt
	case opLong:
		return k == record.KindLong
	case opFloat, opDouble:
		return k == record.KindDouble
	case opBytes, opFixed:
		return k == record.KindBinary
	case opString, opEnum:
		return k == record.KindString
	case opDate:
		return k == record.KindDate
	case opTimestamp:
		return k == record.KindTimestamp
	case opDecimalBytes, opDecimalFixed:
		return k == record.KindDecimal
	case opRecord:
		return k == record.KindStruct || (n.recursive && k == record.KindString)
	case opArray:
		return k == record.KindArray
	case opMap:
		return k == record.KindMap || k == record.KindStruct
	}
	return false
}

func (e *encoder) value(n *node, v record.Value, path string, depth int) error {
	if depth > maxDepth {
		return encErr(path, "nesting deeper than %d", maxDepth)
	}
	if n.op == opUnion {
		for i, b := range n.branches {
			if matches(b, v) {
				e.long(int64(i))
				return e.value(b, v, path, depth)
			}
		}
		if v.IsNull() {
			return encErr(path, "null for a union without null")
		}
		for i, b := range n.branches {
			mark := len(e.b)
			e.long(int64(i))
			if err := e.value(b, v, path, depth); err == nil {
				return nil
			}
			e.b = e.b[:mark]
		}
		return encErr(path, "%s matches no branch of the union", v.Kind())
	}
	if v.IsNull() && n.op != opNull {
		return encErr(path, "null for a non-null type")
	}
	var t *record.Type
	switch n.op {
	case opNull:
		if !v.IsNull() {
			return encErr(path, "%s for null", v.Kind())
		}
		return nil
	case opBool:
		t = record.TypeBool
	case opInt:
		t = record.TypeInt
	case opLong:
		t = record.TypeLong
	case opFloat, opDouble:
		t = record.TypeDouble
	case opBytes, opFixed:
		t = record.TypeBinary
	case opString, opEnum:
		t = record.TypeString
	case opDate:
		t = record.TypeDate
	case opTimestamp:
		t = record.TypeTime
	case opDecimalBytes, opDecimalFixed:
		t = record.DecimalType(record.MaxDecimalPrecision, n.scale)
	}
	if t != nil {
		cv, err := record.Cast(v, t)
		if err != nil {
			return encErr(path, "%v", err)
		}
		v = cv
	}
	switch n.op {
	case opBool:
		if v.Bool() {
			e.b = append(e.b, 1)
		} else {
			e.b = append(e.b, 0)
		}
	case opInt, opLong, opDate:
		e.long(v.Long())
	case opTimestamp:
		e.long(floorDiv(v.UnixNano(), n.mul))
	case opFloat:
		e.b = binary.LittleEndian.AppendUint32(e.b, math.Float32bits(float32(v.Double())))
	case opDouble:
		e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(v.Double()))
	case opBytes, opString:
		e.bytes(v.Str())
	case opFixed:
		if len(v.Str()) != n.size {
			return encErr(path, "%d bytes for fixed(%d)", len(v.Str()), n.size)
		}
		e.b = append(e.b, v.Str()...)
	case opEnum:
		for i, s := range n.symbols {
			if s == v.Str() {
				e.long(int64(i))
				return nil
			}
		}
		return encErr(path, "%q is not a symbol of the enum", v.Str())
	case opDecimalBytes, opDecimalFixed:
		u, _ := v.Decimal()
		b := twosComplement(u)
		if n.op == opDecimalBytes {
			e.bytes(string(b))
			return nil
		}
		if len(b) > n.size {
			return encErr(path, "decimal needs %d bytes, fixed has %d", len(b), n.size)
		}
		pad := byte(0)
		if u.Sign() < 0 {
			pad = 0xff
		}
		for range n.size - len(b) {
			e.b = append(e.b, pad)
		}
		e.b = append(e.b, b...)
	case opRecord:
		if n.recursive && v.Kind() == record.KindString {
			// a record inside itself, carried as JSON text
			var inner record.Record
			if err := record.NewJSONDecoder(record.JSONOptions{}).DecodeString(v.Str(), &inner); err != nil {
				return encErr(path, "%v", err)
			}
			return e.fields(n, &inner, path, depth+1)
		}
		if v.Kind() != record.KindStruct {
			return encErr(path, "%s for a record", v.Kind())
		}
		return e.fields(n, v.Struct(), path, depth+1)
	case opArray:
		if v.Kind() != record.KindArray {
			return encErr(path, "%s for an array", v.Kind())
		}
		items := v.Array()
		if len(items) > 0 {
			e.long(int64(len(items)))
			for i, it := range items {
				if err := e.value(n.elem, it, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
					return err
				}
			}
		}
		e.long(0)
	case opMap:
		var m *record.Record
		switch v.Kind() {
		case record.KindMap:
			m = v.Map()
		case record.KindStruct:
			m = v.Struct()
		default:
			return encErr(path, "%s for a map", v.Kind())
		}
		if m.Len() > 0 {
			e.long(int64(m.Len()))
			for _, f := range m.Fields() {
				e.bytes(f.Name)
				if err := e.value(n.elem, f.Value, path+"["+f.Name+"]", depth+1); err != nil {
					return err
				}
			}
		}
		e.long(0)
	}
	return nil
}

// twosComplement returns the minimal big-endian two's complement bytes of n.
func twosComplement(n *big.Int) []byte {
	if n.Sign() >= 0 {
		b := n.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// -n-1 inverted
	m := new(big.Int).Neg(n)
	m.Sub(m, big.NewInt(1))
	b := m.Bytes()
	for i := range b {
		b[i] = ^b[i]
	}
	if len(b) == 0 || b[0]&0x80 == 0 {
		b = append([]byte{0xff}, b...)
	}
	return b
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}
