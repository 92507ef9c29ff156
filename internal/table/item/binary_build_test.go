package item

import (
	"bytes"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// buildBinary writes it with the AppendBinary functions, numbers from
// text (their canonical text, or alt[text] where given, another spelling
// of the same number), as a producer without an Item does.
func buildBinary(t *testing.T, it Item, alt map[string]string) []byte {
	t.Helper()
	dst := AppendBinaryHeader(nil, len(it))
	return buildMembers(t, dst, it, alt)
}

func buildMembers(t *testing.T, dst []byte, m map[string]Value, alt map[string]string) []byte {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		dst = buildValue(t, AppendBinaryName(dst, k), m[k], alt)
	}
	return dst
}

func buildValue(t *testing.T, dst []byte, v Value, alt map[string]string) []byte {
	switch v.Type() {
	case S:
		return AppendBinaryS(dst, v.S())
	case B:
		return AppendBinaryB(dst, string(v.B()))
	case N:
		text := v.N().String()
		if a, ok := alt[text]; ok {
			text = a
		}
		out, err := AppendBinaryN(dst, []byte(text))
		require.NoError(t, err)
		return out
	case BOOL:
		return AppendBinaryBOOL(dst, v.BOOL())
	case NULL:
		return AppendBinaryNULL(dst)
	case L:
		dst = AppendBinaryL(dst, len(v.L()))
		for _, e := range v.L() {
			dst = buildValue(t, dst, e, alt)
		}
		return dst
	case M:
		return buildMembers(t, AppendBinaryM(dst, len(v.M())), v.M(), alt)
	}
	t.Fatalf("no builder for %v", v.Type())
	return nil
}

func TestItemBinaryBuild(t *testing.T) {
	alt := map[string]string{"129.99": "129.990", "42": "4.2e1", "-0.5": "-.5", "1000": "1E3", "0": "-0.00"}
	for _, s := range []string{
		`{"product_id":{"S":"p-1001"},"name":{"S":"Air Runner"},"price":{"N":"129.99"},"inventory":{"N":"42"},"attributes":{"M":{"color":{"S":"red"},"size":{"N":"-0.5"}}}}`,
		`{"order_id":{"S":"o-1"},"items":{"L":[{"M":{"product_id":{"S":"p-1"},"quantity":{"N":"1000"}}},{"L":[]},{"M":{}}]},"shipped":{"BOOL":false},"paid":{"BOOL":true},"note":{"NULL":true}}`,
		`{"b":{"B":"aGVsbG8="},"e":{"S":""},"z":{"N":"0"},"u":{"S":"\u00e9\ud83d\ude00"},"long name with spaces and more than eight bytes":{"S":"x"}}`,
		`{}`,
	} {
		it, err := ParseItem([]byte(s), "")
		require.NoError(t, err)
		want, err := it.MarshalBinary()
		require.NoError(t, err)
		require.Equal(t, want, buildBinary(t, it, nil), s)
		require.Equal(t, want, buildBinary(t, it, alt), "%s, numbers spelt otherwise", s)
	}

	for _, bad := range []string{"", "NaN", "Infinity", "1e200", "1e-200", "1.2.3", "0x10", strings.Repeat("1", 39)} {
		dst := []byte("kept")
		out, err := AppendBinaryN(dst, []byte(bad))
		require.Error(t, err, bad)
		_, perr := ParseNumber(bad)
		require.EqualError(t, err, perr.Error(), bad)
		require.Equal(t, "kept", string(out), "an invalid number leaves dst as it was")
	}

	var num []byte
	allocs := testing.AllocsPerRun(100, func() {
		num, _ = AppendBinaryN(num[:0], []byte("1.50e2"))
	})
	require.Zero(t, allocs)
}

func TestItemKeyOfBinary(t *testing.T) {
	ks := KeySchema{Partition: KeyAttribute{Name: "pk", Type: S}, Sort: KeyAttribute{Name: "sk", Type: N}}
	deep := StringValue("x")
	for range MaxDepth - 1 {
		deep = ListValue([]Value{deep})
	}
	ss, err := StringSetValue("b", "a")
	require.NoError(t, err)
	ns, err := NumberSetValue(MustParseNumber("10"), MustParseNumber("9.5"))
	require.NoError(t, err)
	for name, it := range map[string]Item{
		"valid":             {"pk": StringValue("p-1"), "sk": IntValue(7), "a": deep, "s": ss, "n": ns, "m": MapValue(map[string]Value{"x": NullValue()})},
		"no partition key":  {"sk": IntValue(7)},
		"no sort key":       {"pk": StringValue("p-1")},
		"partition type":    {"pk": IntValue(1), "sk": IntValue(7)},
		"sort type":         {"pk": StringValue("p-1"), "sk": StringValue("7")},
		"empty key":         {"pk": StringValue(""), "sk": IntValue(7)},
		"long partition":    {"pk": StringValue(strings.Repeat("p", MaxPartitionKeyLen+1)), "sk": IntValue(7)},
		"long sort":         {"pk": StringValue("p"), "sk": NumberValue(MustParseNumber("1" + strings.Repeat("0", 30)))},
		"list key":          {"pk": ListValue(nil), "sk": IntValue(7)},
		"empty name":        {"pk": StringValue("p-1"), "sk": IntValue(7), "": BoolValue(true)},
		"long name":         {"pk": StringValue("p-1"), "sk": IntValue(7), strings.Repeat("n", MaxNameLen+1): BoolValue(true)},
		"too deep":          {"pk": StringValue("p-1"), "sk": IntValue(7), "a": ListValue([]Value{deep})},
		"too large":         {"pk": StringValue("p-1"), "sk": IntValue(7), "a": StringValue(strings.Repeat("x", MaxSize))},
		"large, not beyond": {"pk": StringValue("p-1"), "sk": IntValue(7), "a": StringValue(strings.Repeat("x", MaxSize-len("pk")-3-len("sk")-2-len("a")))},
	} {
		data, err := it.MarshalBinary()
		require.NoError(t, err)
		got, err := ks.KeyOfBinary(data)
		want, werr := ks.KeyOf(it)
		if werr == nil {
			werr = it.Validate()
		}
		if werr != nil {
			require.EqualError(t, err, werr.Error(), name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, want.AppendOrdered(nil), got.AppendOrdered(nil), name)
	}

	good, err := Item{"pk": StringValue("p-1"), "sk": IntValue(7), "a": StringValue("x")}.MarshalBinary()
	require.NoError(t, err)
	for name, data := range map[string][]byte{
		"empty":         nil,
		"version":       append([]byte{2}, good[1:]...),
		"truncated":     good[:len(good)-1],
		"trailing":      append(slices.Clone(good), 0),
		"names swapped": bytes.Replace(slices.Clone(good), []byte("\x02pk"), []byte("\x02zz"), 1),
	} {
		_, err := ks.KeyOfBinary(data)
		require.Error(t, err, name)
		_, derr := DecodeBinary(data)
		require.Error(t, derr, "%s: DecodeBinary takes what KeyOfBinary refuses", name)
	}

	key, err := ks.KeyOfBinary(good)
	require.NoError(t, err)
	good[len(good)-1] = 'y'
	require.Equal(t, "p-1", key.Partition.S(), "the key does not share data")
}

func TestItemKeyOfBinaryAllocs(t *testing.T) {
	ks := KeySchema{Partition: KeyAttribute{Name: "pk", Type: S}}
	data, err := Item{"pk": StringValue("p-1"), "a": ListValue([]Value{IntValue(1), MapValue(map[string]Value{"x": StringValue("y")})}), "n": NumberValue(MustParseNumber("1.5"))}.MarshalBinary()
	require.NoError(t, err)
	allocs := testing.AllocsPerRun(100, func() {
		if _, err := ks.KeyOfBinary(data); err != nil {
			t.Fatal(err)
		}
	})
	require.Equal(t, 1.0, allocs, "the key's copy alone")
}
