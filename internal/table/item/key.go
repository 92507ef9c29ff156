package item

import (
	"bytes"
	"strconv"
)

// Limits of key values, in bytes.
const (
	MaxPartitionKeyLen = 2048
	MaxSortKeyLen      = 1024
)

// KeyAttribute is one attribute of a key schema: its name and its type, S,
// N or B.
type KeyAttribute struct {
	Name string
	Type Type
}

// KeySchema is a table's primary key: a partition key and, optionally, a
// sort key (zero Name when the table has none).
type KeySchema struct {
	Partition KeyAttribute
	Sort      KeyAttribute
}

// HasSort reports whether the schema has a sort key.
func (ks KeySchema) HasSort() bool { return ks.Sort.Name != "" }

// IsKey reports whether name is one of the key attributes.
func (ks KeySchema) IsKey(name string) bool {
	return name == ks.Partition.Name || (ks.HasSort() && name == ks.Sort.Name)
}

// Validate checks the schema itself: names set, non-empty, at most 255
// bytes and distinct; types S, N or B.
func (ks KeySchema) Validate() error {
	check := func(role string, a KeyAttribute) error {
		switch {
		case a.Name == "":
			return &ValidationError{Msg: role + " key has no attribute name"}
		case len(a.Name) > 255:
			return &ValidationError{Msg: role + " key attribute name is longer than 255 bytes"}
		case !a.Type.IsScalarKey():
			return &ValidationError{Msg: role + " key " + a.Name + " has type " + a.Type.String() + ", want S, N or B"}
		}
		return nil
	}
	if err := check("partition", ks.Partition); err != nil {
		return err
	}
	if ks.Sort != (KeyAttribute{}) {
		if err := check("sort", ks.Sort); err != nil {
			return err
		}
		if ks.Sort.Name == ks.Partition.Name {
			return &ValidationError{Msg: "partition and sort key have the same name " + ks.Partition.Name}
		}
	}
	return nil
}

// Key is the primary key of one item: the partition key value and the sort
// key value (the zero Value when the schema has no sort key).
type Key struct {
	Partition Value
	Sort      Value
}

// KeyOf extracts and checks the key of a whole item, as PutItem does: each
// key attribute must be present with the schema's type, non-empty and
// within the length limits. Errors name the key attribute, with DynamoDB's
// messages.
func (ks KeySchema) KeyOf(it Item) (Key, error) {
	var k Key
	var err error
	if k.Partition, err = checkKeyAttr(ks.Partition, it, MaxPartitionKeyLen); err != nil {
		return Key{}, err
	}
	if ks.HasSort() {
		if k.Sort, err = checkKeyAttr(ks.Sort, it, MaxSortKeyLen); err != nil {
			return Key{}, err
		}
	}
	return k, nil
}

// ParseKey checks a Key parameter (GetItem, UpdateItem, DeleteItem): it must
// hold exactly the key attributes, with the right types.
func (ks KeySchema) ParseKey(key Item) (Key, error) {
	want := 1
	if ks.HasSort() {
		want = 2
	}
	if len(key) != want {
		return Key{}, &ValidationError{Msg: "The provided key element does not match the schema"}
	}
	for name := range key {
		if !ks.IsKey(name) {
			return Key{}, &ValidationError{Msg: "The provided key element does not match the schema"}
		}
	}
	return ks.KeyOf(key)
}

func checkKeyAttr(a KeyAttribute, it Item, maxLen int) (Value, error) {
	v, ok := it[a.Name]
	return keyAttr(a, v, ok, maxLen)
}

// keyAttr checks v, the value of key attribute a in an item (ok is false
// when the item has none), as KeyOf does.
func keyAttr(a KeyAttribute, v Value, ok bool, maxLen int) (Value, error) {
	if !ok {
		return Value{}, &ValidationError{Msg: "One or more parameter values were invalid: Missing the key " + a.Name + " in the item"}
	}
	if err := CheckKeyValue(a, v); err != nil {
		return Value{}, err
	}
	if len(v.s) > maxLen {
		return Value{}, &ValidationError{Msg: "One or more parameter values were invalid: Aggregated size of all range keys has exceeded the size limit of 1024 bytes"}
	}
	return v, nil
}

// CheckKeyValue checks v as a value of key attribute a: its type, that a
// string or binary is not empty, and the length limit of its role (2048
// bytes for a partition key; the caller checks sort keys against 1024 with
// [KeySchema.KeyOf]).
func CheckKeyValue(a KeyAttribute, v Value) error {
	if v.t != a.Type {
		return &ValidationError{Msg: "One or more parameter values were invalid: Type mismatch for key " + a.Name + " expected: " + a.Type.String() + " actual: " + v.t.String()}
	}
	switch {
	case v.t == S && v.s == "":
		return &ValidationError{Msg: "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: " + a.Name}
	case v.t == B && v.s == "":
		return &ValidationError{Msg: "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty binary value. Key: " + a.Name}
	case len(v.s) > MaxPartitionKeyLen:
		return &ValidationError{Msg: "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit of 2048 bytes"}
	}
	return nil
}

// Item returns the key as an item holding just the key attributes.
func (k Key) Item(ks KeySchema) Item {
	it := Item{ks.Partition.Name: k.Partition}
	if ks.HasSort() {
		it[ks.Sort.Name] = k.Sort
	}
	return it
}

// AppendOrdered appends the order-preserving encoding of the key to dst:
// the partition value, then the sort value if there is one. Encoded keys
// compare with bytes.Compare as the keys compare: first by partition value,
// then by sort value, where numbers order numerically and strings and
// binaries bytewise.
func (k Key) AppendOrdered(dst []byte) []byte {
	dst = AppendOrdered(dst, k.Partition)
	if k.Sort.IsValid() {
		dst = AppendOrdered(dst, k.Sort)
	}
	return dst
}

// DecodeKey decodes a key encoded by [Key.AppendOrdered] under schema ks.
func (ks KeySchema) DecodeKey(b []byte) (Key, error) {
	var k Key
	var err error
	if k.Partition, b, err = DecodeOrdered(b, ks.Partition.Type); err != nil {
		return Key{}, err
	}
	if ks.HasSort() {
		if k.Sort, b, err = DecodeOrdered(b, ks.Sort.Type); err != nil {
			return Key{}, err
		}
	}
	if len(b) != 0 {
		return Key{}, errKeyCorrupt
	}
	return k, nil
}

var errKeyCorrupt = &ValidationError{Msg: "corrupt key encoding"}

// Order-preserving encoding of key values. Every encoding is
// self-delimiting, so encodings can be concatenated (partition then sort)
// and still compare correctly.
//
// Strings and binaries: the bytes with 0x00 escaped as 0x00 0xFF, then the
// terminator 0x00 0x01. A prefix sorts first, and bytes compare unsigned.
//
// Numbers, written as ±0.d1d2…dk × 10^e (e in -129…126, k ≤ 38):
//
//	negative  0x02, 255-(e+129), digits in pairs as 254-p, terminator 0xFF
//	zero      0x03
//	positive  0x04, e+129, digits in pairs as p+1, terminator 0x00
//
// where p (0…99) is the value of two consecutive digits, the last pair
// padded with a zero. A larger exponent means a larger magnitude; within an
// exponent the digits decide, and a shorter digit string (a prefix) has the
// smaller magnitude. Negative numbers invert every byte so that larger
// magnitudes sort first.
const (
	numNeg  = 0x02
	numZero = 0x03
	numPos  = 0x04
)

// AppendOrdered appends the order-preserving encoding of the S, N or B
// value v to dst. Values of other types append nothing.
func AppendOrdered(dst []byte, v Value) []byte {
	switch v.t {
	case S, B:
		for i := 0; i < len(v.s); i++ {
			c := v.s[i]
			if c == 0 {
				dst = append(dst, 0, 0xff)
				continue
			}
			dst = append(dst, c)
		}
		return append(dst, 0, 1)
	case N:
		n := Number{v.s}
		if n.Sign() == 0 {
			return append(dst, numZero)
		}
		p := n.split()
		if p.neg {
			dst = append(dst, numNeg, byte(255-(p.e-minExp)))
		} else {
			dst = append(dst, numPos, byte(p.e-minExp))
		}
		for i := 0; i < p.nd; i += 2 {
			pair := int(p.d[i]-'0') * 10
			if i+1 < p.nd {
				pair += int(p.d[i+1] - '0')
			}
			if p.neg {
				dst = append(dst, byte(254-pair))
			} else {
				dst = append(dst, byte(pair+1))
			}
		}
		if p.neg {
			return append(dst, 0xff)
		}
		return append(dst, 0)
	}
	return dst
}

// DecodeOrdered decodes one value of type t (S, N or B) encoded by
// [AppendOrdered] from the front of b, and returns it with the rest of b.
func DecodeOrdered(b []byte, t Type) (Value, []byte, error) {
	switch t {
	case S, B:
		var out []byte
		for i := 0; i < len(b); i++ {
			if b[i] != 0 {
				continue
			}
			if i+1 >= len(b) {
				break
			}
			switch b[i+1] {
			case 1: // terminator
				out = append(out, b[:i]...)
				return Value{t: t, s: string(out)}, b[i+2:], nil
			case 0xff: // escaped zero
				out = append(out, b[:i+1]...)
				b = b[i+2:]
				i = -1
				continue
			}
			return Value{}, nil, errKeyCorrupt
		}
		return Value{}, nil, errKeyCorrupt
	case N:
		if len(b) == 0 {
			return Value{}, nil, errKeyCorrupt
		}
		if b[0] == numZero {
			return Value{t: N, s: "0"}, b[1:], nil
		}
		if (b[0] != numNeg && b[0] != numPos) || len(b) < 2 {
			return Value{}, nil, errKeyCorrupt
		}
		neg := b[0] == numNeg
		eb := int(b[1])
		if neg {
			eb = 255 - eb
		}
		e := eb + minExp
		if e > maxExp {
			return Value{}, nil, errKeyCorrupt
		}
		var d [MaxDigits + 1]byte
		nd := 0
		i := 2
		for ; ; i++ {
			if i >= len(b) {
				return Value{}, nil, errKeyCorrupt
			}
			c := int(b[i])
			if (neg && c == 0xff) || (!neg && c == 0) {
				break
			}
			pair := c - 1
			if neg {
				pair = 254 - c
			}
			if pair < 0 || pair > 99 || nd+2 > len(d) {
				return Value{}, nil, errKeyCorrupt
			}
			d[nd], d[nd+1] = byte('0'+pair/10), byte('0'+pair%10)
			nd += 2
		}
		for nd > 0 && d[nd-1] == '0' {
			nd--
		}
		if nd == 0 || d[0] == '0' || nd > MaxDigits {
			return Value{}, nil, errKeyCorrupt
		}
		var buf [maxCanonical]byte
		text := appendPlain(buf[:0], neg, d[:nd], e)
		return Value{t: N, s: string(text)}, b[i+1:], nil
	}
	return Value{}, nil, &ValidationError{Msg: "key type " + t.String() + " has no ordered encoding"}
}

// String renders the key for messages: its values in attribute-value
// JSON, quoted.
func (k Key) String() string {
	var buf bytes.Buffer
	buf.WriteString(k.Partition.String())
	if k.Sort.IsValid() {
		buf.WriteString(", ")
		buf.WriteString(k.Sort.String())
	}
	return strconv.Quote(buf.String())
}
