package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"iter"
	"math"
	"math/bits"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// JSONOptions configure a [JSONDecoder]. The zero value decodes untyped.
type JSONOptions struct {
	// Schema, if set, types the top-level fields it names: each value is cast
	// to its column's type with [Cast] (a timestamp column parses its text
	// with the column's format, a double column takes integers, a decimal
	// column reads the number's exact text). Fields the schema does not name
	// are kept as decoded, unless DropUnknown is set. A value that cannot be
	// cast is an error naming the field. Nullability is not checked here;
	// see [Validator].
	Schema *Schema
	// DropUnknown drops top-level fields that Schema does not name.
	DropUnknown bool
	// MaxDepth bounds the nesting of objects and arrays; 0 means 64.
	MaxDepth int
}

// JSONDecoder decodes JSON objects into records with a hand-written scanner
// that writes straight into the [Record]:
//
//   - objects become structs (the top-level object is the record itself),
//     arrays become arrays, strings strings, true/false booleans;
//   - a number without fraction or exponent that fits int64 becomes a long,
//     any other number a double; both keep the number's source text
//     ([Value.NumberText]), so ids beyond 2^53 stay exact and a decimal
//     column can be read exactly;
//   - of duplicate keys the last one wins.
//
// The input is copied once into a string per call (strings and number texts
// of the record are slices of it, so they stay valid after the record is
// reset or the input reused; a typed decode names the fields whose key it
// matched in place with the schema's own strings); unescaped strings are
// the only other allocations. A typed decoder matches each member's key in
// place against the column it expects at the member's position: at first
// the column in that position, then the one the decoder last found there,
// so the members of a producer that writes them in another order than the
// schema's (or leaves columns out) are matched without a lookup too.
// [JSONDecoder.DecodeInPlace] skips the copy, for input that is not
// modified afterwards. Invalid UTF-8 and
// unescaped control characters in strings are errors. A JSONDecoder is safe
// for concurrent use.
type JSONDecoder struct {
	opts  JSONOptions
	types []*Type    // column types of opts.Schema, by column index
	names []string   // column names matched raw, by column index (see jsonScanner.names)
	keys  []keyWords // the members' `"name":` as words, by column index
	// kinds are the decoded kinds that need no cast, by column index:
	// the column's kind, or noKind where even a value of that kind is
	// cast (decimal, int, nested types)
	kinds []Kind
	// order is the column of each top-level member position, as learned
	// from the objects decoded so far (at first its own position): a
	// producer writes its members in one order, which need not be the
	// schema's. A position's key is matched in place against the column
	// learned for it, so a stable order other than the schema's costs no
	// lookup. Written and read by concurrent decodes alike: each match is
	// checked against the key, so a stale or torn guess costs a lookup,
	// never a wrong column.
	order []atomic.Int32
}

// noKind is a Kind no value has.
const noKind Kind = 255

// NewJSONDecoder returns a decoder with the given options.
func NewJSONDecoder(opts JSONOptions) *JSONDecoder {
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 64
	}
	d := &JSONDecoder{opts: opts}
	if opts.Schema != nil {
		for _, c := range opts.Schema.Columns() {
			d.types = append(d.types, c.Type)
			name := c.Name
			if !plainKey(name) {
				name = ""
			}
			d.names = append(d.names, name)
			d.keys = append(d.keys, newKeyWords(name))
			k := c.Type.Kind
			if k == KindDecimal || k == KindInt || k.IsNested() {
				k = noKind
			}
			d.kinds = append(d.kinds, k)
		}
		d.order = make([]atomic.Int32, min(len(d.names), 64))
		for i := range d.order {
			d.order[i].Store(int32(i))
		}
	}
	return d
}

var _ Decoder = (*JSONDecoder)(nil)

// Decode decodes the one JSON object in data (whitespace around it allowed)
// into r, which it resets first.
func (d *JSONDecoder) Decode(data []byte, r *Record) error {
	return d.DecodeString(string(data), r)
}

// DecodeString is [JSONDecoder.Decode] for input that is already a string;
// it does not copy s.
func (d *JSONDecoder) DecodeString(s string, r *Record) error {
	r.Reset()
	sc := jsonScanner{s: s, root: r, maxDepth: d.opts.MaxDepth, index: -1, fieldAt: -1, names: d.names, keys: d.keys, kinds: d.kinds, order: d.order}
	sc.skipSpace()
	if err := d.topObject(&sc, r); err != nil {
		return err
	}
	sc.skipSpace()
	if sc.i < len(s) {
		return sc.errorf("unexpected %s after the object", quoteByte(s[sc.i]))
	}
	return nil
}

// Records decodes every object in data and yields each in turn: data may
// hold one object, a JSON array of objects, or objects one after another
// (JSON lines, or separated by any whitespace). Every yield reuses the same
// *Record, reset: [Record.Clone] what must outlive the iteration step. After
// an error in JSON lines the iteration resumes at the next line, so one bad
// line costs one error; in an array it stops.
func (d *JSONDecoder) Records(data []byte) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		s := string(data)
		r := &Record{}
		sc := jsonScanner{s: s, root: r, maxDepth: d.opts.MaxDepth, fieldAt: -1, names: d.names, keys: d.keys, kinds: d.kinds, order: d.order}
		if strings.HasPrefix(s, "\ufeff") {
			sc.i = 3 // a byte order mark, as files exported on Windows have
		}
		sc.skipSpace()
		if sc.i < len(s) && s[sc.i] == '[' {
			sc.i++
			sc.skipSpace()
			if sc.i < len(s) && s[sc.i] == ']' {
				sc.i++
				if sc.skipSpace(); sc.i < len(s) {
					yield(nil, sc.errorf("unexpected %s after the array", quoteByte(s[sc.i])))
				}
				return
			}
			for {
				r.Reset()
				if err := d.topObject(&sc, r); err != nil {
					yield(nil, err)
					return
				}
				if !yield(r, nil) {
					return
				}
				sc.index++
				sc.skipSpace()
				if sc.i >= len(s) {
					yield(nil, sc.errorf("unexpected end of input in array"))
					return
				}
				c := s[sc.i]
				sc.i++
				if c == ']' {
					break
				}
				if c != ',' {
					sc.i--
					yield(nil, sc.errorf("expected ',' or ']' after array element, found %s", quoteByte(c)))
					return
				}
				sc.skipSpace()
			}
			if sc.skipSpace(); sc.i < len(s) {
				yield(nil, sc.errorf("unexpected %s after the array", quoteByte(s[sc.i])))
			}
			return
		}
		for sc.i < len(s) {
			r.Reset()
			err := d.topObject(&sc, r)
			if err == nil {
				// the next object must start on a new line or after space
				if sc.i < len(s) && !isSpace(s[sc.i]) {
					err = sc.errorf("unexpected %s after the object", quoteByte(s[sc.i]))
				}
			}
			if err != nil {
				if !yield(nil, err) {
					return
				}
				nl := bytes.IndexByte(unsafe.Slice(unsafe.StringData(s[sc.i:]), len(s)-sc.i), '\n')
				if nl < 0 {
					return
				}
				sc.i += nl + 1
			} else if !yield(r, nil) {
				return
			}
			sc.index++
			sc.skipSpace()
		}
	}
}

// topObject decodes an object into r and types its fields.
func (d *JSONDecoder) topObject(sc *jsonScanner, r *Record) error {
	if sc.i >= len(sc.s) {
		return sc.errorf("unexpected end of input, expected an object")
	}
	if sc.s[sc.i] != '{' {
		return sc.errorf("expected an object, found %s", quoteByte(sc.s[sc.i]))
	}
	sc.settled, sc.used = 0, 0
	if err := sc.object(r, 1); err != nil {
		return err
	}
	if d.opts.Schema != nil {
		return d.typeFields(sc, r)
	}
	return nil
}

func (d *JSONDecoder) typeFields(sc *jsonScanner, r *Record) error {
	s := d.opts.Schema
	cols := s.Columns()
	unknown := false
	// Fields matched in place with a kind that needs no cast are settled
	// (the first 64): only the others are visited, in order.
	n := len(r.fields)
	todo := ^sc.settled
	if n < 64 {
		todo &= 1<<n - 1
	}
	for todo != 0 {
		k := bits.TrailingZeros64(todo)
		todo &= todo - 1
		u, err := d.typeField(sc, r, k, cols)
		if err != nil {
			return err
		}
		unknown = unknown || u
	}
	for k := 64; k < n; k++ {
		u, err := d.typeField(sc, r, k, cols)
		if err != nil {
			return err
		}
		unknown = unknown || u
	}
	if unknown && d.opts.DropUnknown {
		out := r.fields[:0]
		for _, f := range r.fields {
			if s.Index(f.Name) >= 0 {
				out = append(out, f)
			}
		}
		clear(r.fields[len(out):])
		r.fields = out
	}
	return nil
}

// typeField casts field k of r to its column's type; unknown reports a
// field the schema does not name.
func (d *JSONDecoder) typeField(sc *jsonScanner, r *Record, k int, cols []Column) (unknown bool, err error) {
	f := &r.fields[k]
	c := sc.column(k)
	var ci int
	switch {
	case c < len(cols) && sameString(cols[c].Name, f.Name):
		ci = c // the column learned for the position: no lookup
	case k < len(cols) && sameString(cols[k].Name, f.Name):
		ci = k
	default:
		ci = d.opts.Schema.Index(f.Name)
		sc.learn(k, ci) // the next object's member here is likely the same
	}
	if ci < 0 {
		return true, nil
	}
	if f.Value.kind == d.kinds[ci] {
		return false, nil // already of the type: no write
	}
	t := d.types[ci]
	if t.Kind == KindTimestamp && f.Value.kind == KindString {
		if n, ok := fastInstant(t.Format, f.Value.str); ok {
			f.Value.set(KindTimestamp, uint64(n), "")
			return false, nil
		}
	}
	v, err := castIn(f.Value, t, r)
	if err != nil {
		return false, &DecodeError{Format: "json", Offset: -1, Index: sc.index, Field: f.Name, Msg: "cannot cast to " + t.String(), Err: err}
	}
	f.Value = v
	return false, nil
}

// jsonScanner is the state of one decode.
type jsonScanner struct {
	s        string
	i        int
	root     *Record
	maxDepth int
	index    int64 // index of the current record in a multi-record input
	// names are the schema's column names by position, "" for a name that
	// cannot be matched raw (see plainKey); nil when untyped. A top-level
	// key in schema position is matched against them before it is scanned.
	names []string
	keys  []keyWords     // the decoder's keys, with names
	kinds []Kind         // the decoder's kinds, with names
	order []atomic.Int32 // the decoder's learned member order
	// settled marks the top-level fields (of the first 64) that matched
	// their column in place and decoded to a kind that needs no cast:
	// typeFields passes over them
	settled uint64
	// used marks the columns (of the first 64) matched in place so far,
	// none twice: the members matched in place are distinct keys
	used uint64
	// fieldAt is the offset of the opening quote of the top-level key whose
	// value is being decoded, or -1: an int, not the key string, so that the
	// hot path stores no pointer (no write barrier)
	fieldAt int
}

func (sc *jsonScanner) errorf(format string, args ...any) error {
	msg := format
	if len(args) > 0 {
		msg = sprintf(format, args...)
	}
	field := ""
	if sc.fieldAt >= 0 && sc.fieldAt < len(sc.s) {
		// the key's raw text (escapes are not decoded in error messages)
		k := sc.s[sc.fieldAt+1:]
		for j := 0; j < len(k); j++ {
			if k[j] == '\\' {
				j++
				continue
			}
			if k[j] == '"' {
				field = k[:j]
				break
			}
		}
	}
	return &DecodeError{Format: "json", Offset: int64(sc.i), Index: sc.index, Field: field, Msg: msg}
}

var spaceTab = [256]bool{' ': true, '\t': true, '\n': true, '\r': true}

func isSpace(c byte) bool { return spaceTab[c] }

func (sc *jsonScanner) skipSpace() {
	for sc.i < len(sc.s) && spaceTab[sc.s[sc.i]] {
		sc.i++
	}
}

// object decodes the object at sc.i (which is '{') into r.
func (sc *jsonScanner) object(r *Record, depth int) error {
	if depth > sc.maxDepth {
		return sc.errorf("nesting deeper than %d", sc.maxDepth)
	}
	s := sc.s
	sc.i++
	sc.skipSpace()
	if sc.i < len(s) && s[sc.i] == '}' {
		sc.i++
		return nil
	}
	if depth == 1 && sc.names != nil && sc.typedPrefix(r) {
		return nil
	}
	var seen uint64 // bloom filter of the keys so far, for duplicates
	// ordered: every key so far matched its schema column in place, so
	// none repeats another and seen has not been kept
	ordered := true
	for {
		if sc.i >= len(s) {
			return sc.errorf("unexpected end of input in object")
		}
		if s[sc.i] != '"' {
			return sc.errorf("expected a string key, found %s", quoteByte(s[sc.i]))
		}
		keyAt := sc.i
		var key string
		matched := false
		col := -1
		if depth == 1 {
			col = sc.expected(len(r.fields))
		}
		if col >= 0 && hasKey(s, sc.i, sc.names[col]) {
			// the column expected here, in the schema's spelling: no scan,
			// and the field name is the schema's string, not a slice of
			// the input
			key = sc.names[col]
			sc.i += len(key) + 2
			matched = true
			if col < 64 {
				sc.used |= 1 << col
			}
		} else {
			var err error
			if key, err = sc.str(); err != nil {
				return err
			}
		}
		if i := sc.i; i+1 < len(s) && s[i] == ':' && !spaceTab[s[i+1]] {
			sc.i = i + 1 // compact `"key":value`, the common case
		} else {
			sc.skipSpace()
			if sc.i >= len(s) || s[sc.i] != ':' {
				if sc.i >= len(s) {
					return sc.errorf("unexpected end of input after key")
				}
				return sc.errorf("expected ':' after key, found %s", quoteByte(s[sc.i]))
			}
			sc.i++
			sc.skipSpace()
		}
		if depth == 1 {
			sc.fieldAt = keyAt
		}
		// decode into the next slot in place: no copy of a Field through a
		// typed move (which costs bulk write barriers while the GC marks)
		n := len(r.fields)
		if n < cap(r.fields) {
			r.fields = r.fields[:n+1]
		} else {
			r.fields = append(r.fields, Field{})
		}
		f := &r.fields[n]
		f.Name = key
		if err := sc.valueInto(&f.Value, depth); err != nil {
			return err
		}
		if depth == 1 {
			sc.fieldAt = -1
		}
		if matched && ordered {
			// no duplicate: a field that needs no cast is settled
			if f.Value.kind == sc.kinds[col] && n < 64 {
				sc.settled |= 1 << n
			}
		} else {
			if ordered {
				ordered = false
				for k := range n {
					seen |= keyBit(r.fields[k].Name)
				}
			}
			bit := keyBit(key)
			if seen&bit != 0 {
				if i := r.Index(key); i < n {
					r.fields[i].Value = f.Value // of duplicate keys the last wins
					r.fields = r.fields[:n]
					if depth == 1 && i < 64 {
						sc.settled &^= 1 << i // the value is the new one's
					}
				}
			}
			seen |= bit
		}
		if i := sc.i; i+1 < len(s) && s[i] == ',' && s[i+1] == '"' {
			sc.i = i + 1 // compact `,"key"`, the common case
			continue
		}
		sc.skipSpace()
		if sc.i >= len(s) {
			return sc.errorf("unexpected end of input in object")
		}
		switch s[sc.i] {
		case ',':
			sc.i++
			sc.skipSpace()
		case '}':
			sc.i++
			return nil
		default:
			return sc.errorf("expected ',' or '}' after object member, found %s", quoteByte(s[sc.i]))
		}
	}
}

// typedPrefix decodes the leading members of a typed top-level object that
// take the common shape: the key of the column expected in that position,
// written as the schema spells it; no space around ':' and ','; a value
// that is a string without escapes or non-ASCII bytes, a number, true,
// false or null. It keeps sc.i and the member's parts in locals, where
// the general loop of object goes through the scanner for each step. At
// the first member of another shape it stops with sc.i at that member's
// key and returns false, leaving the member (and any error in it) to the
// general loop, for which every key so far matched in place; it returns
// true after the object's closing brace.
func (sc *jsonScanner) typedPrefix(r *Record) bool {
	s, names, keys, kinds, order := sc.s, sc.names, sc.keys, sc.kinds, sc.order
	used := sc.used
	defer func() { sc.used = used }()
	i := sc.i // at a member's key
	for {
		n := len(r.fields)
		if n >= len(order) {
			sc.i = i
			return false
		}
		c := uint(order[n].Load()) // a column index, 0-63
		if c >= uint(len(names)) || c >= 64 || c >= uint(len(kinds)) || c >= uint(len(keys)) || used&(1<<c) != 0 {
			sc.i = i
			return false
		}
		name := names[c]
		var j int // the value
		if kw := &keys[c]; kw.n != 0 && i+16 <= len(s) {
			// `"name":` compared as two words (j < len(s): kw.n < 16)
			b := unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(unsafe.StringData(s)), i)), 16)
			if (binary.LittleEndian.Uint64(b)^kw.w[0])&kw.m[0] != 0 || (binary.LittleEndian.Uint64(b[8:])^kw.w[1])&kw.m[1] != 0 {
				sc.i = i
				return false
			}
			j = i + kw.n
		} else {
			end := i + 1 + len(name) // the key's closing quote
			if name == "" || end+2 >= len(s) || s[i] != '"' || s[end] != '"' || s[end+1] != ':' || s[i+1:end] != name {
				sc.i = i
				return false
			}
			j = end + 2
		}
		var kind Kind
		var num uint64
		var str string
		switch c := s[j]; {
		case c == '"':
			k := plainEnd(s, j+1)
			if k >= len(s) || s[k] != '"' {
				sc.i = i
				return false
			}
			kind, str, j = KindString, s[j+1:k], k+1
		case c == '-' || (c >= '0' && c <= '9'):
			sc.i = j
			v, err := sc.number()
			if err != nil {
				sc.i = i
				return false
			}
			kind, num, str, j = v.kind, v.num, v.str, sc.i
		case c == 't' && strings.HasPrefix(s[j:], "true"):
			kind, num, j = KindBool, 1, j+4
		case c == 'f' && strings.HasPrefix(s[j:], "false"):
			kind, j = KindBool, j+5
		case c == 'n' && strings.HasPrefix(s[j:], "null"):
			kind, j = KindNull, j+4
		default:
			sc.i = i
			return false
		}
		if j >= len(s) {
			sc.i = i
			return false
		}
		end := s[j]
		if end != '}' && (end != ',' || j+1 >= len(s) || s[j+1] != '"') {
			sc.i = i
			return false
		}
		last := end == '}'
		if n < cap(r.fields) {
			r.fields = r.fields[:n+1]
		} else {
			r.fields = append(r.fields, Field{})
		}
		f := &r.fields[n]
		if unsafe.StringData(f.Name) != unsafe.StringData(name) || len(f.Name) != len(name) {
			f.Name = name // a reused record mostly has it there: no write barrier
		}
		f.Value.set(kind, num, str)
		sc.fieldAt = -1 // as after a member in the general loop
		used |= 1 << c
		if kind == kinds[c] {
			sc.settled |= 1 << n
		}
		i = j + 1
		if last {
			sc.i = i
			return true
		}
	}
}

// expected returns the column a top-level member at position n is
// matched against in place, or -1: the column the decoder learned for the
// position (the first 64), or its own beyond them, if it has a name that
// can be matched raw and, among the first 64, no member of this object
// matched it yet.
func (sc *jsonScanner) expected(n int) int {
	c := sc.column(n)
	if c >= len(sc.names) || sc.names[c] == "" || (c < 64 && sc.used&(1<<c) != 0) {
		return -1
	}
	return c
}

// column returns the column the decoder learned for top-level member
// position n (the first 64), or n beyond them.
func (sc *jsonScanner) column(n int) int {
	if n < len(sc.order) {
		return int(sc.order[n].Load())
	}
	return n
}

// learn records that the member at position n was column c.
func (sc *jsonScanner) learn(n, c int) {
	if c >= 0 && c < 64 && n < len(sc.order) {
		sc.order[n].Store(int32(c))
	}
}

// keyWords is a column's member prefix `"name":` as two little-endian
// words with the masks of its bytes, for typedPrefix to compare a key and
// its separator at once; n is the prefix's length, 0 when the name cannot
// be matched raw or the prefix is longer than 15 bytes (so that the value
// starts within the 16 bytes compared).
type keyWords struct {
	w, m [2]uint64
	n    int
}

func newKeyWords(name string) keyWords {
	p := `"` + name + `":`
	if name == "" || len(p) > 15 {
		return keyWords{}
	}
	var b, m [16]byte
	copy(b[:], p)
	for i := range len(p) {
		m[i] = 0xff
	}
	le := binary.LittleEndian
	return keyWords{w: [2]uint64{le.Uint64(b[:]), le.Uint64(b[8:])}, m: [2]uint64{le.Uint64(m[:]), le.Uint64(m[8:])}, n: len(p)}
}

// keyBit returns the bit of key in an object's bloom filter of keys.
func keyBit(key string) uint64 {
	if len(key) == 0 {
		return 1
	}
	return 1 << ((uint(len(key))*7 + uint(key[0]) + uint(key[len(key)-1])*3) & 63)
}

// hasKey reports whether s holds the JSON string "name" at i, where name
// has no byte that a JSON string escapes or that needs a check (see
// [plainKey]), so the raw text is the decoded key.
func hasKey(s string, i int, name string) bool {
	end := i + 1 + len(name)
	return end < len(s) && s[end] == '"' && s[i+1:end] == name
}

// plainKey reports whether name can be matched against a JSON key's raw
// text: it is ASCII without quotes, backslashes or control characters.
func plainKey(name string) bool {
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// sameString is a == b, decided without comparing bytes when both are
// the same string (as a key matched by its schema column is).
func sameString(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	return unsafe.StringData(a) == unsafe.StringData(b) || a == b
}

// set writes a scalar into dst field by field (a whole-struct copy is a
// typed move, with bulk write barriers while the GC marks), and clears the
// nested reference only when there is one.
func (dst *Value) set(k Kind, num uint64, str string) {
	dst.kind = k
	dst.scale = 0
	dst.num = num
	dst.str = str
	if dst.ref != nil {
		dst.ref = nil
	}
}

// valueInto decodes the value at sc.i into dst.
func (sc *jsonScanner) valueInto(dst *Value, depth int) error {
	s := sc.s
	if sc.i >= len(s) {
		return sc.errorf("unexpected end of input, expected a value")
	}
	switch c := s[sc.i]; c {
	case '"':
		str, err := sc.str()
		if err != nil {
			return err
		}
		dst.set(KindString, 0, str)
		return nil
	case '{':
		child := sc.root.Alloc()
		if err := sc.object(child, depth+1); err != nil {
			return err
		}
		*dst = Value{kind: KindStruct, ref: child}
		return nil
	case '[':
		v, err := sc.array(depth + 1)
		*dst = v
		return err
	case 't':
		if len(s)-sc.i >= 4 && s[sc.i:sc.i+4] == "true" {
			sc.i += 4
			dst.set(KindBool, 1, "")
			return nil
		}
	case 'f':
		if len(s)-sc.i >= 5 && s[sc.i:sc.i+5] == "false" {
			sc.i += 5
			dst.set(KindBool, 0, "")
			return nil
		}
	case 'n':
		if len(s)-sc.i >= 4 && s[sc.i:sc.i+4] == "null" {
			sc.i += 4
			dst.set(KindNull, 0, "")
			return nil
		}
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			v, err := sc.number()
			if err != nil {
				return err
			}
			dst.set(v.kind, v.num, v.str)
			return nil
		}
	}
	return sc.errorf("invalid character %s looking for a value", quoteByte(s[sc.i]))
}

// value decodes the value at sc.i.
func (sc *jsonScanner) value(depth int) (Value, error) {
	var v Value
	err := sc.valueInto(&v, depth)
	return v, err
}

func (sc *jsonScanner) array(depth int) (Value, error) {
	if depth > sc.maxDepth {
		return Value{}, sc.errorf("nesting deeper than %d", sc.maxDepth)
	}
	s := sc.s
	arr := sc.root.Alloc()
	sc.i++
	sc.skipSpace()
	if sc.i < len(s) && s[sc.i] == ']' {
		sc.i++
		return Value{kind: KindArray, ref: arr}, nil
	}
	for {
		v, err := sc.value(depth)
		if err != nil {
			return Value{}, err
		}
		arr.items = append(arr.items, v)
		sc.skipSpace()
		if sc.i >= len(s) {
			return Value{}, sc.errorf("unexpected end of input in array")
		}
		switch s[sc.i] {
		case ',':
			sc.i++
			sc.skipSpace()
		case ']':
			sc.i++
			return Value{kind: KindArray, ref: arr}, nil
		default:
			return Value{}, sc.errorf("expected ',' or ']' after array element, found %s", quoteByte(s[sc.i]))
		}
	}
}

// strStop marks the bytes that end the fast scan of a string.
var strStop = func() (t [256]bool) {
	for c := range 0x20 {
		t[c] = true
	}
	for c := 0x80; c < 256; c++ {
		t[c] = true
	}
	t['"'] = true
	t['\\'] = true
	return t
}()

// str decodes the string at sc.i (which is '"').
func (sc *jsonScanner) str() (string, error) {
	s := sc.s
	start := sc.i + 1
	j := plainEnd(s, start)
	if j < len(s) && s[j] == '"' {
		sc.i = j + 1
		return s[start:j], nil
	}
	return sc.strSlow(start, j)
}

// plainEnd returns the index of the first byte from j on that ends the
// fast scan of a string ('"', '\\', a control or a non-ASCII byte), or
// len(s). It tests eight bytes at a time while no byte needs attention;
// the lowest flagged byte of a word is exact (see swarStop), so the scan
// goes straight to it.
func plainEnd(s string, j int) int {
	if len(s) >= 8 {
		p := unsafe.StringData(s)
		for j <= len(s)-8 {
			x := binary.LittleEndian.Uint64(unsafe.Slice((*byte)(unsafe.Add(unsafe.Pointer(p), j)), 8))
			if m := swarStop(x); m != 0 {
				return j + bits.TrailingZeros64(m)>>3
			}
			j += 8
		}
	}
	for j < len(s) && !strStop[s[j]] {
		j++
	}
	return j
}

const (
	swarLo = 0x0101010101010101
	swarHi = 0x8080808080808080
)

// swarStop returns a nonzero mask if any byte of x is '"', '\\', below 0x20
// or at least 0x80, with the high bit of each such byte set. It may also
// flag bytes after the first such byte (a borrow carries upwards), never
// one before it: in a little-endian word the lowest flagged byte is the
// first byte that needs attention.
func swarStop(x uint64) uint64 {
	q := x ^ (swarLo * '"')
	b := x ^ (swarLo * '\\')
	return ((q-swarLo)&^q | (b-swarLo)&^b | (x - swarLo*0x20) | x) & swarHi
}

// strSlow handles escapes and non-ASCII from j on.
func (sc *jsonScanner) strSlow(start, j int) (string, error) {
	s := sc.s
	var buf []byte // nil until an escape is seen
	for j < len(s) {
		c := s[j]
		switch {
		case c == '"':
			sc.i = j + 1
			if buf == nil {
				return s[start:j], nil
			}
			return string(buf), nil
		case c == '\\':
			if buf == nil {
				buf = make([]byte, 0, j-start+16)
				buf = append(buf, s[start:j]...)
			}
			if j+1 >= len(s) {
				sc.i = j
				return "", sc.errorf("unexpected end of input in string escape")
			}
			e := s[j+1]
			j += 2
			switch e {
			case '"', '\\', '/':
				buf = append(buf, e)
			case 'b':
				buf = append(buf, '\b')
			case 'f':
				buf = append(buf, '\f')
			case 'n':
				buf = append(buf, '\n')
			case 'r':
				buf = append(buf, '\r')
			case 't':
				buf = append(buf, '\t')
			case 'u':
				r, ok := hex4(s, j)
				if !ok {
					sc.i = j
					return "", sc.errorf("invalid \\u escape")
				}
				j += 4
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(0), false
					if j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u' {
						r2, ok2 = hex4(s, j+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						j += 6
					} else {
						r = utf8.RuneError
					}
				}
				buf = utf8.AppendRune(buf, r)
			default:
				sc.i = j - 1
				return "", sc.errorf("invalid escape %s in string", quoteByte(e))
			}
		case c < 0x20:
			sc.i = j
			return "", sc.errorf("control character %s in string", quoteByte(c))
		case c >= 0x80:
			r, size := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && size <= 1 {
				sc.i = j
				return "", sc.errorf("invalid UTF-8 in string")
			}
			if buf != nil {
				buf = append(buf, s[j:j+size]...)
			}
			j += size
		default:
			if buf != nil {
				buf = append(buf, c)
			}
			j++
		}
	}
	sc.i = j
	return "", sc.errorf("unexpected end of input in string")
}

func hex4(s string, j int) (rune, bool) {
	if j+4 > len(s) {
		return 0, false
	}
	var r rune
	for k := j; k < j+4; k++ {
		c := s[k]
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			c = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// pow10tab holds the powers of ten that float64 represents exactly.
var pow10tab = [23]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10,
	1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// number decodes the number at sc.i per the JSON grammar.
func (sc *jsonScanner) number() (Value, error) {
	s := sc.s
	start := sc.i
	i := sc.i
	neg := false
	if s[i] == '-' {
		neg = true
		i++
	}
	if i >= len(s) || s[i] < '0' || s[i] > '9' {
		sc.i = i
		return Value{}, sc.errorf("invalid number: expected a digit")
	}
	var mant uint64
	nd := 0 // significant digits accumulated in mant
	if s[i] == '0' {
		i++
		if i < len(s) && s[i] >= '0' && s[i] <= '9' {
			sc.i = i
			return Value{}, sc.errorf("invalid number: leading zero")
		}
	} else {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if nd < 19 {
				mant = mant*10 + uint64(s[i]-'0')
			}
			nd++
			i++
		}
	}
	isInt := true
	exp := 0
	if i < len(s) && s[i] == '.' {
		isInt = false
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if nd < 19 {
				mant = mant*10 + uint64(s[i]-'0')
				exp--
			}
			if mant != 0 {
				nd++
			}
			i++
		}
		if i == fs {
			sc.i = i
			return Value{}, sc.errorf("invalid number: expected a digit after '.'")
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		e := 0
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			if e < 10000 {
				e = e*10 + int(s[i]-'0')
			}
			i++
		}
		if i == es {
			sc.i = i
			return Value{}, sc.errorf("invalid number: expected a digit in exponent")
		}
		if eneg {
			e = -e
		}
		exp += e
	}
	sc.i = i
	text := s[start:i]
	if isInt && nd <= 18 {
		n := int64(mant)
		if neg {
			n = -n
		}
		return Value{kind: KindLong, num: uint64(n), str: text}, nil
	}
	if isInt && nd == 19 {
		if n, err := strconv.ParseInt(text, 10, 64); err == nil {
			return Value{kind: KindLong, num: uint64(n), str: text}, nil
		}
	}
	if nd <= 15 && exp >= -22 && exp <= 22 {
		f := float64(mant)
		if exp < 0 {
			f /= pow10tab[-exp]
		} else {
			f *= pow10tab[exp]
		}
		if neg {
			f = -f
		}
		return Value{kind: KindDouble, num: math.Float64bits(f), str: text}, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		sc.i = start
		return Value{}, sc.errorf("number %s out of range", text)
	}
	return Value{kind: KindDouble, num: math.Float64bits(f), str: text}, nil
}

// JSONReader reads JSON records from an [io.Reader] holding objects one
// after another (JSON lines) or a JSON array of objects, without reading the
// whole input first. It is not safe for concurrent use.
type JSONReader struct {
	dec     *JSONDecoder
	r       io.Reader
	buf     []byte
	off     int // start of unread data in buf
	eof     bool
	started bool
	inArray bool
	done    bool
	index   int64
	base    int64 // input offset of buf[0]
	err     error
}

// NewJSONReader returns a reader of the records in r decoded by dec.
func NewJSONReader(r io.Reader, dec *JSONDecoder) *JSONReader {
	return &JSONReader{dec: dec, r: r, buf: make([]byte, 0, 64<<10)}
}

// Read decodes the next record into rec. It returns [io.EOF] after the last
// record. A malformed record gives a [*DecodeError] whose offset is relative
// to the start of the input; in JSON lines the next Read resumes at the next
// line.
func (jr *JSONReader) Read(rec *Record) error {
	if jr.err != nil {
		return jr.err
	}
	for {
		// skip separators
		for jr.off < len(jr.buf) && (isSpace(jr.buf[jr.off]) || (jr.inArray && jr.buf[jr.off] == ',')) {
			jr.off++
		}
		if jr.off == len(jr.buf) {
			if jr.eof {
				if jr.inArray && !jr.done {
					jr.err = &DecodeError{Format: "json", Offset: jr.base + int64(jr.off), Index: jr.index, Msg: "unexpected end of input in array"}
					return jr.err
				}
				return io.EOF
			}
			if err := jr.fill(); err != nil {
				return err
			}
			continue
		}
		if jr.done {
			jr.err = &DecodeError{Format: "json", Offset: jr.base + int64(jr.off), Index: -1, Msg: "unexpected text after the array"}
			return jr.err
		}
		c := jr.buf[jr.off]
		if !jr.started {
			if bytes.HasPrefix(jr.buf[jr.off:], []byte("\ufeff")) {
				jr.off += 3
				continue
			}
			if c == 0xef && len(jr.buf)-jr.off < 3 && !jr.eof {
				if err := jr.fill(); err != nil { // maybe a split byte order mark
					return err
				}
				continue
			}
			jr.started = true
			if c == '[' {
				jr.inArray = true
				jr.off++
				continue
			}
		}
		if jr.inArray && c == ']' {
			jr.done = true
			jr.off++
			continue
		}
		// find the end of the value
		end, complete := scanValueEnd(jr.buf[jr.off:])
		if end == 0 {
			end = 1 // a stray separator: let the decoder report it
		}
		if !complete && !jr.eof {
			if err := jr.fill(); err != nil {
				return err
			}
			continue
		}
		chunk := jr.buf[jr.off : jr.off+end]
		start := jr.off
		jr.off += end
		err := jr.dec.Decode(chunk, rec)
		idx := jr.index
		jr.index++
		if err != nil {
			var de *DecodeError
			if errors.As(err, &de) {
				de.Index = idx
				if de.Offset >= 0 {
					de.Offset += jr.base + int64(start)
				}
			}
			if jr.inArray || !complete {
				jr.err = err
			} else if nl := bytes.IndexByte(jr.buf[start:], '\n'); nl >= 0 && start+nl+1 > jr.off {
				jr.off = start + nl + 1
			}
			return err
		}
		return nil
	}
}

// fill reads more input, compacting the buffer.
func (jr *JSONReader) fill() error {
	if jr.off > 0 {
		n := copy(jr.buf, jr.buf[jr.off:])
		jr.base += int64(jr.off)
		jr.buf = jr.buf[:n]
		jr.off = 0
	}
	if len(jr.buf) == cap(jr.buf) {
		jr.buf = append(jr.buf, 0)[:len(jr.buf)]
	}
	n, err := jr.r.Read(jr.buf[len(jr.buf):cap(jr.buf)])
	jr.buf = jr.buf[:len(jr.buf)+n]
	if errors.Is(err, io.EOF) {
		jr.eof = true
		return nil
	}
	if err != nil {
		jr.err = err
		return err
	}
	return nil
}

// scanValueEnd finds the end of the JSON value starting at b[0] by tracking
// strings and bracket depth (not validating; the decoder does that). It
// returns the length and whether the value is complete in b. A scalar at the
// top level ends at the next whitespace, comma or bracket.
func scanValueEnd(b []byte) (int, bool) {
	depth := 0
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inStr {
			switch c {
			case '\\':
				i++
			case '"':
				inStr = false
				if depth == 0 {
					return i + 1, true
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth <= 0 {
				return i + 1, true
			}
		case ' ', '\t', '\r', '\n', ',':
			if depth == 0 {
				return i, true
			}
		}
	}
	return len(b), false
}
