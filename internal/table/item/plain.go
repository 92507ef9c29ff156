package item

import (
	"encoding/base64"
	"strconv"

	"github.com/pricestream/pricestream/internal/jsonstr"
)

// The plain JSON form of an item is what the native API speaks: an item
// is a JSON object, strings are S, numbers are N (taken from their text, so
// 129.99 stays exactly 129.99 and 12345678901234567890 keeps every digit),
// booleans are BOOL, null is NULL, arrays are L and objects are M. Sets
// and binaries have no plain form: they are written as arrays (numbers for
// NS, strings for SS, base64 strings for BS) and binaries as base64
// strings, and read back as lists and strings.

// ParseJSON decodes an item from plain JSON: an object whose members are
// the attributes. root names the parameter in error paths.
func ParseJSON(data []byte, root string) (Item, error) {
	s := scanner{data: data}
	it, err := s.plainItem()
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return nil, inRoot(err, root)
	}
	return it, nil
}

func (s *scanner) plainItem() (Item, error) {
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
		v, err := s.plainValue(1)
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

// ParsePlainValue decodes one value from plain JSON.
func ParsePlainValue(data []byte, root string) (Value, error) {
	s := scanner{data: data}
	v, err := s.plainValue(1)
	if err == nil {
		err = s.end()
	}
	if err != nil {
		return Value{}, inRoot(err, root)
	}
	return v, nil
}

func (s *scanner) plainValue(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, &ValidationError{Msg: msgNesting}
	}
	switch c := s.peek(); {
	case c == '"':
		str, err := s.str()
		return Value{t: S, s: str}, err
	case c == '-' || (c >= '0' && c <= '9'):
		text, err := s.number()
		if err != nil {
			return Value{}, err
		}
		n, err := ParseNumber(text)
		if err != nil {
			return Value{}, err
		}
		return Value{t: N, s: n.s}, nil
	case c == 't' || c == 'f':
		b, err := s.boolean()
		return Value{t: BOOL, b: b}, err
	case c == 'n':
		if !s.literal("null") {
			return Value{}, s.syntax("invalid literal")
		}
		return Value{t: NULL, b: true}, nil
	case c == '[':
		s.pos++
		list := []Value{}
		if s.peek() == ']' {
			s.pos++
			return Value{t: L, x: &compound{list: list}}, nil
		}
		for i := 0; ; i++ {
			e, err := s.plainValue(depth + 1)
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
	case c == '{':
		s.pos++
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
			e, err := s.plainValue(depth + 1)
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
	case c == 0:
		return Value{}, s.syntax("unexpected end of input")
	}
	return Value{}, s.syntax("unexpected " + strconv.QuoteRune(rune(s.data[s.pos])))
}

// AppendPlainJSON appends it in plain JSON to dst, attributes sorted by
// name.
func (it Item) AppendPlainJSON(dst []byte) []byte { return appendPlainMap(dst, it) }

// AppendPlainJSON appends v in plain JSON to dst. Numbers are written in
// their canonical text, which is valid JSON.
func (v Value) AppendPlainJSON(dst []byte) []byte {
	switch v.t {
	case S:
		return jsonstr.Append(dst, v.s)
	case N:
		return append(dst, v.s...)
	case B:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, []byte(v.s))
		return append(dst, '"')
	case BOOL:
		if v.b {
			return append(dst, "true"...)
		}
		return append(dst, "false"...)
	case M:
		return appendPlainMap(dst, v.fields())
	case L, SS, NS, BS:
		dst = append(dst, '[')
		for i, e := range v.elems() {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = e.AppendPlainJSON(dst)
		}
		return append(dst, ']')
	}
	return append(dst, "null"...)
}

func appendPlainMap(dst []byte, m map[string]Value) []byte {
	dst = append(dst, '{')
	for i, k := range sortedKeys(m) {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = jsonstr.Append(dst, k)
		dst = append(dst, ':')
		dst = m[k].AppendPlainJSON(dst)
	}
	return append(dst, '}')
}
