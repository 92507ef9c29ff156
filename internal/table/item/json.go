package item

import (
	"encoding/base64"
	"slices"
	"strconv"

	"github.com/pricestream/pricestream/internal/jsonstr"
)

// Limits on items and attribute names.
const (
	// MaxDepth is how deeply documents nest: a value at the end of a path of
	// MaxDepth elements may exist, one below it may not (DynamoDB:
	// "nested attributes up to 32 levels deep").
	MaxDepth = 32
	// MaxNameLen is the longest attribute name, in bytes.
	MaxNameLen = 65535
)

// The DynamoDB attribute-value JSON form ({"S": "x"}, {"N": "1"},
// {"M": {...}}, ...) is what the DynamoDB API and DynamoDB Streams speak.
// Decoding is strict: exactly one data type per value, numbers as strings
// and valid, sets non-empty and without duplicates, binaries in base64,
// nesting at most [MaxDepth] levels. Errors are a *ValidationError naming
// the path of the bad value, or a *SyntaxError for malformed JSON.

// ParseItem decodes an item in attribute-value JSON: an object of
// attribute names to values. root names the parameter in error paths
// ("Item", "Key"; "" for none), so a bad number reads
// `Item.price: N "12x" is not a number`.
func ParseItem(data []byte, root string) (Item, error) {
	s := scanner{data: data}
	it, err := s.avItem()
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, inRoot(err, root)
	}
	return it, nil
}

// ParseValue decodes one attribute value in attribute-value JSON, such as
// {"S": "x"}. root names it in error paths.
func ParseValue(data []byte, root string) (Value, error) {
	s := scanner{data: data}
	v, err := s.avValue(1)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return Value{}, inRoot(err, root)
	}
	return v, nil
}

// UnmarshalJSON decodes attribute-value JSON into *it, replacing its
// contents; errors have paths relative to the item.
func (it *Item) UnmarshalJSON(data []byte) error {
	v, err := ParseItem(data, "")
	if err != nil {
		return err
	}
	*it = v
	return nil
}

// MarshalJSON encodes it in attribute-value JSON.
func (it Item) MarshalJSON() ([]byte, error) { return it.AppendJSON(nil), nil }

// UnmarshalJSON decodes one attribute value in attribute-value JSON.
func (v *Value) UnmarshalJSON(data []byte) error {
	x, err := ParseValue(data, "")
	if err != nil {
		return err
	}
	*v = x
	return nil
}

// MarshalJSON encodes v in attribute-value JSON. The zero Value encodes as
// {"NULL":true}, since JSON has no better stand-in; it never occurs in
// items.
func (v Value) MarshalJSON() ([]byte, error) { return v.AppendJSON(nil), nil }

// errDup is the error of a name given twice in one object.
func errDup(name string) error {
	return &ValidationError{Path: name, Msg: "duplicate attribute name"}
}

// avItem reads an object of attribute name to attribute value.
func (s *scanner) avItem() (Item, error) {
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	it := Item{}
	if s.peek() == '}' {
		s.pos++
		return it, nil
	}
	for {
		name, err := s.str()
		if err != nil {
			return nil, err
		}
		if err := checkName(name); err != nil {
			return nil, inName(err, name)
		}
		if _, dup := it[name]; dup {
			return nil, errDup(name)
		}
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		v, err := s.avValue(1)
		if err != nil {
			return nil, inName(err, name)
		}
		it[name] = v
		more, err := s.more('}')
		if err != nil {
			return nil, err
		}
		if !more {
			return it, nil
		}
	}
}

// checkName checks a top-level attribute name.
func checkName(name string) error {
	switch {
	case name == "":
		return &ValidationError{Msg: "Empty attribute name"}
	case len(name) > MaxNameLen:
		return &ValidationError{Msg: "Attribute name is too large, must be less than 65536 bytes"}
	}
	return nil
}

var (
	msgEmptyAV    = "Supplied AttributeValue is empty, must contain exactly one of the supported datatypes"
	msgTwoTypesAV = "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported datatypes"
	msgNesting    = "Nesting Levels have exceeded supported limits"
)

// avValue reads one attribute value at nesting depth depth.
func (s *scanner) avValue(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, &ValidationError{Msg: msgNesting}
	}
	if err := s.expect('{'); err != nil {
		return Value{}, err
	}
	var v Value
	if s.peek() == '}' {
		s.pos++
		return v, &ValidationError{Msg: msgEmptyAV}
	}
	for {
		key, err := s.str()
		if err != nil {
			return Value{}, err
		}
		if err := s.expect(':'); err != nil {
			return Value{}, err
		}
		if !s.literal("null") { // a null member counts as absent, as in AWS's JSON protocol
			if v.t != Invalid {
				return Value{}, &ValidationError{Msg: msgTwoTypesAV}
			}
			if v, err = s.avTyped(key, depth); err != nil {
				return Value{}, err
			}
		}
		more, err := s.more('}')
		if err != nil {
			return Value{}, err
		}
		if !more {
			break
		}
	}
	if v.t == Invalid {
		return v, &ValidationError{Msg: msgEmptyAV}
	}
	return v, nil
}

// avTyped reads the member of an attribute value of data type key.
func (s *scanner) avTyped(key string, depth int) (Value, error) {
	bad := func(msg string) (Value, error) { return Value{}, &ValidationError{Msg: msg} }
	switch key {
	case "S":
		str, err := s.str()
		if err != nil {
			return Value{}, err
		}
		return Value{t: S, s: str}, nil
	case "N":
		if s.peek() != '"' {
			return bad("N must be a JSON string holding the number")
		}
		str, err := s.str()
		if err != nil {
			return Value{}, err
		}
		n, err := ParseNumber(str)
		if err != nil {
			return Value{}, err
		}
		return Value{t: N, s: n.s}, nil
	case "B":
		str, err := s.str()
		if err != nil {
			return Value{}, err
		}
		b, err := decodeBase64(str)
		if err != nil {
			return bad("B is not valid base64")
		}
		return Value{t: B, s: b}, nil
	case "BOOL":
		b, err := s.boolean()
		if err != nil {
			return Value{}, err
		}
		return Value{t: BOOL, b: b}, nil
	case "NULL":
		b, err := s.boolean()
		if err != nil {
			return Value{}, err
		}
		if !b {
			return bad("One or more parameter values were invalid: Null attribute value types must have the value of true")
		}
		return Value{t: NULL, b: true}, nil
	case "L":
		if err := s.expect('['); err != nil {
			return Value{}, err
		}
		list := []Value{}
		if s.peek() == ']' {
			s.pos++
			return Value{t: L, x: &compound{list: list}}, nil
		}
		for i := 0; ; i++ {
			e, err := s.avValue(depth + 1)
			if err != nil {
				return Value{}, inIndex(err, i)
			}
			list = append(list, e)
			more, err := s.more(']')
			if err != nil {
				return Value{}, err
			}
			if !more {
				return Value{t: L, x: &compound{list: list}}, nil
			}
		}
	case "M":
		if err := s.expect('{'); err != nil {
			return Value{}, err
		}
		m := map[string]Value{}
		if s.peek() == '}' {
			s.pos++
			return Value{t: M, x: &compound{m: m}}, nil
		}
		for {
			name, err := s.str()
			if err != nil {
				return Value{}, err
			}
			if _, dup := m[name]; dup {
				return Value{}, errDup(name)
			}
			if err := s.expect(':'); err != nil {
				return Value{}, err
			}
			e, err := s.avValue(depth + 1)
			if err != nil {
				return Value{}, inName(err, name)
			}
			m[name] = e
			more, err := s.more('}')
			if err != nil {
				return Value{}, err
			}
			if !more {
				return Value{t: M, x: &compound{m: m}}, nil
			}
		}
	case "SS", "NS", "BS":
		t, _ := ParseType(key)
		if err := s.expect('['); err != nil {
			return Value{}, err
		}
		var members []Value
		if s.peek() == ']' {
			s.pos++
		} else {
			for i := 0; ; i++ {
				str, err := s.str()
				if err != nil {
					return Value{}, err
				}
				m, err := setMember(t, str)
				if err != nil {
					return Value{}, inIndex(err, i)
				}
				members = append(members, m)
				more, err := s.more(']')
				if err != nil {
					return Value{}, err
				}
				if !more {
					break
				}
			}
		}
		return SetValue(t, members)
	}
	return bad("unknown data type " + strconv.Quote(key) + ", want one of S, N, B, BOOL, NULL, M, L, SS, NS, BS")
}

// setMember makes a member of a set of type t from its JSON string.
func setMember(t Type, str string) (Value, error) {
	switch t {
	case NS:
		n, err := ParseNumber(str)
		if err != nil {
			return Value{}, err
		}
		return Value{t: N, s: n.s}, nil
	case BS:
		b, err := decodeBase64(str)
		if err != nil {
			return Value{}, &ValidationError{Msg: "B is not valid base64"}
		}
		return Value{t: B, s: b}, nil
	}
	return Value{t: S, s: str}, nil
}

// decodeBase64 decodes standard base64, padded or not.
func decodeBase64(s string) (string, error) {
	enc := base64.StdEncoding
	if len(s)%4 != 0 {
		enc = base64.RawStdEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// AppendJSON appends it in attribute-value JSON to dst, attributes sorted
// by name so that equal items encode equally.
func (it Item) AppendJSON(dst []byte) []byte {
	return appendAVMap(dst, it)
}

// AppendJSON appends v in attribute-value JSON to dst.
func (v Value) AppendJSON(dst []byte) []byte {
	switch v.t {
	case S:
		dst = append(dst, `{"S":`...)
		dst = jsonstr.Append(dst, v.s)
	case N:
		dst = append(dst, `{"N":"`...)
		dst = append(dst, v.s...)
		dst = append(dst, '"')
	case B:
		dst = append(dst, `{"B":"`...)
		dst = base64.StdEncoding.AppendEncode(dst, []byte(v.s))
		dst = append(dst, '"')
	case BOOL:
		dst = append(dst, `{"BOOL":`...)
		dst = strconv.AppendBool(dst, v.b)
	case L:
		dst = append(dst, `{"L":[`...)
		for i, e := range v.elems() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendJSON(dst)
		}
		dst = append(dst, ']')
	case M:
		dst = append(dst, `{"M":`...)
		dst = appendAVMap(dst, v.fields())
	case SS, NS, BS:
		dst = append(dst, `{"`...)
		dst = append(dst, v.t.String()...)
		dst = append(dst, `":[`...)
		for i, m := range v.elems() {
			if i > 0 {
				dst = append(dst, ',')
			}
			switch v.t {
			case SS:
				dst = jsonstr.Append(dst, m.s)
			case NS:
				dst = append(dst, '"')
				dst = append(dst, m.s...)
				dst = append(dst, '"')
			case BS:
				dst = append(dst, '"')
				dst = base64.StdEncoding.AppendEncode(dst, []byte(m.s))
				dst = append(dst, '"')
			}
		}
		dst = append(dst, ']')
	default: // NULL and the zero Value
		dst = append(dst, `{"NULL":true`...)
	}
	return append(dst, '}')
}

func appendAVMap(dst []byte, m map[string]Value) []byte {
	dst = append(dst, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, k)
		dst = append(dst, ':')
		dst = m[k].AppendJSON(dst)
	}
	return append(dst, '}')
}

// sortedKeys returns the keys of m in ascending order.
func sortedKeys(m map[string]Value) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
