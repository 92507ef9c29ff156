package parquet_test

import (
	"bytes"
	"testing"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

func FuzzParquetRead(f *testing.F) {
	dec := record.NewJSONDecoder(record.JSONOptions{Schema: orderSchema})
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, orderSchema)
	if err != nil {
		f.Fatal(err)
	}
	for _, js := range orderRows {
		var r record.Record
		if err := dec.DecodeString(js, &r); err != nil {
			f.Fatal(err)
		}
		if err := w.Write(&r); err != nil {
			f.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		rd, err := parquet.NewReader(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		defer rd.Close()
		var r record.Record
		for i := 0; i < 1000; i++ {
			if err := rd.Read(&r); err != nil {
				return
			}
		}
	})
}
