package record_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/pricestream/pricestream/internal/record"
)

// Seeds: the click event, REES46 rows as JSON and CSV, and edge cases. The
// corpus in testdata/fuzz adds lines of the real REES46 export.
var jsonSeeds = []string{
	clickJSON,
	`{"event_time":"2019-10-01 00:00:00 UTC","event_type":"view","product_id":44600062,"category_id":2103807459595387724,"category_code":null,"brand":"shiseido","price":35.79,"user_id":541312140,"user_session":"72d76fde-8bb3-4e00-8c23-a032dfed738c"}`,
	`{"a":[1,2.5e-3,{"b":null}],"s":"\u00e9\ud83d\ude00\n","t":true,"f":false}`,
	`[{"a":1},{"a":2}]`,
	"{\"a\":1}\n{\"a\":2}\n",
	`{"a":1,"a":2}`,
	`{}`,
}

func FuzzJSONDecode(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	dec := record.NewJSONDecoder(record.JSONOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r record.Record
		if err := dec.Decode(data, &r); err != nil {
			var de *record.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			if de.Offset < 0 || de.Offset > int64(len(data)) {
				t.Fatalf("offset %d outside the input of %d bytes", de.Offset, len(data))
			}
			return
		}
		if !json.Valid(data) {
			t.Fatalf("decoded input that encoding/json says is invalid: %q", data)
		}
		// encode and decode again: the same record
		out := record.AppendJSON(nil, &r, nil)
		var back record.Record
		if err := dec.Decode(out, &back); err != nil {
			t.Fatalf("re-decode of %s: %v", out, err)
		}
		if !r.Equal(&back) {
			t.Fatalf("round trip changed the record:\n%s\n%s", &r, &back)
		}
	})
}

func FuzzJSONRecords(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	dec := record.NewJSONDecoder(record.JSONOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		n := 0
		for _, err := range dec.Records(data) {
			n++
			if n > len(data)+1 {
				t.Fatalf("more results (%d) than input bytes", n)
			}
			_ = err
		}
		jr := record.NewJSONReader(bytes.NewReader(data), dec)
		var r record.Record
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader does not progress")
			}
			err := jr.Read(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			var de *record.DecodeError
			if err != nil && !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			if err != nil && jr.Read(&r) == err {
				break // sticky
			}
		}
	})
}

var csvSeeds = []string{
	"event_time,event_type,product_id,category_id,category_code,brand,price,user_id,user_session\n" +
		"2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c\n" +
		"2019-10-01 00:00:00 UTC,view,3900821,2053013552326770905,appliances.environment.water_heater,aqua,33.20,554748717,9333dfbd-b87a-4708-9857-6336556b0fcc\n",
	"a,b\n\"x,\"\"y\"\"\",\"\"\n\"multi\nline\",z\r\n",
	"a\tb\n1\t2",
}

func FuzzCSVRead(f *testing.F) {
	for _, s := range csvSeeds {
		f.Add([]byte(s), byte(','))
	}
	f.Add([]byte("a\tb\n1\t2\n"), byte('\t'))
	f.Fuzz(func(t *testing.T, data []byte, delim byte) {
		opts := record.CSVOptions{Delimiter: delim}
		cr, err := record.NewCSVReader(bytes.NewReader(data), opts)
		if err != nil {
			return
		}
		var recs []*record.Record
		var r record.Record
		for i := 0; ; i++ {
			if i > len(data)+1 {
				t.Fatalf("reader does not progress")
			}
			err := cr.Read(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				var de *record.DecodeError
				if !errors.As(err, &de) {
					t.Fatalf("error is not a DecodeError: %v", err)
				}
				continue
			}
			recs = append(recs, r.Clone())
		}
		// what was read writes and reads back the same
		var buf bytes.Buffer
		w, err := record.NewCSVWriter(&buf, cr.Columns(), opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if err := w.Write(r); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 || strings.ContainsAny(string(delim), "\r\n\"") {
			return
		}
		back, err := record.NewCSVReader(&buf, opts)
		if err != nil {
			t.Fatalf("re-read header of %q: %v", buf.String(), err)
		}
		for i, want := range recs {
			if err := back.Read(&r); err != nil {
				t.Fatalf("re-read record %d of %q: %v", i, buf.String(), err)
			}
			if !want.Equal(&r) {
				t.Fatalf("round trip changed record %d:\n%s\n%s", i, want, &r)
			}
		}
	})
}

var rees46Schema = record.MustSchema(
	record.Column{Name: "event_time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')")},
	record.Column{Name: "event_type", Type: record.TypeString},
	record.Column{Name: "product_id", Type: record.TypeLong},
	record.Column{Name: "category_id", Type: record.TypeLong},
	record.Column{Name: "category_code", Type: record.TypeString, Nullable: true},
	record.Column{Name: "brand", Type: record.TypeString, Nullable: true},
	record.Column{Name: "price", Type: record.TypeDouble},
	record.Column{Name: "user_id", Type: record.TypeLong},
	record.Column{Name: "user_session", Type: record.TypeString},
)

func FuzzCSVDecodeTyped(f *testing.F) {
	f.Add([]byte("2019-10-01 00:00:00 UTC,view,44600062,2103807459595387724,,shiseido,35.79,541312140,72d76fde-8bb3-4e00-8c23-a032dfed738c"))
	f.Add([]byte("2019-10-01 00:00:01 UTC,view,17200506,2053013559792632471,furniture.living_room.sofa,,543.10,519107250,566511c2"))
	dec, err := record.NewCSVDecoder(record.CSVOptions{Schema: rees46Schema})
	if err != nil {
		f.Fatal(err)
	}
	v := record.NewValidator(rees46Schema, record.ValidateOptions{})
	f.Fuzz(func(t *testing.T, data []byte) {
		var r record.Record
		if err := dec.Decode(data, &r); err != nil {
			return
		}
		// a typed decode that succeeds gives a record of the schema
		if err := v.Validate(&r); err != nil {
			var ve *record.ValidationError
			if !errors.As(err, &ve) {
				t.Fatal(err)
			}
			for _, viol := range ve.Violations {
				if viol.Reason != "null" {
					t.Fatalf("typed decode of %q does not validate: %v", data, err)
				}
			}
		}
	})
}

func FuzzParseType(f *testing.F) {
	for _, s := range []string{
		"struct<a:int,b:array<string>>", "choice<long,string>", "decimal(10,2)", "map<string,array<struct<x:double not null comment 'c'>>>",
		"timestamp('yyyy-MM-dd HH:mm:ss z')", "struct<`we``ird`:date('dd/MM/yyyy')>", "BIGINT", "varchar(3)",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, err := record.ParseType(s)
		if err != nil {
			var se *record.TypeSyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("error is not a TypeSyntaxError: %v", err)
			}
			return
		}
		text := typ.String()
		again, err := record.ParseType(text)
		if err != nil {
			t.Fatalf("printed type %q does not parse: %v", text, err)
		}
		if !typ.Equal(again) || again.String() != text {
			t.Fatalf("round trip of %q: %q became %q", s, text, again.String())
		}
		_ = typ.HiveString()
	})
}

func FuzzTimeParse(f *testing.F) {
	for _, s := range [][2]string{
		{"", "2019-10-01 00:00:00 UTC"}, {"rfc3339", "2019-10-01T00:00:00.123+02:00"},
		{"yyyy-MM-dd HH:mm:ss z", "2019-10-01 00:00:07 UTC"}, {"yyyy-MM-dd HH:mm:ss[.SSS] z", "2019-10-01 00:00:07.25 GMT"},
		{"EEE, dd MMM yyyy HH:mm:ss z", "Tue, 01 Oct 2019 10:00:00 GMT"}, {"unix_millis", "1569888000123"},
		{"MMMM d, yyyy h:mm a", "October 1, 2019 1:05 PM"}, {"unix_seconds", "1569888000.5"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, spec, s string) {
		if tf, kind, ok := record.DetectTimeFormat(s); ok {
			if _, err := tf.Parse(s); err != nil {
				t.Fatalf("detected format %q does not parse %q: %v", tf, s, err)
			}
			if kind != record.KindTimestamp && kind != record.KindDate {
				t.Fatalf("detected kind %v", kind)
			}
		}
		tf, err := record.ParseTimeFormat(spec)
		if err != nil {
			return
		}
		n, err := tf.Parse(s)
		if err != nil {
			var te *record.TimeError
			if !errors.As(err, &te) {
				t.Fatalf("error is not a TimeError: %v", err)
			}
			return
		}
		out := tf.Format(nil, n)
		if tf.String() == "" || tf.String() == "rfc3339" || tf.IsNumeric() {
			back, err := tf.Parse(string(out))
			if err != nil || (back != n && tf.String() != "unix_seconds" && tf.String() != "unix_millis" && tf.String() != "unix_micros") {
				t.Fatalf("format %q: %q -> %d -> %q -> %d, %v", tf, s, n, out, back, err)
			}
		}
	})
}
