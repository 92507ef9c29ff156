package etl

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"time"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Conversions between records and table items. A record becomes an item
// attribute by attribute: strings S, numbers N (exact: a long's digits, a
// double's shortest text, a decimal's text; NaN and infinities NULL),
// booleans BOOL, null NULL, timestamps S in RFC 3339 with nanoseconds,
// dates S yyyy-MM-dd, binary B, structs and maps M, arrays L.

// itemOf converts a record to an item; [appendBinItem] writes the same
// item's binary form without building it.
func itemOf(r *record.Record) item.Item {
	it := make(item.Item, r.Len())
	for _, f := range r.Fields() {
		it[f.Name] = itemValue(f.Value)
	}
	return it
}

func itemValue(v record.Value) item.Value {
	switch v.Kind() {
	case record.KindBool:
		return item.BoolValue(v.Bool())
	case record.KindInt, record.KindLong:
		return item.IntValue(v.Long())
	case record.KindDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return item.NullValue()
		}
		n, err := item.ParseNumber(strconv.FormatFloat(f, 'g', -1, 64))
		if err != nil {
			return item.NullValue()
		}
		return item.NumberValue(n)
	case record.KindDecimal:
		n, err := item.ParseNumber(v.Text())
		if err != nil {
			return item.NullValue()
		}
		return item.NumberValue(n)
	case record.KindString:
		return item.StringValue(v.Str())
	case record.KindBinary:
		return item.BinaryValue([]byte(v.Str()))
	case record.KindTimestamp:
		return item.StringValue(v.Time().Format(time.RFC3339Nano))
	case record.KindDate:
		return item.StringValue(v.Text())
	case record.KindArray:
		arr := v.Array()
		out := make([]item.Value, len(arr))
		for i, e := range arr {
			out[i] = itemValue(e)
		}
		return item.ListValue(out)
	case record.KindStruct, record.KindMap:
		r := v.Struct()
		if r == nil {
			r = v.Map()
		}
		m := make(map[string]item.Value, r.Len())
		for _, f := range r.Fields() {
			m[f.Name] = itemValue(f.Value)
		}
		return item.MapValue(m)
	}
	return item.NullValue()
}

// appendBinItem appends the binary form of r's item to dst: the bytes
// itemOf(r).AppendBinary appends, with itemValue's conversions, written
// straight from the record (the table sink's rows, one per event) rather
// than through an item map and its values. Attributes are in name order,
// and of fields of one name (which [record.Record.Append] allows) the
// last is kept, as in itemOf's map; so for nested structs and maps.
func appendBinItem(dst []byte, r *record.Record) []byte {
	var buf [32]fieldKey
	ord := fieldOrder(r.Fields(), buf[:0])
	dst = item.AppendBinaryHeader(dst, len(ord))
	return appendBinFields(dst, r.Fields(), ord)
}

// binItemEncoder is appendBinItem for the rows of one sink, which have
// the same fields in the same order: it remembers the name order of the
// last record it encoded, so that a record of the same field names costs
// a comparison of names rather than a sort. It keeps those names (strings
// of a record it was given). Not safe for concurrent use.
type binItemEncoder struct {
	names []string   // the fields of the record ord is for
	ord   []fieldKey // their order (fieldOrder)
}

// appendItem is appendBinItem(dst, r).
func (e *binItemEncoder) appendItem(dst []byte, r *record.Record) []byte {
	fs := r.Fields()
	if !e.same(fs) {
		e.names = e.names[:0]
		for i := range fs {
			e.names = append(e.names, fs[i].Name)
		}
		e.ord = fieldOrder(fs, e.ord[:0])
	}
	dst = item.AppendBinaryHeader(dst, len(e.ord))
	return appendBinFields(dst, fs, e.ord)
}

// same reports whether fs has the names e.ord is for.
func (e *binItemEncoder) same(fs []record.Field) bool {
	if len(fs) != len(e.names) {
		return false
	}
	for i := range fs {
		if fs[i].Name != e.names[i] {
			return false
		}
	}
	return true
}

// appendBinFields appends the fields of fs that ord picks, in its order.
func appendBinFields(dst []byte, fs []record.Field, ord []fieldKey) []byte {
	for _, k := range ord {
		f := &fs[k.i]
		dst = item.AppendBinaryName(dst, f.Name)
		dst = appendBinValue(dst, f.Value)
	}
	return dst
}

// fieldKey is a field's place in the name order: its name's first eight
// bytes, big-endian and zero-padded (names whose prefixes differ compare
// as their prefixes do, so most comparisons are of two integers), and its
// index.
type fieldKey struct {
	prefix uint64
	i      int32
}

// fieldOrder appends to ord the fields an item keeps of fs, by name
// ascending: of fields of one name, the last.
func fieldOrder(fs []record.Field, ord []fieldKey) []fieldKey {
	for i := range fs {
		var b [8]byte
		copy(b[:], fs[i].Name)
		ord = append(ord, fieldKey{prefix: binary.BigEndian.Uint64(b[:]), i: int32(i)})
	}
	less := func(a, b fieldKey) bool {
		return a.prefix < b.prefix || (a.prefix == b.prefix && fs[a.i].Name < fs[b.i].Name)
	}
	if len(ord) > 64 {
		slices.SortStableFunc(ord, func(a, b fieldKey) int {
			if less(a, b) {
				return -1
			}
			if less(b, a) {
				return 1
			}
			return 0
		})
	} else {
		// Insertion: stable, so fields of one name stay in field order.
		for i := 1; i < len(ord); i++ {
			x := ord[i]
			j := i
			for ; j > 0 && less(x, ord[j-1]); j-- {
				ord[j] = ord[j-1]
			}
			ord[j] = x
		}
	}
	out := ord[:0]
	for i, x := range ord {
		if i+1 < len(ord) && ord[i+1].prefix == x.prefix && fs[ord[i+1].i].Name == fs[x.i].Name {
			continue // a later field of the name follows
		}
		out = append(out, x)
	}
	return out
}

// appendBinValue appends the binary form of itemValue(v).
func appendBinValue(dst []byte, v record.Value) []byte {
	var buf [48]byte // number and time texts
	switch v.Kind() {
	case record.KindBool:
		return item.AppendBinaryBOOL(dst, v.Bool())
	case record.KindInt, record.KindLong:
		out, _ := item.AppendBinaryN(dst, strconv.AppendInt(buf[:0], v.Long(), 10)) // at most 20 characters: a number
		return out
	case record.KindDouble:
		f := v.Double()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			break
		}
		if out, err := item.AppendBinaryN(dst, strconv.AppendFloat(buf[:0], f, 'g', -1, 64)); err == nil {
			return out
		}
	case record.KindDecimal:
		// unscaled × 10^-scale, which reads as the decimal's text does.
		text := buf[:0]
		if u, scale, ok := v.DecimalInt64(); ok {
			text = strconv.AppendInt(text, u, 10)
			if scale != 0 {
				text = strconv.AppendInt(append(text, 'e', '-'), int64(scale), 10)
			}
		} else {
			text = append(text, v.Text()...)
		}
		if out, err := item.AppendBinaryN(dst, text); err == nil {
			return out
		}
	case record.KindString:
		return item.AppendBinaryS(dst, v.Str())
	case record.KindBinary:
		return item.AppendBinaryB(dst, v.Str())
	case record.KindTimestamp:
		return item.AppendBinaryS(dst, string(record.AppendRFC3339Nano(buf[:0], v.UnixNano())))
	case record.KindDate:
		return item.AppendBinaryS(dst, string(v.Time().AppendFormat(buf[:0], time.DateOnly)))
	case record.KindArray:
		arr := v.Array()
		dst = item.AppendBinaryL(dst, len(arr))
		for _, e := range arr {
			dst = appendBinValue(dst, e)
		}
		return dst
	case record.KindStruct, record.KindMap:
		r := v.Struct()
		if r == nil {
			r = v.Map()
		}
		if r == nil {
			return item.AppendBinaryM(dst, 0)
		}
		var obuf [32]fieldKey
		ord := fieldOrder(r.Fields(), obuf[:0])
		return appendBinFields(item.AppendBinaryM(dst, len(ord)), r.Fields(), ord)
	}
	return item.AppendBinaryNULL(dst)
}

// recordOf converts an item to a record, attributes in name order.
func recordOf(it item.Item) *record.Record {
	r := record.New(len(it))
	for _, name := range sortedNames(it) {
		r.Append(name, valueOf(it[name]))
	}
	return r
}

// valueOf converts an item value to a record value: numbers become longs
// when integral and in range, else doubles keeping their text.
func valueOf(v item.Value) record.Value {
	switch v.Type() {
	case item.S:
		return record.StringValue(v.S())
	case item.N:
		n := v.N()
		if i, ok := n.Int64(); ok {
			return record.LongValue(i)
		}
		return record.NumberValue(n.Float64(), n.String())
	case item.B:
		return record.BinaryValue(v.B())
	case item.BOOL:
		return record.BoolValue(v.BOOL())
	case item.M:
		m := v.M()
		r := record.New(len(m))
		for _, name := range sortedNames(m) {
			r.Append(name, valueOf(m[name]))
		}
		return record.StructValue(r)
	case item.L, item.SS, item.NS, item.BS:
		var elems []item.Value
		if v.Type() == item.L {
			elems = v.L()
		} else {
			elems = v.Members()
		}
		out := make([]record.Value, len(elems))
		for i, e := range elems {
			out[i] = valueOf(e)
		}
		return record.ArrayValue(out)
	}
	return record.NullValue()
}

func sortedNames[V any](m map[string]V) []string {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] < names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
	return names
}
