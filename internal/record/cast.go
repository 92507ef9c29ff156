package record

import (
	"encoding/base64"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Cast converts v to type t, as typed decoding, ApplyMapping and
// ResolveChoice casts do. Null stays null. Conversions:
//
//   - to string: the text of any scalar ([Value.Text]); a nested value as JSON;
//   - to boolean: true/false, t/f, yes/no, 1/0 (text, any case) and 0/1;
//   - to int, long: integers in range, integral doubles and decimals, and
//     integer text;
//   - to double: any number, and number text;
//   - to decimal(p,s): integers, decimals and number text exactly (a double
//     decoded from text uses that text), rescaled to s without losing
//     digits, at most p digits;
//   - to timestamp or date: timestamps, dates, text in the type's format, and
//     numbers when the format is numeric (unix_seconds and the like);
//   - to binary: base64 text;
//   - to struct, array and map: field by field, element by element; fields
//     the struct type does not name are kept after the named ones;
//   - to choice<…>: the value unchanged if an alternative has its kind, else
//     the first alternative that the value casts to.
//
// A conversion that would lose information is an error. Nested results are
// new records; Cast does not modify v.
func Cast(v Value, t *Type) (Value, error) { return castIn(v, t, nil) }

func castErr(v Value, t *Type, why string) error {
	text := v.String()
	if len(text) > 64 {
		text = text[:64] + "…"
	}
	if why != "" {
		why = ": " + why
	}
	return fmt.Errorf("record: cannot cast %s %s to %s%s", v.kind, text, t, why)
}

// castIn is Cast with nested records allocated from owner (or new ones when
// owner is nil).
func castIn(v Value, t *Type, owner *Record) (Value, error) {
	if v.kind == KindNull {
		return v, nil
	}
	switch t.Kind {
	case KindNull:
		return Value{}, castErr(v, t, "")
	case KindString:
		switch v.kind {
		case KindString:
			return v, nil
		case KindStruct, KindArray, KindMap:
			return StringValue(string(appendJSONValue(nil, v, &JSONEncodeOptions{}))), nil
		}
		return StringValue(v.Text()), nil
	case KindBool:
		switch v.kind {
		case KindBool:
			return v, nil
		case KindInt, KindLong:
			if v.num <= 1 {
				return BoolValue(v.num == 1), nil
			}
		case KindString:
			switch strings.ToLower(strings.TrimSpace(v.str)) {
			case "true", "t", "yes", "y", "1":
				return BoolValue(true), nil
			case "false", "f", "no", "n", "0":
				return BoolValue(false), nil
			}
		}
	case KindInt:
		if v.kind == KindString {
			n, err := strconv.ParseInt(strings.TrimSpace(v.str), 10, 32)
			if err != nil {
				return Value{}, castErr(v, t, "not an int")
			}
			return Value{kind: KindInt, num: uint64(n), str: v.str}, nil
		}
		if n, ok := v.AsLong(); ok && v.kind.IsNumeric() {
			if n < math.MinInt32 || n > math.MaxInt32 {
				return Value{}, castErr(v, t, "out of range")
			}
			return Value{kind: KindInt, num: uint64(n), str: v.NumberText()}, nil
		}
	case KindLong:
		switch v.kind {
		case KindLong:
			return v, nil
		case KindInt:
			v.kind = KindLong
			return v, nil
		case KindString:
			n, err := strconv.ParseInt(strings.TrimSpace(v.str), 10, 64)
			if err != nil {
				return Value{}, castErr(v, t, "not a long")
			}
			return Value{kind: KindLong, num: uint64(n), str: v.str}, nil
		case KindDouble:
			if v.str != "" {
				if n, err := strconv.ParseInt(v.str, 10, 64); err == nil {
					return LongValue(n), nil
				}
			}
		}
		if n, ok := v.AsLong(); ok && v.kind.IsNumeric() {
			return LongValue(n), nil
		}
	case KindDouble:
		switch v.kind {
		case KindDouble:
			return v, nil
		case KindString:
			f, err := strconv.ParseFloat(strings.TrimSpace(v.str), 64)
			if err != nil {
				return Value{}, castErr(v, t, "not a number")
			}
			return NumberValue(f, v.str), nil
		}
		if f, ok := v.AsDouble(); ok {
			return Value{kind: KindDouble, num: math.Float64bits(f), str: v.NumberText()}, nil
		}
	case KindDecimal:
		var d Value
		var err error
		switch v.kind {
		case KindDecimal:
			d = v
		case KindInt, KindLong:
			d = DecimalValue(int64(v.num), 0)
		case KindDouble:
			text := v.str
			if text == "" {
				f := math.Float64frombits(v.num)
				if math.IsNaN(f) || math.IsInf(f, 0) {
					return Value{}, castErr(v, t, "not finite")
				}
				text = strconv.FormatFloat(f, 'f', -1, 64)
			}
			d, err = ParseDecimal(text)
		case KindString:
			d, err = ParseDecimal(strings.TrimSpace(v.str))
		default:
			return Value{}, castErr(v, t, "")
		}
		if err != nil {
			return Value{}, castErr(v, t, err.Error())
		}
		return fitDecimal(d, t, v)
	case KindTimestamp, KindDate:
		return castTime(v, t)
	case KindBinary:
		switch v.kind {
		case KindBinary:
			return v, nil
		case KindString:
			b, err := base64.StdEncoding.DecodeString(v.str)
			if err != nil {
				b, err = base64.RawStdEncoding.DecodeString(v.str)
			}
			if err != nil {
				return Value{}, castErr(v, t, "not base64")
			}
			return BinaryValue(b), nil
		}
	case KindStruct:
		if v.kind != KindStruct && v.kind != KindMap {
			break
		}
		return castStruct(v.ref, t, owner)
	case KindArray:
		if v.kind != KindArray {
			break
		}
		src := v.Array()
		var dst *Record
		if owner != nil {
			dst = owner.AllocArray(len(src))
		} else {
			dst = &Record{items: make([]Value, 0, len(src))}
		}
		for i, e := range src {
			c, err := castIn(e, t.Elem, owner)
			if err != nil {
				return Value{}, fmt.Errorf("[%d]: %w", i, err)
			}
			dst.items = append(dst.items, c)
		}
		return Value{kind: KindArray, ref: dst}, nil
	case KindMap:
		if v.kind != KindMap && v.kind != KindStruct {
			break
		}
		dst := newRecordIn(owner, v.ref.Len())
		for _, f := range v.ref.fields {
			if _, err := castIn(StringValue(f.Name), t.Key, nil); err != nil {
				return Value{}, fmt.Errorf("key %q: %w", f.Name, err)
			}
			c, err := castIn(f.Value, t.Elem, owner)
			if err != nil {
				return Value{}, fmt.Errorf("[%q]: %w", f.Name, err)
			}
			dst.fields = append(dst.fields, Field{Name: f.Name, Value: c})
		}
		return Value{kind: KindMap, ref: dst}, nil
	case KindChoice:
		for _, c := range t.Choices {
			if c.Kind == v.kind || (c.Kind == KindLong && v.kind == KindInt) {
				if out, err := castIn(v, c, owner); err == nil {
					return out, nil
				}
			}
		}
		for _, c := range t.Choices {
			if out, err := castIn(v, c, owner); err == nil {
				return out, nil
			}
		}
		return Value{}, castErr(v, t, "no alternative fits")
	}
	return Value{}, castErr(v, t, "")
}

func newRecordIn(owner *Record, n int) *Record {
	if owner != nil {
		r := owner.Alloc()
		if cap(r.fields) < n {
			r.fields = make([]Field, 0, n)
		}
		return r
	}
	return &Record{fields: make([]Field, 0, n)}
}

func castStruct(src *Record, t *Type, owner *Record) (Value, error) {
	dst := newRecordIn(owner, max(len(t.Fields), src.Len()))
	for i := range t.Fields {
		f := &t.Fields[i]
		v, ok := src.Get(f.Name)
		if !ok {
			continue
		}
		c, err := castIn(v, f.Type, owner)
		if err != nil {
			return Value{}, fmt.Errorf("%s: %w", f.Name, err)
		}
		dst.fields = append(dst.fields, Field{Name: f.Name, Value: c})
	}
	for _, f := range src.fields {
		if t.Field(f.Name) == nil {
			dst.fields = append(dst.fields, f)
		}
	}
	return Value{kind: KindStruct, ref: dst}, nil
}

// fitDecimal rescales d to t's scale and checks t's precision; errors name
// orig, the value being cast.
func fitDecimal(d Value, t *Type, orig Value) (Value, error) {
	r, ok := d.rescale(t.Scale)
	if !ok {
		return Value{}, castErr(orig, t, fmt.Sprintf("more than %d fraction digits", t.Scale))
	}
	if p, _ := r.decimalDigits(); p > t.Precision && !(p == 1 && r.num == 0 && r.str == "") {
		return Value{}, castErr(orig, t, fmt.Sprintf("more than %d digits", t.Precision))
	}
	return r, nil
}

func castTime(v Value, t *Type) (Value, error) {
	var nanos int64
	switch v.kind {
	case KindTimestamp:
		nanos = int64(v.num)
	case KindDate:
		nanos = int64(v.num) * 86400e9
	case KindString:
		n, err := t.Format.Parse(v.str)
		if err != nil {
			return Value{}, err
		}
		nanos = n
	case KindInt, KindLong, KindDouble, KindDecimal:
		if !t.Format.IsNumeric() {
			return Value{}, castErr(v, t, "a number needs a unix_* format")
		}
		var err error
		if v.kind == KindInt || v.kind == KindLong {
			nanos, err = t.Format.FromNumber(int64(v.num))
		} else {
			nanos, err = t.Format.parseUnixText(v.Text())
		}
		if err != nil {
			return Value{}, err
		}
	default:
		return Value{}, castErr(v, t, "")
	}
	if t.Kind == KindDate {
		return DateValue(floorDiv(nanos, 86400e9)), nil
	}
	return TimestampNanos(nanos), nil
}
