package parquet_test

import (
	"bytes"
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

func ExampleWriter() {
	schema := record.MustSchema(
		record.Column{Name: "product_id", Type: record.TypeLong},
		record.Column{Name: "tags", Type: record.MustParseType("array<string>"), Nullable: true},
	)
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, schema)
	if err != nil {
		panic(err)
	}
	r := record.New(2)
	r.Append("product_id", record.LongValue(44600062))
	r.Append("tags", record.ArrayValue([]record.Value{record.StringValue("new")}))
	if err := w.Write(r); err != nil {
		panic(err)
	}
	if err := w.Close(); err != nil {
		panic(err)
	}

	rd, err := parquet.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		panic(err)
	}
	var out record.Record
	if err := rd.Read(&out); err != nil {
		panic(err)
	}
	fmt.Println(rd.NumRows(), out.String())
	// Output:
	// 1 {"product_id":44600062,"tags":["new"]}
}
