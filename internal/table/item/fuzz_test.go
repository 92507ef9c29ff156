package item

import (
	"bytes"
	"testing"
)

// avSeeds are realistic attribute-value JSON items: what the AWS SDKs send
// for the Fast Sneakers tables, plus edge cases.
var avSeeds = []string{
	`{"product_id":{"S":"p-1001"},"name":{"S":"Air Runner"},"price":{"N":"129.99"},"inventory":{"N":"42"},"tags":{"SS":["running","sale"]},"attributes":{"M":{"color":{"S":"red"},"sizes":{"NS":["40","41","42.5"]}}}}`,
	`{"order_id":{"S":"o-1"},"items":{"L":[{"M":{"product_id":{"S":"p-1"},"quantity":{"N":"2"},"unit_price":{"N":"59.90"}}}]},"shipped":{"BOOL":false},"note":{"NULL":true}}`,
	`{"b":{"B":"aGVsbG8="},"bs":{"BS":["AQ==","Ag=="]},"e":{"S":""},"u":{"S":"\u00e9\ud83d\ude00"}}`,
	`{"n":{"N":"-1.5E+10"},"z":{"N":"0.000"},"big":{"N":"99999999999999999999999999999999999999"}}`,
	`{"a":{"S":"x","N":null}}`,
	`{"a":{}}`,
	`{"a":{"NS":["1","1.0"]}}`,
}

func FuzzParseItem(f *testing.F) {
	for _, s := range avSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := ParseItem(data, "Item")
		if err != nil {
			return
		}
		// Whatever decodes must encode, decode again to an equal item, and
		// survive the binary round trip.
		out := it.AppendJSON(nil)
		again, err := ParseItem(out, "Item")
		if err != nil {
			t.Fatalf("re-decoding %s: %v", out, err)
		}
		if !it.Equal(again) {
			t.Fatalf("round trip changed %s", out)
		}
		bin, _ := it.MarshalBinary()
		dec, err := DecodeBinary(bin)
		if err != nil || !dec.Equal(it) {
			t.Fatalf("binary round trip of %s: %v", out, err)
		}
		_ = it.Size()
	})
}

func FuzzParseJSON(f *testing.F) {
	for _, s := range []string{
		`{"product_id":"p-1","price":129.99,"inventory":42,"tags":["a","b"],"attrs":{"color":"red","sizes":[40,41.5]},"on_sale":true,"note":null}`,
		`{"big":123456789012345678901234567890123456789,"e":1e-130,"neg":-0.0}`,
		`{"s":"\ud83d\ude00\n"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := ParseJSON(data, "Item")
		if err != nil {
			return
		}
		out := it.AppendPlainJSON(nil)
		again, err := ParseJSON(out, "Item")
		if err != nil || !it.Equal(again) {
			t.Fatalf("plain round trip of %s: %v", out, err)
		}
	})
}

func FuzzDecodeBinary(f *testing.F) {
	for _, s := range avSeeds[:4] {
		it, err := ParseItem([]byte(s), "")
		if err != nil {
			f.Fatal(err)
		}
		b, _ := it.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		it, err := DecodeBinary(data)
		if err != nil {
			return
		}
		b, _ := it.MarshalBinary()
		if !bytes.Equal(b, data) {
			t.Fatalf("binary decoding is not canonical")
		}
	})
}

// FuzzDecodeBinaryAttrs holds the partial decodes to the whole one: for
// bytes the whole decode takes, DecodeBinaryAttrs gives its item
// restricted to the names, and BinaryAttr the named attribute, for any
// names.
func FuzzDecodeBinaryAttrs(f *testing.F) {
	for _, s := range avSeeds[:4] {
		it, err := ParseItem([]byte(s), "")
		if err != nil {
			f.Fatal(err)
		}
		b, _ := it.MarshalBinary()
		for name := range it {
			f.Add(b, name, "absent")
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, a, b string) {
		names := []string{a, b}
		buf := bytes.Clone(data)
		part, perr := DecodeBinaryAttrs(buf, names)
		whole, err := DecodeBinary(data)
		if err != nil {
			return // corrupt: the partial decode may or may not notice
		}
		if perr != nil {
			t.Fatalf("partial decode failed where the whole one did not: %v", perr)
		}
		want := Item{}
		for _, n := range names {
			if v, ok := whole[n]; ok {
				want[n] = v
			}
		}
		if !want.Equal(part) {
			t.Fatalf("partial decode %v, want %v", part, want)
		}
		one, ok, err := BinaryAttr(buf, a)
		if err != nil {
			t.Fatalf("BinaryAttr failed where the whole decode did not: %v", err)
		}
		if wv, wok := whole[a]; ok != wok || ok && !(Item{a: wv}).Equal(Item{a: one}) {
			t.Fatalf("BinaryAttr(%q) = %v, %v; want %v, %v", a, one, ok, wv, wok)
		}
		for i := range buf {
			buf[i] ^= 0xff
		}
		if !want.Equal(part) {
			t.Fatalf("partial decode changed with its input's bytes: it shares memory with them")
		}
		if wv, wok := whole[a]; wok && !(Item{a: wv}).Equal(Item{a: one}) {
			t.Fatalf("BinaryAttr's value changed with its input's bytes: it shares memory with them")
		}
	})
}

// FuzzKeyOfBinary holds the check of an encoded item to the decode and
// the checks of an Item it stands for: KeyOfBinary takes exactly the
// bytes DecodeBinary takes whose item KeyOf and Validate take, and gives
// the same key.
func FuzzKeyOfBinary(f *testing.F) {
	for _, s := range avSeeds[:4] {
		it, err := ParseItem([]byte(s), "")
		if err != nil {
			f.Fatal(err)
		}
		it["pk"] = StringValue("p-1")
		it["sk"] = IntValue(7)
		b, _ := it.MarshalBinary()
		f.Add(b)
	}
	ks := KeySchema{Partition: KeyAttribute{Name: "pk", Type: S}, Sort: KeyAttribute{Name: "sk", Type: N}}
	f.Fuzz(func(t *testing.T, data []byte) {
		key, err := ks.KeyOfBinary(data)
		it, derr := DecodeBinary(data)
		var want Key
		if derr == nil {
			if want, derr = ks.KeyOf(it); derr == nil {
				derr = it.Validate()
			} else if err == nil || err.Error() != derr.Error() {
				t.Fatalf("KeyOfBinary: %v, KeyOf: %v", err, derr)
			}
		}
		if (err == nil) != (derr == nil) {
			t.Fatalf("KeyOfBinary: %v, DecodeBinary, KeyOf and Validate: %v", err, derr)
		}
		if err == nil && !bytes.Equal(key.AppendOrdered(nil), want.AppendOrdered(nil)) {
			t.Fatalf("KeyOfBinary: key %v, KeyOf: %v", key, want)
		}
	})
}
