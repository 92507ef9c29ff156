package record

import (
	"bytes"
	"testing"
	"unsafe"
)

// overwrite fills b with 'X', as a reused buffer would be overwritten.
func overwrite(b []byte) {
	for i := range b {
		b[i] = 'X'
	}
}

// inside reports whether s lies in b's memory.
func inside(s string, b []byte) bool {
	if len(s) == 0 || len(b) == 0 {
		return false
	}
	p, lo := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.SliceData(b)))
	return p >= lo && p < lo+uintptr(len(b))
}

// TestJSONDecodeInPlace: DecodeInPlace gives the record Decode gives,
// without copying its input (no allocation once the record's storage is
// warm and no string has an escape; strings, number texts and unknown
// fields' names point into the input), and Owned and CloneOwned make
// values that no longer depend on it: after the input is overwritten they
// still read as decoded, where the record decoded in place does not.
func TestJSONDecodeInPlace(t *testing.T) {
	const in = `{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"44600062","price":35.79,"quantity":12,"extra":{"k":["v",1.50]},"é":true,"note":"café"}`
	for _, tc := range []struct {
		name string
		dec  *JSONDecoder
	}{
		{"typed", NewJSONDecoder(JSONOptions{Schema: typedFuzzSchema})},
		{"untyped", NewJSONDecoder(JSONOptions{})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want Record
			if err := tc.dec.Decode([]byte(in), &want); err != nil {
				t.Fatal(err)
			}
			data := []byte(in)
			var r Record
			if err := tc.dec.DecodeInPlace(data, &r); err != nil {
				t.Fatal(err)
			}
			if !r.Equal(&want) {
				t.Fatalf("in place:\n%s\nwant\n%s", &r, &want)
			}
			if allocs := testing.AllocsPerRun(100, func() { _ = tc.dec.DecodeInPlace(data, &r) }); allocs != 0 {
				t.Fatalf("DecodeInPlace allocates %.0f times per call; want 0", allocs)
			}
			for _, name := range []string{"product_id", "price", "extra"} {
				i := r.Index(name)
				f := r.At(i)
				if name == "extra" || tc.name == "untyped" {
					if !inside(f.Name, data) {
						t.Errorf("field name %q does not alias the input", f.Name)
					}
				}
				if s := f.Value.str; s != "" && !inside(s, data) {
					t.Errorf("field %q: %q does not alias the input", name, s)
				}
			}
			own := r.CloneOwned()
			pid, _ := r.Get("product_id")
			price, _ := r.Get("price")
			ownPID, ownPrice := pid.Owned(), price.Owned()
			extra, _ := r.Get("extra")
			ownExtra := extra.Owned()

			overwrite(data)
			if r.Equal(&want) {
				t.Fatal("the record decoded in place does not alias its input (the test would prove nothing)")
			}
			if !own.Equal(&want) {
				t.Errorf("CloneOwned after the input changed:\n%s\nwant\n%s", own, &want)
			}
			wpid, _ := want.Get("product_id")
			wprice, _ := want.Get("price")
			wextra, _ := want.Get("extra")
			if ownPID.Str() != wpid.Str() || ownPrice.NumberText() != wprice.NumberText() || ownPrice.NumberText() != "35.79" {
				t.Errorf("Owned after the input changed: %q %q, want %q %q", ownPID.Str(), ownPrice.NumberText(), wpid.Str(), wprice.NumberText())
			}
			if !ownExtra.Equal(wextra) || ownExtra.String() != wextra.String() {
				t.Errorf("Owned nested value after the input changed: %s, want %s", ownExtra, wextra)
			}
		})
	}
}

// TestJSONDecodeInPlaceErrors: an error of DecodeInPlace does not change
// when its input is overwritten (the field named, a timestamp's text).
func TestJSONDecodeInPlaceErrors(t *testing.T) {
	dec := NewJSONDecoder(JSONOptions{Schema: typedFuzzSchema})
	for _, in := range []string{
		`{"event_id":"e1","price":tru}`,                            // syntax: the field from the input
		`{"event_id":"e1", "product_id" : "p","price":[}`,          // general loop
		`{"event_id":"e1","event_time":"2019-10-01T25:00:10Z"}`,    // a timestamp that does not parse
		`{"event_id":"e1","tags":[1,{"a":"2019-10-01T25:00:10Z"}]`, // unterminated
		`{"extra":1,"event_time":"not a time at all"}`,
	} {
		var r Record
		want := dec.Decode([]byte(in), &r)
		if want == nil {
			t.Fatalf("%s: no error", in)
		}
		data := []byte(in)
		err := dec.DecodeInPlace(data, &r)
		if err == nil || err.Error() != want.Error() {
			t.Fatalf("%s: DecodeInPlace: %v, want %v", in, err, want)
		}
		overwrite(data)
		if err.Error() != want.Error() {
			t.Errorf("%s: after the input changed the error reads\n%v\nwant\n%v", in, err, want)
		}
	}
}

// FuzzJSONDecodeInPlace: DecodeInPlace decodes what Decode decodes, with
// the same errors, and a CloneOwned copy and the error stay the same when
// the input is overwritten afterwards.
func FuzzJSONDecodeInPlace(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"44600062","price":35.79,"quantity":1,"n":3,"amount":"12.50","tags":["a","b"],"we\"ird\\key":"x","é":true}`,
		`{"event_id":"e1","event_time":"2019-10-01 00:00:10","price":tru}`,
		`{"a":[1,2.5e-3,{"b":null}],"s":"\u00e9\ud83d\ude00\n","t":true,"f":false}`,
		`{"event_id":"e1","event_id":"e2","amount":123456789012345678901234567890}`,
		`{"x":"y"} z`,
	} {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	typed := NewJSONDecoder(JSONOptions{Schema: typedFuzzSchema})
	untyped := NewJSONDecoder(JSONOptions{})
	f.Fuzz(func(t *testing.T, in []byte, isTyped bool) {
		dec := untyped
		if isTyped {
			dec = typed
		}
		var want, r Record
		werr := dec.Decode(in, &want)
		data := bytes.Clone(in)
		err := dec.DecodeInPlace(data, &r)
		if (err == nil) != (werr == nil) || (err != nil && err.Error() != werr.Error()) {
			t.Fatalf("errors differ: in place %v, copied %v", err, werr)
		}
		var own *Record
		if err == nil {
			if !r.Equal(&want) {
				t.Fatalf("records differ:\nin place %s\ncopied   %s", &r, &want)
			}
			own = r.CloneOwned()
		}
		overwrite(data)
		if err != nil && err.Error() != werr.Error() {
			t.Fatalf("the error changed with its input: %v, want %v", err, werr)
		}
		if own != nil && (!own.Equal(&want) || own.String() != want.String()) {
			t.Fatalf("CloneOwned changed with its input:\n%s\nwant\n%s", own, &want)
		}
	})
}
