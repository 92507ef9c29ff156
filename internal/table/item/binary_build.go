package item

import (
	"encoding/binary"
	"errors"
	"strings"
	"unsafe"
)

// Building the binary form piece by piece. A producer that holds its
// values in another form (the ETL's records) writes the binary form of an
// item with these functions, as [Item.AppendBinary] would write the item it
// would otherwise build only to have it encoded:
//
//	dst = AppendBinaryHeader(dst, n) // then, n times, names ascending:
//	dst = AppendBinaryName(dst, name)
//	dst = AppendBinaryS(dst, s)      // or another value
//
// A list is [AppendBinaryL] with its length followed by that many values,
// a map [AppendBinaryM] with its length followed by that many names and
// values, names ascending. The caller keeps the grammar (see the top of
// binary.go): counts that match what follows, names in ascending byte
// order and each once, per map. Sets have no builder; a producer of sets
// builds a [Value]. [DecodeBinary] and [KeySchema.KeyOfBinary] check what
// was built.

// AppendBinaryHeader appends the start of an item's binary form: its
// version and its number of attributes, n.
func AppendBinaryHeader(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, binaryVersion), uint64(n))
}

// AppendBinaryName appends an attribute or map member name.
func AppendBinaryName(dst []byte, name string) []byte { return appendBinString(dst, name) }

// AppendBinaryS appends the S value s.
func AppendBinaryS(dst []byte, s string) []byte { return appendBinString(append(dst, tagS), s) }

// AppendBinaryB appends the B value whose bytes are those of b.
func AppendBinaryB(dst []byte, b string) []byte { return appendBinString(append(dst, tagB), b) }

// AppendBinaryN appends the N value of the number text, which it reads as
// [ParseNumber] does (so "1.50", "1.5e0" and "15E-1" append the same
// bytes). An invalid number gives [ParseNumber]'s error and dst unchanged.
// It does not allocate.
func AppendBinaryN(dst []byte, text []byte) ([]byte, error) {
	var buf [maxCanonical]byte
	n := buf[:0]
	if plainCanonical(string(text)) { // most numbers: already canonical
		n = append(n, text...)
	} else {
		var err error
		if n, err = canonicalNumber(n, string(text)); err != nil {
			return dst, err
		}
	}
	dst = binary.AppendUvarint(append(dst, tagN), uint64(len(n)))
	return append(dst, n...), nil
}

// AppendBinaryBOOL appends the BOOL value b.
func AppendBinaryBOOL(dst []byte, b bool) []byte {
	if b {
		return append(dst, tagTrue)
	}
	return append(dst, tagFalse)
}

// AppendBinaryNULL appends the NULL value.
func AppendBinaryNULL(dst []byte) []byte { return append(dst, tagNull) }

// AppendBinaryL appends the start of an L value of n elements; the n
// values follow.
func AppendBinaryL(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, tagL), uint64(n))
}

// AppendBinaryM appends the start of an M value of n members; the n names
// and values follow, names ascending.
func AppendBinaryM(dst []byte, n int) []byte {
	return binary.AppendUvarint(append(dst, tagM), uint64(n))
}

// KeyOfBinary is [KeySchema.KeyOf] and [Item.Validate] of an item in its
// binary form, without decoding it: it checks the whole form as
// [DecodeBinary] does (so data is a well-formed, canonical binary item),
// then the key attributes as KeyOf does and the names, nesting and size as
// Validate does, with their errors (except that an item nested too deeply
// is refused as such before its key is looked at), and returns the key. It
// is how a table checks an item it is given already encoded. The key's
// strings are a copy: data is not retained, and must not change during
// the call.
func (ks KeySchema) KeyOfBinary(data []byte) (Key, error) {
	if len(data) == 0 || data[0] != binaryVersion {
		return Key{}, errCorrupt("unknown version")
	}
	// The walk reads data as a string without a copy of it (a whole
	// item's worth per write): what it returns that comes from data (the
	// key's strings, a name in an error) is copied, and its other errors
	// do not quote data.
	var d binDecoder
	if len(data) > 1 {
		d.s = unsafe.String(&data[1], len(data)-1)
	}
	n, err := d.uvarint()
	if err != nil {
		return Key{}, err
	}
	if n > (len(d.s)-d.pos)/2 {
		return Key{}, errCorrupt("count out of range")
	}
	var part, sort Value
	var hasPart, hasSort bool
	var nameErr error
	size := 0
	prev := ""
	for i := range n {
		name, err := d.str()
		if err != nil {
			return Key{}, err
		}
		if i > 0 && name <= prev {
			return Key{}, errCorrupt("names out of order")
		}
		prev = name
		start := d.pos
		vsize, err := d.check(1)
		if err == errNested {
			return Key{}, &ValidationError{Path: strings.Clone(name), Msg: msgNesting}
		}
		if err != nil {
			return Key{}, err
		}
		size += len(name) + vsize
		if nameErr == nil {
			if err := checkName(name); err != nil {
				nameErr = inName(err, strings.Clone(name))
			}
		}
		if name == ks.Partition.Name || (ks.HasSort() && name == ks.Sort.Name) {
			vd := binDecoder{s: d.s[:d.pos], pos: start}
			v, err := vd.value(1) // checked: a scalar key's value allocates nothing
			if err != nil {
				return Key{}, err
			}
			if name == ks.Partition.Name {
				part, hasPart = v, true
			} else {
				sort, hasSort = v, true
			}
		}
	}
	if d.pos != len(d.s) {
		return Key{}, errCorrupt("trailing bytes")
	}
	var k Key
	if k.Partition, err = keyAttr(ks.Partition, part, hasPart, MaxPartitionKeyLen); err != nil {
		return Key{}, err
	}
	if ks.HasSort() {
		if k.Sort, err = keyAttr(ks.Sort, sort, hasSort, MaxSortKeyLen); err != nil {
			return Key{}, err
		}
	}
	if nameErr != nil {
		return Key{}, nameErr
	}
	if size > MaxSize {
		return Key{}, &ValidationError{Msg: "Item size has exceeded the maximum allowed size"}
	}
	// The key's strings are in data, which the caller keeps.
	k.Partition.s = strings.Clone(k.Partition.s)
	k.Sort.s = strings.Clone(k.Sort.s)
	return k, nil
}

// errNested is check's error for a value nested deeper than [MaxDepth],
// which KeyOfBinary gives as Validate does.
var errNested = errors.New("item: nested too deeply")

// check steps over one value as value would read it, checking what value
// checks (so that it fails where value does), and returns the value's
// [Value.Size].
func (d *binDecoder) check(depth int) (int, error) {
	if depth > MaxDepth {
		return 0, errNested
	}
	if d.pos >= len(d.s) {
		return 0, errCorrupt("truncated")
	}
	tag := d.s[d.pos]
	d.pos++
	switch tag {
	case tagS, tagB:
		s, err := d.str()
		return len(s), err
	case tagN:
		s, err := d.str()
		if err != nil {
			return 0, err
		}
		if err := checkCanonical(s); err != nil {
			return 0, err
		}
		return numberSize(s), nil
	case tagFalse, tagTrue, tagNull:
		return 1, nil
	case tagL:
		n, err := d.uvarint()
		if err != nil {
			return 0, err
		}
		if n > len(d.s)-d.pos {
			return 0, errCorrupt("count out of range")
		}
		size := 3
		for range n {
			es, err := d.check(depth + 1)
			if err != nil {
				return 0, err
			}
			size += 1 + es
		}
		return size, nil
	case tagM:
		n, err := d.uvarint()
		if err != nil {
			return 0, err
		}
		if n > (len(d.s)-d.pos)/2 {
			return 0, errCorrupt("count out of range")
		}
		size := 3
		prev := ""
		for i := range n {
			k, err := d.str()
			if err != nil {
				return 0, err
			}
			if i > 0 && k <= prev {
				return 0, errCorrupt("names out of order")
			}
			prev = k
			es, err := d.check(depth + 1)
			if err != nil {
				return 0, err
			}
			size += 1 + len(k) + es
		}
		return size, nil
	case tagSS, tagNS, tagBS:
		t := SS + Type(tag-tagSS)
		n, err := d.uvarint()
		if err != nil {
			return 0, err
		}
		if n == 0 || n > len(d.s)-d.pos {
			return 0, errCorrupt("set size out of range")
		}
		size := 0
		var prev Value
		for i := range n {
			s, err := d.str()
			if err != nil {
				return 0, err
			}
			m := Value{t: t.Elem(), s: s}
			if t == NS {
				if err := checkCanonical(s); err != nil {
					return 0, err
				}
				size += numberSize(s)
			} else {
				size += len(s)
			}
			if i > 0 && compareMembers(t, prev, m) >= 0 {
				return 0, errCorrupt("set members out of order")
			}
			prev = m
		}
		return size, nil
	}
	return 0, errCorrupt("unknown tag")
}
