package etl

import (
	"math"
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
