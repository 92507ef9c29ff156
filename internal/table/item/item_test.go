package item

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestItemSize(t *testing.T) {
	for _, tc := range []struct {
		item string
		want int
	}{
		{`{}`, 0},
		{`{"ab":{"S":"xyz"}}`, 2 + 3},
		{`{"é":{"S":"é"}}`, 2 + 2},
		{`{"n":{"N":"1"}}`, 1 + 2},     // 1 digit: 1 + 1
		{`{"n":{"N":"12"}}`, 1 + 2},    // 2 digits: 1 + 1
		{`{"n":{"N":"123"}}`, 1 + 3},   // 3 digits: 2 + 1
		{`{"n":{"N":"1.50"}}`, 1 + 2},  // "1.5": 2 digits
		{`{"n":{"N":"1000"}}`, 1 + 2},  // trailing zeros are trimmed
		{`{"n":{"N":"0.001"}}`, 1 + 2}, // leading zeros are trimmed
		{`{"b":{"B":"aGk="}}`, 1 + 2},  // raw bytes, not base64
		{`{"t":{"BOOL":true}}`, 1 + 1}, // 1 byte
		{`{"z":{"NULL":true}}`, 1 + 1}, // 1 byte
		{`{"l":{"L":[]}}`, 1 + 3},      // empty list: 3 bytes
		{`{"m":{"M":{}}}`, 1 + 3},      // empty map: 3 bytes
		{`{"l":{"L":[{"S":"ab"},{"BOOL":true}]}}`, 1 + 3 + (1 + 2) + (1 + 1)},
		{`{"m":{"M":{"k":{"S":"ab"}}}}`, 1 + 3 + (1 + 1 + 2)},
		{`{"s":{"SS":["a","bc"]}}`, 1 + 3},
		{`{"s":{"NS":["1","123"]}}`, 1 + 2 + 3},
		{`{"s":{"BS":["aGk=","YQ=="]}}`, 1 + 3},
	} {
		require.Equal(t, tc.want, mustItem(t, tc.item).Size(), tc.item)
	}
}

func TestItemValidate(t *testing.T) {
	require.NoError(t, mustItem(t, `{"a":{"S":"x"}}`).Validate())
	big := Item{"a": StringValue(strings.Repeat("x", MaxSize-1))}
	require.NoError(t, big.Validate())
	big["b"] = StringValue("xx")
	require.ErrorContains(t, big.Validate(), "Item size has exceeded the maximum allowed size")
	require.ErrorContains(t, Item{"": StringValue("x")}.Validate(), "Empty attribute name")
	require.ErrorContains(t, Item{strings.Repeat("n", MaxNameLen+1): StringValue("x")}.Validate(), "too large")
	require.ErrorContains(t, Item{"a": {}}.Validate(), "a: attribute has no value")
	deep := StringValue("x")
	for range MaxDepth - 1 {
		deep = ListValue([]Value{deep})
	}
	require.NoError(t, Item{"a": deep}.Validate())
	require.ErrorContains(t, Item{"a": ListValue([]Value{deep})}.Validate(), "a: Nesting Levels have exceeded supported limits")
}

func TestValueCompareAndContains(t *testing.T) {
	s := StringValue
	n := func(x string) Value { return NumberValue(MustParseNumber(x)) }
	b := func(x string) Value { return BinaryValue([]byte(x)) }
	ss, _ := StringSetValue("a", "bc")
	ns, _ := NumberSetValue(MustParseNumber("1"), MustParseNumber("2.5"))
	list := ListValue([]Value{s("x"), n("1"), ListValue([]Value{s("y")})})

	c, ok := Compare(s("a"), s("b"))
	require.True(t, ok)
	require.Equal(t, -1, c)
	c, ok = Compare(n("10"), n("9"))
	require.True(t, ok)
	require.Equal(t, 1, c)
	c, ok = Compare(b("\x80"), b("\x7f")) // unsigned bytes
	require.True(t, ok)
	require.Equal(t, 1, c)
	_, ok = Compare(s("1"), n("1"))
	require.False(t, ok, "different types do not compare")
	_, ok = Compare(list, list)
	require.False(t, ok, "lists do not order")

	require.True(t, Equal(n("1.5"), n("1.50")))
	require.False(t, Equal(s("1"), n("1")))
	require.False(t, Equal(Value{}, Value{}), "a missing value equals nothing")
	require.True(t, Equal(MapValue(map[string]Value{"a": ss}), MapValue(map[string]Value{"a": ss})))

	require.True(t, HasPrefix(s("hello"), s("he")))
	require.True(t, HasPrefix(b("\x01\x02"), b("\x01")))
	require.False(t, HasPrefix(s("hello"), b("he")))
	require.False(t, HasPrefix(n("12"), n("1")))

	require.True(t, Contains(s("hello"), s("ell")))
	require.True(t, Contains(b("hi there"), b("here")))
	require.True(t, Contains(ss, s("bc")))
	require.False(t, Contains(ss, s("b")))
	require.True(t, Contains(ns, n("2.50")))
	require.False(t, Contains(ns, s("1")))
	require.True(t, Contains(list, ListValue([]Value{s("y")})))
	require.True(t, Contains(list, n("1.0")))
	require.False(t, Contains(n("12"), n("1")))

	for _, tc := range []struct {
		v    Value
		want int
		ok   bool
	}{
		{s("héllo"), 6, true}, {b("abc"), 3, true}, {list, 3, true}, {ss, 2, true},
		{MapValue(map[string]Value{"a": s("x")}), 1, true}, {n("5"), 0, false}, {BoolValue(true), 0, false}, {NullValue(), 0, false},
	} {
		got, ok := tc.v.Len()
		require.Equal(t, tc.ok, ok, tc.v.String())
		require.Equal(t, tc.want, got, tc.v.String())
	}
}

func TestSetOperations(t *testing.T) {
	a, _ := StringSetValue("a", "b", "c")
	b, _ := StringSetValue("c", "d")
	u, ok := SetUnion(a, b)
	require.True(t, ok)
	require.Equal(t, []string{"a", "b", "c", "d"}, u.SS())
	d, ok := SetDifference(a, b)
	require.True(t, ok)
	require.Equal(t, []string{"a", "b"}, d.SS())
	d, ok = SetDifference(b, u)
	require.True(t, ok)
	require.False(t, d.IsValid(), "an emptied set is no value")
	ns, _ := NumberSetValue(MustParseNumber("1"))
	_, ok = SetUnion(a, ns)
	require.False(t, ok)

	_, err := SetValue(SS, []Value{StringValue("a"), NumberValue(MustParseNumber("1"))})
	require.ErrorContains(t, err, "member of type N")
	_, err = BinarySetValue([]byte("x"), []byte("x"))
	require.ErrorContains(t, err, "contains duplicates")
}

func TestItemBinaryRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 300 {
		it := randomItem(r, 3)
		enc, err := it.MarshalBinary()
		require.NoError(t, err)
		dec, err := DecodeBinary(enc)
		require.NoError(t, err)
		require.True(t, it.Equal(dec), "%s", it.AppendJSON(nil))
		require.Equal(t, string(it.AppendJSON(nil)), string(dec.AppendJSON(nil)))
		// Deterministic: the same item encodes to the same bytes.
		enc2, _ := dec.MarshalBinary()
		require.True(t, bytes.Equal(enc, enc2))
	}
}

// TestItemBinaryNameOrder: names are written in ascending byte order (which
// DecodeBinary checks) whatever their shared prefixes, NUL bytes or
// lengths, in maps small enough to be sorted on the stack and larger ones.
func TestItemBinaryNameOrder(t *testing.T) {
	for _, n := range []int{2, 12, 31, 32, 33, 80} {
		it := Item{}
		for i := range n {
			name := fmt.Sprintf("attribute_%02d", (i*37)%n) // 8-byte prefixes all equal
			switch i % 4 {
			case 1:
				name = name[:i%8+1] // prefixes of others
			case 2:
				name = name[:i%9+1] + "\x00" + name // NUL bytes past a prefix
			}
			it[name] = IntValue(int64(i))
		}
		enc, err := it.MarshalBinary()
		require.NoError(t, err)
		dec, err := DecodeBinary(enc)
		require.NoError(t, err, "%d names", n)
		require.True(t, it.Equal(dec))
	}
}

func TestItemBinaryCorrupt(t *testing.T) {
	it := mustItem(t, `{"a":{"S":"x"},"n":{"NS":["1","2"]},"m":{"M":{"l":{"L":[{"N":"1.5"},{"NULL":true}]}}}}`)
	enc, _ := it.MarshalBinary()
	for i := range enc {
		_, _ = DecodeBinary(enc[:i]) // must not panic
		mod := slices.Clone(enc)
		mod[i] ^= 0xff
		_, _ = DecodeBinary(mod)
	}
	_, err := DecodeBinary(nil)
	require.Error(t, err)
	_, err = DecodeBinary([]byte{1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	require.Error(t, err)
}

func TestKeySchema(t *testing.T) {
	ks := KeySchema{Partition: KeyAttribute{"pk", S}, Sort: KeyAttribute{"sk", N}}
	require.NoError(t, ks.Validate())
	require.Error(t, KeySchema{Partition: KeyAttribute{"pk", BOOL}}.Validate())
	require.Error(t, KeySchema{Partition: KeyAttribute{"pk", S}, Sort: KeyAttribute{"pk", S}}.Validate())
	require.Error(t, KeySchema{}.Validate())

	k, err := ks.KeyOf(mustItem(t, `{"pk":{"S":"a"},"sk":{"N":"1.50"},"x":{"BOOL":true}}`))
	require.NoError(t, err)
	require.Equal(t, "a", k.Partition.S())
	require.Equal(t, "1.5", k.Sort.N().String())
	require.Equal(t, `{"pk":{"S":"a"},"sk":{"N":"1.5"}}`, string(k.Item(ks).AppendJSON(nil)))

	for _, tc := range []struct{ item, want string }{
		{`{"sk":{"N":"1"}}`, "One or more parameter values were invalid: Missing the key pk in the item"},
		{`{"pk":{"S":"a"}}`, "Missing the key sk in the item"},
		{`{"pk":{"N":"1"},"sk":{"N":"1"}}`, "Type mismatch for key pk expected: S actual: N"},
		{`{"pk":{"S":""},"sk":{"N":"1"}}`, "cannot contain an empty string value. Key: pk"},
	} {
		_, err := ks.KeyOf(mustItem(t, tc.item))
		require.ErrorContains(t, err, tc.want, tc.item)
	}
	_, err = ks.KeyOf(Item{"pk": StringValue(strings.Repeat("x", 2049)), "sk": IntValue(1)})
	require.ErrorContains(t, err, "2048")
	bks := KeySchema{Partition: KeyAttribute{"pk", S}, Sort: KeyAttribute{"sk", B}}
	_, err = bks.KeyOf(Item{"pk": StringValue("x"), "sk": BinaryValue(make([]byte, 1025))})
	require.ErrorContains(t, err, "1024")
	_, err = bks.KeyOf(Item{"pk": StringValue("x"), "sk": BinaryValue(nil)})
	require.ErrorContains(t, err, "empty binary value. Key: sk")

	_, err = ks.ParseKey(mustItem(t, `{"pk":{"S":"a"},"sk":{"N":"1"},"x":{"S":"y"}}`))
	require.ErrorContains(t, err, "The provided key element does not match the schema")
	_, err = ks.ParseKey(mustItem(t, `{"pk":{"S":"a"},"x":{"N":"1"}}`))
	require.ErrorContains(t, err, "The provided key element does not match the schema")
	_, err = ks.ParseKey(mustItem(t, `{"pk":{"S":"a"},"sk":{"N":"1"}}`))
	require.NoError(t, err)
}

func TestKeyOrderedEncoding(t *testing.T) {
	ks := KeySchema{Partition: KeyAttribute{"pk", S}, Sort: KeyAttribute{"sk", N}}
	keys := []Key{
		{StringValue("a"), IntValue(-5)},
		{StringValue("a"), IntValue(2)},
		{StringValue("a"), IntValue(10)},
		{StringValue("a\x00"), IntValue(1)},
		{StringValue("a\x00b"), IntValue(1)},
		{StringValue("ab"), IntValue(-100)},
		{StringValue("b"), NumberValue(MustParseNumber("0.5"))},
		{StringValue("b"), NumberValue(MustParseNumber("1e125"))},
	}
	var prev []byte
	for i, k := range keys {
		enc := k.AppendOrdered(nil)
		if i > 0 {
			require.Negative(t, bytes.Compare(prev, enc), "key %d", i)
		}
		prev = enc
		dec, err := ks.DecodeKey(enc)
		require.NoError(t, err)
		require.True(t, Equal(k.Partition, dec.Partition) && Equal(k.Sort, dec.Sort))
	}
	// Strings and binaries order bytewise, unsigned.
	strs := []string{"", "\x00", "\x00\x00", "\x00\x01", "\x01", "a", "a\x00", "a\xff", "b", "\x7f", "\x80", "\xff"}
	slices.Sort(strs)
	prev = nil
	for i, s := range strs {
		enc := AppendOrdered(nil, BinaryValue([]byte(s)))
		if i > 0 {
			require.Negative(t, bytes.Compare(prev, enc), "%q", s)
		}
		prev = enc
		v, rest, err := DecodeOrdered(enc, B)
		require.NoError(t, err)
		require.Empty(t, rest)
		require.Equal(t, s, string(v.B()))
	}
	for _, bad := range [][]byte{nil, {0}, {0, 2}, {'a'}, {numPos}, {numPos, 200, 0xf0, 0}, {numNeg, 1}} {
		_, _, err := DecodeOrdered(bad, N)
		if err == nil {
			_, _, err = DecodeOrdered(bad, S)
		}
		require.Error(t, err, "%v", bad)
	}
}

// randomItem builds a random valid item with values nested up to depth.
func randomItem(r *rand.Rand, depth int) Item {
	it := Item{}
	for i := range 1 + r.IntN(8) {
		it[randomName(r, i)] = randomValue(r, depth)
	}
	return it
}

func randomName(r *rand.Rand, i int) string {
	names := []string{"a", "b", "price", "é", "x.y", "#n", "long_attribute_name", "\x00"}
	return names[r.IntN(len(names))] + itoa(i)
}

func randomValue(r *rand.Rand, depth int) Value {
	k := r.IntN(10)
	if depth <= 0 && k >= 5 && k <= 6 {
		k = 0
	}
	switch k {
	case 0:
		return StringValue(randomName(r, r.IntN(100)))
	case 1:
		return NumberValue(randomNumber(r))
	case 2:
		b := make([]byte, r.IntN(5))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		return BinaryValue(b)
	case 3:
		return BoolValue(r.IntN(2) == 0)
	case 4:
		return NullValue()
	case 5:
		vs := make([]Value, r.IntN(4))
		for i := range vs {
			vs[i] = randomValue(r, depth-1)
		}
		return ListValue(vs)
	case 6:
		return MapValue(randomItem(r, depth-1))
	case 7:
		v, err := StringSetValue("a", randomName(r, 1), randomName(r, 2)+"z")
		if err != nil {
			return StringValue("dup")
		}
		return v
	case 8:
		v, err := NumberSetValue(randomNumber(r), randomNumber(r))
		if err != nil {
			return StringValue("dup")
		}
		return v
	}
	v, err := BinarySetValue([]byte{1}, []byte{byte(2 + r.IntN(200))})
	if err != nil {
		return StringValue("dup")
	}
	return v
}
