package record

import (
	"testing"
)

// typedFuzzSchema covers what the typed decode's fast path decides on: a
// column matched in place or not, kinds that need no cast, kinds always
// cast (int, decimal, nested), and names that cannot be matched raw.
var typedFuzzSchema = MustSchema(
	Column{Name: "event_id", Type: TypeString},
	Column{Name: "event_time", Type: MustParseType("timestamp('rfc3339')")},
	Column{Name: "product_id", Type: TypeString},
	Column{Name: "price", Type: TypeDouble},
	Column{Name: "quantity", Type: TypeLong},
	Column{Name: "referrer_campaign", Type: TypeString}, // longer than a key's two words
	Column{Name: "n", Type: MustParseType("int")},
	Column{Name: "amount", Type: MustParseType("decimal(10,2)")},
	Column{Name: "tags", Type: MustParseType("array<string>")},
	Column{Name: `we"ird\key`, Type: TypeString},
	Column{Name: "é", Type: TypeBool},
)

// FuzzJSONDecodeTyped checks the typed decode's fast path (keys matched
// against their column in place, fields settled without a cast; the
// columns those are it learns from the inputs decoded before) against
// the general path, which the same decoder takes when no column name may
// be matched raw: the same records, field names and errors, from Decode
// and from Records.
func FuzzJSONDecodeTyped(f *testing.F) {
	for _, s := range []string{
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"44600062","price":35.79,"quantity":1,"n":3,"amount":"12.50","tags":["a","b"],"we\"ird\\key":"x","é":true}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":44600062,"price":35,"quantity":"1"}`,
		`{"event_time":"2019-10-01T00:00:10Z","event_id":"e1","event_id":"e2","price":1.5}`,
		`{"event_id":"e1","event_id":"e2","event_time":"2019-10-01T00:00:10Z"}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","event_time":"x","product_id":"p"}`,
		`{"event_\u0069d":"e1","event_time":"2019-10-01T00:00:10Z","extra":{"a":[1,{"b":null}]},"price":null}`,
		`{ "event_id" : "e1" , "event_time" :"2019-10-01T00:00:10Z",` + "\n" + `"product_id":"p"}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":1e400}`,
		`[{"event_id":"a"},{"event_id":"b","event_id":"c"}]`,
		"{\"event_id\":\"a\"}\n{\"price\":\"x\"}\n{\"event_id\":1}\n",
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":2,"quantity":2.5}`,
		`{"event_id":"e1",}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","extra":1,"price":2}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z", "product_id":"p","price":true}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":01}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p\n","price":null}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"é","price":-0.5e3,"quantity":7,"n":false}`,
		`{"event_id"`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":1,"quantity":2,"referrer_campaign":"x","n":1}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":1,"quantity":2,"referrer_campaign":"x"}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","product_id":"p","price":1,"quantity":2,"referrer_campaig":"x"}`,
		`{"event_id":"e1","event_time":"2019-10-01T00:00:10Z","price":1}`,
		`{"event_id":"e1","event_tim":"2019-10-01T00:00:10Z"}`,
		// members in another order than the columns', which the fast
		// decoder learns from the inputs before
		`{"price":1,"event_id":"e1","product_id":"p","event_time":"2019-10-01T00:00:10Z","quantity":2}`,
		`{"price":1,"event_id":"e1","event_id":"e2","price":2,"event_time":"2019-10-01T00:00:10Z"}`,
		`{"event_id":"e1","product_id":"p","price":"1","price":2,"n":1}`,
	} {
		f.Add([]byte(s))
	}
	fast := NewJSONDecoder(JSONOptions{Schema: typedFuzzSchema})
	slow := NewJSONDecoder(JSONOptions{Schema: typedFuzzSchema})
	slow.names = make([]string, len(slow.names))
	slow.keys = make([]keyWords, len(slow.keys))
	same := func(t *testing.T, what string, a, b *Record, aerr, berr error) {
		t.Helper()
		if (aerr == nil) != (berr == nil) || (aerr != nil && aerr.Error() != berr.Error()) {
			t.Fatalf("%s: errors differ: fast path %v, general path %v", what, aerr, berr)
		}
		if aerr != nil {
			return
		}
		if !a.Equal(b) {
			t.Fatalf("%s: records differ:\nfast path    %s\ngeneral path %s", what, a, b)
		}
		for i := range a.fields {
			if a.fields[i].Value.Kind() != b.fields[i].Value.Kind() {
				t.Fatalf("%s: field %q: kinds differ: %s and %s", what, a.fields[i].Name, a.fields[i].Value.Kind(), b.fields[i].Value.Kind())
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var a, b Record
		aerr := fast.Decode(data, &a)
		berr := slow.Decode(data, &b)
		same(t, "Decode", &a, &b, aerr, berr)
		ar, aerrs := collect(fast, data)
		br, berrs := collect(slow, data)
		if len(ar) != len(br) {
			t.Fatalf("Records: %d results on the fast path, %d on the general path", len(ar), len(br))
		}
		for i := range ar {
			same(t, "Records", ar[i], br[i], aerrs[i], berrs[i])
		}
	})
}

// collect returns the results of d.Records(data), the records cloned.
func collect(d *JSONDecoder, data []byte) ([]*Record, []error) {
	var rs []*Record
	var errs []error
	for r, err := range d.Records(data) {
		rs = append(rs, r.Clone())
		errs = append(errs, err)
	}
	return rs, errs
}
