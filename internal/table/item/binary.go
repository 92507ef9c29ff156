package item

import (
	"encoding/binary"
	"slices"
	"strings"
	"unsafe"
)

// The binary form of an item is how storage keeps it: compact, fast, and
// deterministic (equal items encode to equal bytes, since attributes and
// map members are written sorted by name and set members are kept sorted),
// so that "did this write change anything" is a byte comparison.
//
//	item   = version(0x01) uvarint(count) { name value }    names ascending
//	name   = uvarint(len) bytes
//	value  = tag payload
//	  S, B, N        uvarint(len) bytes            (N: canonical text)
//	  FALSE, TRUE, NULL                            (no payload)
//	  L              uvarint(count) { value }
//	  M              uvarint(count) { name value } names ascending
//	  SS, NS, BS     uvarint(count) { uvarint(len) bytes }  members ascending
const binaryVersion = 1

const (
	tagS byte = iota + 1
	tagN
	tagB
	tagFalse
	tagTrue
	tagNull
	tagL
	tagM
	tagSS
	tagNS
	tagBS
)

// AppendBinary appends the binary form of it to dst. It implements
// encoding.BinaryAppender and never fails.
func (it Item) AppendBinary(dst []byte) ([]byte, error) {
	dst = append(dst, binaryVersion)
	return appendBinMap(dst, it), nil
}

// MarshalBinary returns the binary form of it.
func (it Item) MarshalBinary() ([]byte, error) { return it.AppendBinary(make([]byte, 0, 64)) }

// UnmarshalBinary decodes the binary form of an item into *it.
func (it *Item) UnmarshalBinary(data []byte) error {
	v, err := DecodeBinary(data)
	if err != nil {
		return err
	}
	*it = v
	return nil
}

func appendBinMap(dst []byte, m map[string]Value) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(m)))
	if len(m) == 1 {
		for k, v := range m {
			dst = appendBinString(dst, k)
			dst = v.appendBinary(dst)
		}
		return dst
	}
	if len(m) > maxSmallMap {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			dst = appendBinString(dst, k)
			dst = m[k].appendBinary(dst)
		}
		return dst
	}
	// A small map (an item's attributes, mostly): its names and values are
	// taken in one pass, and the names sorted by insertion on their first
	// eight bytes, comparing whole names only where those are equal.
	var names [maxSmallMap]string
	var vals [maxSmallMap]Value
	var ord [maxSmallMap]nameOrder
	n := 0
	for k, v := range m {
		names[n], vals[n], ord[n] = k, v, nameOrder{prefix: namePrefix(k), i: uint8(n)}
		n++
	}
	for i := 1; i < n; i++ {
		x := ord[i]
		j := i
		for ; j > 0; j-- {
			y := ord[j-1]
			if y.prefix < x.prefix || (y.prefix == x.prefix && names[y.i] < names[x.i]) {
				break
			}
			ord[j] = y
		}
		ord[j] = x
	}
	for _, o := range ord[:n] {
		dst = appendBinString(dst, names[o.i])
		dst = vals[o.i].appendBinary(dst)
	}
	return dst
}

// maxSmallMap is the most members appendBinMap sorts on the stack.
const maxSmallMap = 32

// nameOrder is a map member's place in the sort: its name's first eight
// bytes, big-endian and zero-padded (so that two names whose prefixes
// differ compare as the names do), and its index.
type nameOrder struct {
	prefix uint64
	i      uint8
}

func namePrefix(s string) uint64 {
	var b [8]byte
	copy(b[:], s)
	return binary.BigEndian.Uint64(b[:])
}

func appendBinString(dst []byte, s string) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(s)))
	return append(dst, s...)
}

func (v Value) appendBinary(dst []byte) []byte {
	switch v.t {
	case S:
		return appendBinString(append(dst, tagS), v.s)
	case N:
		return appendBinString(append(dst, tagN), v.s)
	case B:
		return appendBinString(append(dst, tagB), v.s)
	case BOOL:
		if v.b {
			return append(dst, tagTrue)
		}
		return append(dst, tagFalse)
	case L:
		dst = binary.AppendUvarint(append(dst, tagL), uint64(len(v.elems())))
		for _, e := range v.elems() {
			dst = e.appendBinary(dst)
		}
		return dst
	case M:
		return appendBinMap(append(dst, tagM), v.fields())
	case SS, NS, BS:
		tag := tagSS + byte(v.t-SS)
		dst = binary.AppendUvarint(append(dst, tag), uint64(len(v.elems())))
		for _, m := range v.elems() {
			dst = appendBinString(dst, m.s)
		}
		return dst
	}
	return append(dst, tagNull)
}

// DecodeBinary decodes the binary form of an item. Strings in the result
// share one copy of data, so decoding allocates little; data itself is not
// retained. Corrupt input gives an error, never a panic.
func DecodeBinary(data []byte) (Item, error) {
	if len(data) == 0 || data[0] != binaryVersion {
		return nil, errCorrupt("unknown version")
	}
	d := binDecoder{s: string(data[1:])}
	m, err := d.mapBody(0)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.s) {
		return nil, errCorrupt("trailing bytes")
	}
	return Item(m), nil
}

// DecodeBinaryAttrs decodes only the named top-level attributes of an
// item's binary form (those it has; nil data gives nil): the others are
// skipped over without being built, and only the strings of the named
// ones are copied out of data, so a read of a few attributes of a large
// item allocates for those alone. What it returns equals [DecodeBinary]'s
// item restricted to names, and shares no memory with data. The skipped
// attributes are only checked as far as it takes to step over them:
// corrupt content there may go unnoticed.
func DecodeBinaryAttrs(data []byte, names []string) (Item, error) {
	if data == nil {
		return nil, nil
	}
	if len(data) == 0 || data[0] != binaryVersion {
		return nil, errCorrupt("unknown version")
	}
	d := binDecoder{borrowed: true}
	if len(data) > 1 {
		d.s = unsafe.String(&data[1], len(data)-1) // read only here; kept strings are copied (keep)
	}
	m, err := d.mapOf(0, names)
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.s) {
		return nil, errCorrupt("trailing bytes")
	}
	return Item(m), nil
}

// BinaryAttr returns the top-level attribute name of an item's binary
// form, and whether the item has it (nil data: it has not), building
// nothing else: it steps over the attributes before name and stops there,
// as names are stored in order. What it returns equals [DecodeBinary]'s
// item's attribute and shares no memory with data. Only what it reads is
// checked: corrupt content elsewhere may go unnoticed.
func BinaryAttr(data []byte, name string) (Value, bool, error) {
	if data == nil {
		return Value{}, false, nil
	}
	if len(data) == 0 || data[0] != binaryVersion {
		return Value{}, false, errCorrupt("unknown version")
	}
	d := binDecoder{borrowed: true}
	if len(data) > 1 {
		d.s = unsafe.String(&data[1], len(data)-1) // read only here; kept strings are copied (keep)
	}
	n, err := d.uvarint()
	if err != nil {
		return Value{}, false, err
	}
	if n > (len(d.s)-d.pos)/2 {
		return Value{}, false, errCorrupt("count out of range")
	}
	prev := ""
	for i := 0; i < n; i++ {
		k, err := d.str()
		if err != nil {
			return Value{}, false, err
		}
		if i > 0 && k <= prev {
			return Value{}, false, errCorrupt("names out of order")
		}
		prev = k
		switch {
		case k == name:
			v, err := d.value(1)
			if err != nil {
				return Value{}, false, err
			}
			return v, true, nil
		case k > name:
			return Value{}, false, nil
		}
		if err := d.skip(1); err != nil {
			return Value{}, false, err
		}
	}
	return Value{}, false, nil
}

// skip steps over one value as value would read it, building nothing.
func (d *binDecoder) skip(depth int) error {
	if depth > MaxDepth {
		return errCorrupt("nested too deeply")
	}
	if d.pos >= len(d.s) {
		return errCorrupt("truncated")
	}
	tag := d.s[d.pos]
	d.pos++
	switch tag {
	case tagS, tagB, tagN:
		_, err := d.str()
		return err
	case tagFalse, tagTrue, tagNull:
		return nil
	case tagL:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n > len(d.s)-d.pos {
			return errCorrupt("count out of range")
		}
		for range n {
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case tagM:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n > (len(d.s)-d.pos)/2 {
			return errCorrupt("count out of range")
		}
		for range n {
			if _, err := d.str(); err != nil {
				return err
			}
			if err := d.skip(depth + 1); err != nil {
				return err
			}
		}
		return nil
	case tagSS, tagNS, tagBS:
		n, err := d.uvarint()
		if err != nil {
			return err
		}
		if n == 0 || n > len(d.s)-d.pos {
			return errCorrupt("set size out of range")
		}
		for range n {
			if _, err := d.str(); err != nil {
				return err
			}
		}
		return nil
	}
	return errCorrupt("unknown tag")
}

func errCorrupt(msg string) error { return &ValidationError{Msg: "corrupt binary item: " + msg} }

type binDecoder struct {
	s   string
	pos int
	// borrowed is set when s is a view of the caller's bytes rather than
	// a copy: the strings a result keeps are then copied one by one.
	borrowed bool
}

// keep returns s for a result to hold.
func (d *binDecoder) keep(s string) string {
	if d.borrowed {
		return strings.Clone(s)
	}
	return s
}

func (d *binDecoder) uvarint() (int, error) {
	if d.pos < len(d.s) && d.s[d.pos] < 0x80 { // one byte: names, most values
		x := int(d.s[d.pos])
		if x > len(d.s) {
			return 0, errCorrupt("length out of range")
		}
		d.pos++
		return x, nil
	}
	var x uint64
	var shift uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		if d.pos >= len(d.s) {
			return 0, errCorrupt("truncated")
		}
		b := d.s[d.pos]
		d.pos++
		if b < 0x80 {
			if b == 0 && i > 0 {
				return 0, errCorrupt("non-minimal varint")
			}
			x |= uint64(b) << shift
			if x > uint64(len(d.s)) {
				return 0, errCorrupt("length out of range")
			}
			return int(x), nil
		}
		x |= uint64(b&0x7f) << shift
		shift += 7
	}
	return 0, errCorrupt("bad varint")
}

func (d *binDecoder) str() (string, error) {
	n, err := d.uvarint()
	if err != nil {
		return "", err
	}
	if n > len(d.s)-d.pos {
		return "", errCorrupt("truncated")
	}
	s := d.s[d.pos : d.pos+n]
	d.pos += n
	return s, nil
}

func (d *binDecoder) mapBody(depth int) (map[string]Value, error) { return d.mapOf(depth, nil) }

// mapOf reads a map body, building only the members named (all when names
// is nil) and stepping over the others.
func (d *binDecoder) mapOf(depth int, names []string) (map[string]Value, error) {
	n, err := d.uvarint()
	if err != nil {
		return nil, err
	}
	if n > (len(d.s)-d.pos)/2 {
		return nil, errCorrupt("count out of range")
	}
	size := n
	if names != nil {
		size = min(n, len(names))
	}
	m := make(map[string]Value, size)
	prev := ""
	for i := 0; i < n; i++ {
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		if i > 0 && k <= prev {
			return nil, errCorrupt("names out of order")
		}
		prev = k
		if names != nil {
			j := slices.Index(names, k)
			if j < 0 {
				if err := d.skip(depth + 1); err != nil {
					return nil, err
				}
				continue
			}
			k = names[j] // the caller's string, not a view of the input
		} else {
			k = d.keep(k)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		m[k] = v
	}
	return m, nil
}

func (d *binDecoder) value(depth int) (Value, error) {
	if depth > MaxDepth {
		return Value{}, errCorrupt("nested too deeply")
	}
	if d.pos >= len(d.s) {
		return Value{}, errCorrupt("truncated")
	}
	tag := d.s[d.pos]
	d.pos++
	switch tag {
	case tagS, tagB:
		s, err := d.str()
		if err != nil {
			return Value{}, err
		}
		if tag == tagS {
			return Value{t: S, s: d.keep(s)}, nil
		}
		return Value{t: B, s: d.keep(s)}, nil
	case tagN:
		s, err := d.str()
		if err != nil {
			return Value{}, err
		}
		if err := checkCanonical(s); err != nil {
			return Value{}, err
		}
		return Value{t: N, s: d.keep(s)}, nil
	case tagFalse, tagTrue:
		return Value{t: BOOL, b: tag == tagTrue}, nil
	case tagNull:
		return Value{t: NULL, b: true}, nil
	case tagL:
		n, err := d.uvarint()
		if err != nil {
			return Value{}, err
		}
		if n > len(d.s)-d.pos {
			return Value{}, errCorrupt("count out of range")
		}
		list := make([]Value, n)
		for i := range list {
			if list[i], err = d.value(depth + 1); err != nil {
				return Value{}, err
			}
		}
		return Value{t: L, x: &compound{list: list}}, nil
	case tagM:
		m, err := d.mapBody(depth)
		if err != nil {
			return Value{}, err
		}
		return Value{t: M, x: &compound{m: m}}, nil
	case tagSS, tagNS, tagBS:
		t := SS + Type(tag-tagSS)
		n, err := d.uvarint()
		if err != nil {
			return Value{}, err
		}
		if n == 0 || n > len(d.s)-d.pos {
			return Value{}, errCorrupt("set size out of range")
		}
		et := t.Elem()
		members := make([]Value, n)
		for i := range members {
			s, err := d.str()
			if err != nil {
				return Value{}, err
			}
			if et == N {
				if err := checkCanonical(s); err != nil {
					return Value{}, err
				}
			}
			members[i] = Value{t: et, s: d.keep(s)}
			if i > 0 && compareMembers(t, members[i-1], members[i]) >= 0 {
				return Value{}, errCorrupt("set members out of order")
			}
		}
		return Value{t: t, x: &compound{list: members}}, nil
	}
	return Value{}, errCorrupt("unknown tag")
}

// checkCanonical checks that s is the canonical text of a number.
func checkCanonical(s string) error {
	if plainCanonical(s) {
		return nil
	}
	var buf [maxCanonical]byte
	b, err := canonicalNumber(buf[:0], s)
	if err != nil || string(b) != s {
		return errCorrupt("bad number")
	}
	return nil
}

// plainCanonical reports, without taking s apart, whether s has the shape
// of the canonical text of most numbers: at most [MaxDigits] characters, an
// optional minus, an integer part without a leading zero (or a lone zero),
// and an optional fraction that does not end in zero; "-0" is not
// canonical. When it reports false, s may still be canonical (a long
// integer, say): checkCanonical then compares s with its canonical text.
func plainCanonical(s string) bool {
	if len(s) == 0 || len(s) > MaxDigits {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	switch {
	case i == start, i-start > 1 && s[start] == '0':
		return false // no integer part, or a leading zero
	case i == len(s):
		return start == 0 || s[start] != '0' // "-0" is "0"
	case s[i] != '.':
		return false
	}
	i++
	frac := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i == len(s) && i > frac && s[i-1] != '0'
}
