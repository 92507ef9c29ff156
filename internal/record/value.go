package record

import (
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Value is one typed value of a [Record]: a kind tag with a scalar payload,
// or a reference to a nested struct, array or map. The zero Value is null.
//
// A Value is small (40 bytes) and is passed by value. Scalar values are
// immutable. A nested value refers to a [Record]; when that record came from
// a decoder's reusable storage it is valid until the owner's next
// [Record.Reset] (see [Record.Alloc]).
//
// Payloads by kind:
//   - bool, int, long, timestamp (Unix nanoseconds, UTC), date (days since
//     1970-01-01): an integer;
//   - double: a float64, and the number's source text when a text decoder
//     produced it ([Value.NumberText]);
//   - decimal: the unscaled integer and the scale; an unscaled integer beyond
//     int64 is kept as exact decimal text;
//   - string and binary: an immutable string (binary bytes are stored as a
//     string so that values can share a decoder's single copy of its input).
type Value struct {
	kind  Kind
	scale int8 // decimal scale
	num   uint64
	str   string
	ref   *Record
}

// NullValue returns the null value, which is also the zero Value.
func NullValue() Value { return Value{} }

// BoolValue returns a boolean value.
func BoolValue(b bool) Value {
	v := Value{kind: KindBool}
	if b {
		v.num = 1
	}
	return v
}

// IntValue returns a 32-bit integer value (type int).
func IntValue(n int32) Value { return Value{kind: KindInt, num: uint64(int64(n))} }

// LongValue returns a 64-bit integer value (type long).
func LongValue(n int64) Value { return Value{kind: KindLong, num: uint64(n)} }

// DoubleValue returns a double value.
func DoubleValue(f float64) Value { return Value{kind: KindDouble, num: math.Float64bits(f)} }

// NumberValue returns a double value that keeps text, the number's exact
// source spelling, as decoders do so that a later cast to decimal or an
// encoder sees the digits that were sent. text must be a valid number.
func NumberValue(f float64, text string) Value {
	return Value{kind: KindDouble, num: math.Float64bits(f), str: text}
}

// StringValue returns a string value.
func StringValue(s string) Value { return Value{kind: KindString, str: s} }

// BinaryValue returns a binary value holding a copy of b.
func BinaryValue(b []byte) Value { return Value{kind: KindBinary, str: string(b)} }

// BinaryString returns a binary value whose bytes are those of s, without a copy.
func BinaryString(s string) Value { return Value{kind: KindBinary, str: s} }

// TimestampValue returns a timestamp value for t (kept in UTC, nanosecond
// precision; instants outside the years 1678 to 2261 saturate).
func TimestampValue(t time.Time) Value {
	return Value{kind: KindTimestamp, num: uint64(t.UnixNano())}
}

// TimestampNanos returns a timestamp value of n nanoseconds since the Unix epoch.
func TimestampNanos(n int64) Value { return Value{kind: KindTimestamp, num: uint64(n)} }

// DateValue returns a date value of days since 1970-01-01.
func DateValue(days int64) Value { return Value{kind: KindDate, num: uint64(days)} }

// DateOf returns the date value of t's calendar date in t's location.
func DateOf(t time.Time) Value {
	y, m, d := t.Date()
	return DateValue(daysFromCivil(int64(y), int64(m), int64(d)))
}

// DecimalValue returns the exact decimal unscaled × 10^-scale. scale must be
// in 0..38.
func DecimalValue(unscaled int64, scale int) Value {
	return Value{kind: KindDecimal, scale: int8(scale), num: uint64(unscaled)}
}

// DecimalBig returns the exact decimal unscaled × 10^-scale for an unscaled
// integer of any size.
func DecimalBig(unscaled *big.Int, scale int) Value {
	if unscaled.IsInt64() {
		return DecimalValue(unscaled.Int64(), scale)
	}
	return Value{kind: KindDecimal, scale: int8(scale), str: unscaled.String()}
}

// StructValue returns a struct value whose fields are those of r. The value
// refers to r; it does not copy it.
func StructValue(r *Record) Value { return Value{kind: KindStruct, ref: r} }

// MapValue returns a map value whose entries are the fields of r, each field
// name being the entry's key in text form. The value refers to r.
func MapValue(r *Record) Value { return Value{kind: KindMap, ref: r} }

// ArrayValue returns an array value of elems. It keeps elems (no copy).
func ArrayValue(elems []Value) Value {
	return Value{kind: KindArray, ref: &Record{items: elems}}
}

// Kind returns the kind of v.
func (v Value) Kind() Kind { return v.kind }

// IsNull reports whether v is null.
func (v Value) IsNull() bool { return v.kind == KindNull }

// Bool returns the payload of a boolean value, and false for other kinds.
func (v Value) Bool() bool { return v.kind == KindBool && v.num != 0 }

// Long returns the payload of an int, long, timestamp (nanoseconds) or date
// (days) value, and 0 for other kinds.
func (v Value) Long() int64 {
	switch v.kind {
	case KindInt, KindLong, KindTimestamp, KindDate:
		return int64(v.num)
	}
	return 0
}

// fixedKinds are the kinds whose values are their kind and 64 bits alone
// ([Kind.FixedWidth]).
const fixedKinds = 1<<KindBool | 1<<KindInt | 1<<KindLong | 1<<KindDouble | 1<<KindTimestamp | 1<<KindDate

// FixedWidth reports whether a value of kind k is its kind and 64 bits
// alone (bool, int, long, double, timestamp, date): what [Value.Bits]
// gives and [FromBits] takes.
func (k Kind) FixedWidth() bool { return fixedKinds&(1<<k) != 0 }

// Bits returns the 64 bits of a bool (0 or 1), int, long, double (its
// IEEE 754 bits), timestamp (Unix nanoseconds) or date (days) value: with
// its kind, all there is of it but a number's source text ([NumberValue]),
// for state kept as words (FromBits gives the value back). It returns 0
// for other kinds.
func (v Value) Bits() uint64 {
	if !v.kind.FixedWidth() {
		return 0
	}
	return v.num
}

// FromBits returns the value of kind k with bits b, as [Value.Bits]
// returned them, for a fixed-width kind (bool, int, long, double,
// timestamp, date); null for any other kind.
func FromBits(k Kind, b uint64) Value {
	switch {
	case !k.FixedWidth():
		return Value{}
	case k == KindBool && b > 1:
		b = 1
	case k == KindInt:
		b = uint64(int64(int32(b))) // an int's bits are those of an int32
	}
	return Value{kind: k, num: b}
}

// Double returns the payload of a double value, and 0 for other kinds.
func (v Value) Double() float64 {
	if v.kind == KindDouble {
		return math.Float64frombits(v.num)
	}
	return 0
}

// Str returns the text of a string value, the bytes of a binary value as a
// string, and "" for other kinds. Use [Value.String] for a display form.
func (v Value) Str() string {
	if v.kind == KindString || v.kind == KindBinary {
		return v.str
	}
	return ""
}

// Bytes returns a copy of the bytes of a binary or string value, and nil for
// other kinds.
func (v Value) Bytes() []byte {
	if v.kind == KindString || v.kind == KindBinary {
		return []byte(v.str)
	}
	return nil
}

// NumberText returns the source text of a number decoded from text (JSON or
// CSV), or "" if the value was not decoded from text or is not a number.
func (v Value) NumberText() string {
	if v.kind == KindDouble || v.kind == KindLong || v.kind == KindInt {
		return v.str
	}
	return ""
}

// UnixNano returns the nanoseconds since the Unix epoch of a timestamp value.
func (v Value) UnixNano() int64 {
	if v.kind == KindTimestamp {
		return int64(v.num)
	}
	return 0
}

// Time returns a timestamp value as a UTC time, a date value as midnight UTC
// of that date, and the zero time for other kinds.
func (v Value) Time() time.Time {
	switch v.kind {
	case KindTimestamp:
		return time.Unix(0, int64(v.num)).UTC()
	case KindDate:
		return time.Unix(int64(v.num)*86400, 0).UTC()
	}
	return time.Time{}
}

// Days returns the days since 1970-01-01 of a date value.
func (v Value) Days() int64 {
	if v.kind == KindDate {
		return int64(v.num)
	}
	return 0
}

// Scale returns the scale of a decimal value.
func (v Value) Scale() int { return int(v.scale) }

// DecimalInt64 returns the unscaled integer and scale of a decimal value
// whose unscaled integer fits an int64; ok is false otherwise.
func (v Value) DecimalInt64() (unscaled int64, scale int, ok bool) {
	if v.kind != KindDecimal || v.str != "" {
		return 0, 0, false
	}
	return int64(v.num), int(v.scale), true
}

// Decimal returns the unscaled integer and scale of a decimal value, or
// (nil, 0) for other kinds.
func (v Value) Decimal() (unscaled *big.Int, scale int) {
	if v.kind != KindDecimal {
		return nil, 0
	}
	if v.str == "" {
		return big.NewInt(int64(v.num)), int(v.scale)
	}
	n, _ := new(big.Int).SetString(v.str, 10)
	return n, int(v.scale)
}

// Struct returns the fields of a struct value, or nil.
func (v Value) Struct() *Record {
	if v.kind == KindStruct {
		return v.ref
	}
	return nil
}

// Map returns the entries of a map value as the fields of a record, or nil.
func (v Value) Map() *Record {
	if v.kind == KindMap {
		return v.ref
	}
	return nil
}

// Array returns the elements of an array value, or nil. The slice is the
// value's own storage: do not modify it unless you own the value.
func (v Value) Array() []Value {
	if v.kind == KindArray && v.ref != nil {
		return v.ref.items
	}
	return nil
}

// AsDouble converts a numeric value (int, long, double, decimal) to float64;
// ok is false for other kinds.
func (v Value) AsDouble() (f float64, ok bool) {
	switch v.kind {
	case KindInt, KindLong:
		return float64(int64(v.num)), true
	case KindDouble:
		return math.Float64frombits(v.num), true
	case KindDecimal:
		if v.str == "" {
			return float64(int64(v.num)) / math.Pow10(int(v.scale)), true
		}
		f, _ := strconv.ParseFloat(v.str+"e-"+itoa(int64(v.scale)), 64)
		return f, true
	}
	return 0, false
}

// AsLong converts an int, long, or integral double or decimal value to
// int64; ok is false for other kinds and for values that are not whole
// numbers or do not fit.
func (v Value) AsLong() (n int64, ok bool) {
	switch v.kind {
	case KindInt, KindLong:
		return int64(v.num), true
	case KindDouble:
		f := math.Float64frombits(v.num)
		if f == math.Trunc(f) && f >= -(1<<63) && f < 1<<63 {
			return int64(f), true
		}
	case KindDecimal:
		if v.str != "" {
			return 0, false
		}
		u := int64(v.num)
		for range int(v.scale) {
			if u%10 != 0 {
				return 0, false
			}
			u /= 10
		}
		return u, true
	}
	return 0, false
}

// Equal reports whether v and w are the same value: same kind and payload,
// nested values compared field by field in order. The source text kept by
// [NumberValue] is ignored. Two NaN doubles are equal.
func (v Value) Equal(w Value) bool {
	if v.kind != w.kind {
		return false
	}
	switch v.kind {
	case KindNull:
		return true
	case KindString, KindBinary:
		return v.str == w.str
	case KindDouble:
		a, b := math.Float64frombits(v.num), math.Float64frombits(w.num)
		return a == b || (a != a && b != b)
	case KindDecimal:
		return v.scale == w.scale && v.num == w.num && v.str == w.str
	case KindStruct, KindMap:
		return v.ref.Equal(w.ref)
	case KindArray:
		a, b := v.Array(), w.Array()
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !a[i].Equal(b[i]) {
				return false
			}
		}
		return true
	default:
		return v.num == w.num
	}
}

// String returns a display form of v: JSON text for nested values, strings
// quoted, timestamps in RFC 3339, binary in base64.
func (v Value) String() string {
	switch v.kind {
	case KindString:
		return strconv.Quote(v.str)
	case KindBinary:
		return base64.StdEncoding.EncodeToString([]byte(v.str))
	}
	return string(v.appendText(nil))
}

// appendText appends the text form of a scalar (strings unquoted) or the JSON
// form of a nested value.
func (v Value) appendText(dst []byte) []byte {
	switch v.kind {
	case KindNull:
		return append(dst, "null"...)
	case KindBool:
		return strconv.AppendBool(dst, v.num != 0)
	case KindInt, KindLong:
		return strconv.AppendInt(dst, int64(v.num), 10)
	case KindDouble:
		if v.str != "" {
			return append(dst, v.str...)
		}
		return appendFloat(dst, math.Float64frombits(v.num))
	case KindDecimal:
		return v.appendDecimal(dst)
	case KindString:
		return append(dst, v.str...)
	case KindBinary:
		return base64.StdEncoding.AppendEncode(dst, []byte(v.str))
	case KindTimestamp:
		return AppendRFC3339Nano(dst, int64(v.num))
	case KindDate:
		return time.Unix(int64(v.num)*86400, 0).UTC().AppendFormat(dst, time.DateOnly)
	default:
		return appendJSONValue(dst, v, &JSONEncodeOptions{})
	}
}

// Text returns the text form of a scalar value as a text encoder (CSV)
// writes it: strings as they are, numbers in their shortest exact form (or
// their source text), timestamps in RFC 3339, dates as yyyy-MM-dd, binary in
// base64, null as "". Nested values are given as JSON.
func (v Value) Text() string {
	switch v.kind {
	case KindNull:
		return ""
	case KindString:
		return v.str
	}
	return string(v.appendText(nil))
}

func appendFloat(dst []byte, f float64) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NaN"...)
	case math.IsInf(f, 1):
		return append(dst, "Infinity"...)
	case math.IsInf(f, -1):
		return append(dst, "-Infinity"...)
	}
	return strconv.AppendFloat(dst, f, 'g', -1, 64)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
