package avro_test

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
)

func FuzzAvroDecode(f *testing.F) {
	click, err := avro.New(clickSchema)
	if err != nil {
		f.Fatal(err)
	}
	rich, err := avro.New(richSchema)
	if err != nil {
		f.Fatal(err)
	}
	var r record.Record
	if err := record.NewJSONDecoder(record.JSONOptions{}).DecodeString(clickEvent, &r); err != nil {
		f.Fatal(err)
	}
	seed, err := click.Append(nil, &r)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed, false)
	f.Add([]byte{2, 'a', 0, 0, 0}, true)
	f.Fuzz(func(t *testing.T, data []byte, useRich bool) {
		c := click
		if useRich {
			c = rich
		}
		var r record.Record
		if err := c.Decode(data, &r); err != nil {
			var de *record.DecodeError
			if !errors.As(err, &de) {
				t.Fatalf("error is not a DecodeError: %v", err)
			}
			return
		}
		// what decodes encodes and decodes to the same record
		out, err := c.Append(nil, &r)
		if err != nil {
			t.Fatalf("re-encode of %s: %v", &r, err)
		}
		var back record.Record
		if err := c.Decode(out, &back); err != nil {
			t.Fatalf("re-decode: %v", err)
		}
		if !r.Equal(&back) {
			t.Fatalf("round trip changed the record:\n%s\n%s", &r, &back)
		}
	})
}

func FuzzAvroFile(f *testing.F) {
	c, err := avro.New(clickSchema)
	if err != nil {
		f.Fatal(err)
	}
	var r record.Record
	if err := record.NewJSONDecoder(record.JSONOptions{}).DecodeString(clickEvent, &r); err != nil {
		f.Fatal(err)
	}
	for _, comp := range []string{"null", "deflate", "snappy"} {
		var buf bytes.Buffer
		fw, err := avro.NewFileWriter(&buf, c, comp)
		if err != nil {
			f.Fatal(err)
		}
		for range 3 {
			if err := fw.Write(&r); err != nil {
				f.Fatal(err)
			}
		}
		if err := fw.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := avro.NewFileReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		defer fr.Close()
		var r record.Record
		for i := 0; i < 10000; i++ {
			if err := fr.Read(&r); err != nil {
				if !errors.Is(err, io.EOF) {
					var de *record.DecodeError
					if !errors.As(err, &de) {
						t.Fatalf("error is not a DecodeError: %v", err)
					}
				}
				return
			}
		}
	})
}
