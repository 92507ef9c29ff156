package item

import (
	"slices"
	"strconv"
	"strings"
)

// Value is one DynamoDB attribute value: a string, number, binary, boolean,
// null, list, map or string/number/binary set. The zero Value has type
// [Invalid] and stands for "no value" (a missing attribute); it is never
// stored in an [Item].
//
// Values are immutable once built: the slices and maps returned by the
// accessors belong to the Value and must not be modified, and the
// constructors take ownership of the slices and maps they are given.
// Values are therefore safe to share between items and goroutines.
//
// Set members are kept sorted (strings and binaries bytewise, numbers
// numerically) and free of duplicates, so equal sets have equal members in
// the same order and encode to the same bytes.
type Value struct {
	t Type
	b bool
	s string    // S text, B bytes, N canonical text
	x *compound // L, M and sets; nil for the other types
}

// compound holds the elements of a list, map or set value. Scalars, the
// values items mostly hold, keep Value at 32 bytes without it: an item is
// a map of Values, and its size is what decoding one allocates.
type compound struct {
	list []Value          // L elements; SS, NS, BS members
	m    map[string]Value // M
}

// elems returns the elements of an L value or the members of a set.
func (v Value) elems() []Value {
	if v.x == nil {
		return nil
	}
	return v.x.list
}

// fields returns the members of an M value.
func (v Value) fields() map[string]Value {
	if v.x == nil {
		return nil
	}
	return v.x.m
}

// StringValue returns the S value s.
func StringValue(s string) Value { return Value{t: S, s: s} }

// NumberValue returns the N value n.
func NumberValue(n Number) Value { return Value{t: N, s: n.String()} }

// IntValue returns the N value of i.
func IntValue(i int64) Value { return NumberValue(NumberFromInt(i)) }

// BinaryValue returns the B value holding a copy of b.
func BinaryValue(b []byte) Value { return Value{t: B, s: string(b)} }

// BoolValue returns the BOOL value b.
func BoolValue(b bool) Value { return Value{t: BOOL, b: b} }

// NullValue returns the NULL value.
func NullValue() Value { return Value{t: NULL, b: true} }

// ListValue returns the L value with elements vs; the Value owns vs.
func ListValue(vs []Value) Value {
	if vs == nil {
		vs = []Value{}
	}
	return Value{t: L, x: &compound{list: vs}}
}

// MapValue returns the M value with members m; the Value owns m.
func MapValue(m map[string]Value) Value {
	if m == nil {
		m = map[string]Value{}
	}
	return Value{t: M, x: &compound{m: m}}
}

// StringSetValue returns the SS value of ss. Like DynamoDB it refuses an
// empty set and duplicate members.
func StringSetValue(ss ...string) (Value, error) {
	members := make([]Value, len(ss))
	for i, s := range ss {
		members[i] = StringValue(s)
	}
	return SetValue(SS, members)
}

// NumberSetValue returns the NS value of ns; it refuses an empty set and
// duplicates (numbers equal in value, such as 1.5 and 1.50, are
// duplicates).
func NumberSetValue(ns ...Number) (Value, error) {
	members := make([]Value, len(ns))
	for i, n := range ns {
		members[i] = NumberValue(n)
	}
	return SetValue(NS, members)
}

// BinarySetValue returns the BS value of bs; it refuses an empty set and
// duplicates.
func BinarySetValue(bs ...[]byte) (Value, error) {
	members := make([]Value, len(bs))
	for i, b := range bs {
		members[i] = BinaryValue(b)
	}
	return SetValue(BS, members)
}

// SetValue returns the set of type t (SS, NS or BS) whose members are the
// S, N or B values in members; the Value owns members and sorts it. It
// refuses an empty set, members of the wrong type and duplicates, with a
// *[ValidationError] whose message follows DynamoDB's.
func SetValue(t Type, members []Value) (Value, error) {
	if !t.IsSet() {
		return Value{}, &ValidationError{Msg: t.String() + " is not a set type"}
	}
	if len(members) == 0 {
		return Value{}, &ValidationError{Msg: "One or more parameter values were invalid: An " + setName(t) + " set  may not be empty"}
	}
	et := t.Elem()
	for _, m := range members {
		if m.t != et {
			return Value{}, &ValidationError{Msg: t.String() + " member of type " + m.t.String()}
		}
	}
	sortMembers(t, members)
	for i := 1; i < len(members); i++ {
		if compareMembers(t, members[i-1], members[i]) == 0 {
			return Value{}, &ValidationError{Msg: "One or more parameter values were invalid: Input collection " + setText(members) + " contains duplicates."}
		}
	}
	return Value{t: t, x: &compound{list: members}}, nil
}

// setName is DynamoDB's word for a set type in messages.
func setName(t Type) string {
	switch t {
	case SS:
		return "string"
	case NS:
		return "number"
	}
	return "binary"
}

// setText renders set members as DynamoDB does in messages: [a, b].
func setText(members []Value) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, m := range members {
		if i > 0 {
			sb.WriteString(", ")
		}
		if m.t == B {
			sb.WriteString(strconv.Quote(m.s))
		} else {
			sb.WriteString(m.s)
		}
	}
	sb.WriteByte(']')
	return sb.String()
}

func sortMembers(t Type, members []Value) {
	if t == NS {
		slices.SortFunc(members, func(a, b Value) int { return Number{a.s}.Cmp(Number{b.s}) })
		return
	}
	slices.SortFunc(members, func(a, b Value) int { return strings.Compare(a.s, b.s) })
}

func compareMembers(t Type, a, b Value) int {
	if t == NS {
		return Number{a.s}.Cmp(Number{b.s})
	}
	return strings.Compare(a.s, b.s)
}

// Type returns the type of v; [Invalid] for the zero Value.
func (v Value) Type() Type { return v.t }

// IsValid reports whether v holds a value (is not the zero Value).
func (v Value) IsValid() bool { return v.t != Invalid }

// S returns the string of an S value, and "" for any other type.
func (v Value) S() string {
	if v.t != S {
		return ""
	}
	return v.s
}

// N returns the number of an N value, and 0 for any other type.
func (v Value) N() Number {
	if v.t != N {
		return Number{}
	}
	return Number{v.s}
}

// B returns a copy of the bytes of a B value, and nil for any other type.
func (v Value) B() []byte {
	if v.t != B {
		return nil
	}
	return []byte(v.s)
}

// BOOL returns the boolean of a BOOL value, and false for any other type.
func (v Value) BOOL() bool { return v.t == BOOL && v.b }

// L returns the elements of an L value, and nil for any other type. The
// slice belongs to v: do not modify it.
func (v Value) L() []Value {
	if v.t != L {
		return nil
	}
	return v.elems()
}

// M returns the members of an M value, and nil for any other type. The map
// belongs to v: do not modify it.
func (v Value) M() map[string]Value {
	if v.t != M {
		return nil
	}
	return v.fields()
}

// Members returns the members of a set value (S values for SS, N for NS, B
// for BS) in sorted order, and nil for any other type. The slice belongs to
// v: do not modify it.
func (v Value) Members() []Value {
	if !v.t.IsSet() {
		return nil
	}
	return v.elems()
}

// SS returns the strings of an SS value in sorted order, and nil for any
// other type.
func (v Value) SS() []string {
	if v.t != SS {
		return nil
	}
	out := make([]string, len(v.elems()))
	for i, m := range v.elems() {
		out[i] = m.s
	}
	return out
}

// NS returns the numbers of an NS value in ascending order, and nil for any
// other type.
func (v Value) NS() []Number {
	if v.t != NS {
		return nil
	}
	out := make([]Number, len(v.elems()))
	for i, m := range v.elems() {
		out[i] = Number{m.s}
	}
	return out
}

// BS returns copies of the binaries of a BS value in sorted order, and nil
// for any other type.
func (v Value) BS() [][]byte {
	if v.t != BS {
		return nil
	}
	out := make([][]byte, len(v.elems()))
	for i, m := range v.elems() {
		out[i] = []byte(m.s)
	}
	return out
}

// Len returns the length that DynamoDB's size() function gives v: the bytes
// of an S (UTF-8) or B value, the elements of an L, M or set value. It
// returns false for N, BOOL, NULL and the zero Value, whose size is
// undefined.
func (v Value) Len() (int, bool) {
	switch v.t {
	case S, B:
		return len(v.s), true
	case L, SS, NS, BS:
		return len(v.elems()), true
	case M:
		return len(v.fields()), true
	}
	return 0, false
}

// Equal reports whether v and w are the same value: same type and equal
// contents, comparing numbers by value, sets as sets and maps as maps. Two
// zero Values are not equal to anything, not even to each other, as a
// missing attribute equals nothing in DynamoDB.
func Equal(v, w Value) bool {
	if v.t != w.t || v.t == Invalid {
		return false
	}
	switch v.t {
	case S, N, B:
		return v.s == w.s
	case BOOL:
		return v.b == w.b
	case NULL:
		return true
	case L, SS, NS, BS:
		if len(v.elems()) != len(w.elems()) {
			return false
		}
		for i := range v.elems() {
			if !Equal(v.elems()[i], w.elems()[i]) {
				return false
			}
		}
		return true
	case M:
		if len(v.fields()) != len(w.fields()) {
			return false
		}
		for k, a := range v.fields() {
			b, ok := w.fields()[k]
			if !ok || !Equal(a, b) {
				return false
			}
		}
		return true
	}
	return false
}

// Compare orders v and w for the comparison operators < <= > >= and
// BETWEEN: strings and binaries bytewise (unsigned), numbers numerically.
// It returns false when the two cannot be ordered: different types, or a
// type other than S, N and B.
func Compare(v, w Value) (int, bool) {
	if v.t != w.t {
		return 0, false
	}
	switch v.t {
	case S, B:
		return strings.Compare(v.s, w.s), true
	case N:
		return Number{v.s}.Cmp(Number{w.s}), true
	}
	return 0, false
}

// HasPrefix reports whether v begins with prefix, as begins_with does: both
// S or both B.
func HasPrefix(v, prefix Value) bool {
	if v.t != prefix.t || (v.t != S && v.t != B) {
		return false
	}
	return strings.HasPrefix(v.s, prefix.s)
}

// Contains reports whether v contains w, as the contains function does: a
// substring of an S, a byte sequence in a B, a member of a set (of w's
// type), or an element of a list equal to w.
func Contains(v, w Value) bool {
	switch v.t {
	case S, B:
		return w.t == v.t && strings.Contains(v.s, w.s)
	case SS, NS, BS:
		if w.t != v.t.Elem() {
			return false
		}
		_, found := slices.BinarySearchFunc(v.elems(), w, func(a, b Value) int { return compareMembers(v.t, a, b) })
		return found
	case L:
		for _, e := range v.elems() {
			if Equal(e, w) {
				return true
			}
		}
	}
	return false
}

// SetUnion returns the set of the members of v and w, which must be sets of
// the same type; it reports false otherwise.
func SetUnion(v, w Value) (Value, bool) {
	if v.t != w.t || !v.t.IsSet() {
		return Value{}, false
	}
	out := make([]Value, 0, len(v.elems())+len(w.elems()))
	i, j := 0, 0
	for i < len(v.elems()) && j < len(w.elems()) {
		switch c := compareMembers(v.t, v.elems()[i], w.elems()[j]); {
		case c < 0:
			out = append(out, v.elems()[i])
			i++
		case c > 0:
			out = append(out, w.elems()[j])
			j++
		default:
			out = append(out, v.elems()[i])
			i++
			j++
		}
	}
	out = append(out, v.elems()[i:]...)
	out = append(out, w.elems()[j:]...)
	return Value{t: v.t, x: &compound{list: out}}, true
}

// SetDifference returns the members of v that are not in w, which must be
// sets of the same type; it reports false otherwise. The result is the
// zero Value when no member is left, since DynamoDB has no empty sets.
func SetDifference(v, w Value) (Value, bool) {
	if v.t != w.t || !v.t.IsSet() {
		return Value{}, false
	}
	out := make([]Value, 0, len(v.elems()))
	j := 0
	for _, m := range v.elems() {
		for j < len(w.elems()) && compareMembers(v.t, w.elems()[j], m) < 0 {
			j++
		}
		if j < len(w.elems()) && compareMembers(v.t, w.elems()[j], m) == 0 {
			continue
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return Value{}, true
	}
	return Value{t: v.t, x: &compound{list: out}}, true
}

// String returns a compact, human-readable rendering of v in DynamoDB's
// attribute-value JSON, for messages and debugging.
func (v Value) String() string {
	if v.t == Invalid {
		return "<invalid>"
	}
	return string(v.AppendJSON(nil))
}
