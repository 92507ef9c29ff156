package record_test

import (
	"fmt"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

func ExampleJSONDecoder() {
	dec := record.NewJSONDecoder(record.JSONOptions{})
	var r record.Record // reused for every event
	err := dec.DecodeString(`{"product_id":44600062,"category_id":2103807459595387724,"price":35.79,"tags":["new"]}`, &r)
	if err != nil {
		panic(err)
	}
	id, _ := r.Get("category_id")
	price, _ := r.Get("price")
	tag, _ := r.Lookup("tags[0]")
	fmt.Println(id.Kind(), id.Long())
	fmt.Println(price.Kind(), price.Double(), price.NumberText())
	fmt.Println(tag.Str())
	// Output:
	// long 2103807459595387724
	// double 35.79 35.79
	// new
}

func ExampleCSVReader() {
	schema, err := record.ParseSchemaJSON([]byte(`[
		{"name":"event_time","type":"timestamp('yyyy-MM-dd HH:mm:ss z')","nullable":false},
		{"name":"product_id","type":"long","nullable":false},
		{"name":"brand","type":"string","nullable":true}]`))
	if err != nil {
		panic(err)
	}
	in := "event_time,product_id,brand\n2019-10-01 00:00:00 UTC,44600062,\n"
	cr, err := record.NewCSVReader(strings.NewReader(in), record.CSVOptions{Schema: schema})
	if err != nil {
		panic(err)
	}
	var r record.Record
	if err := cr.Read(&r); err != nil {
		panic(err)
	}
	fmt.Println(r.String())
	fmt.Println(schema.Validate(&r))
	// Output:
	// {"event_time":"2019-10-01T00:00:00Z","product_id":44600062,"brand":null}
	// <nil>
}

func ExampleParseType() {
	t, err := record.ParseType("struct<id:bigint, tags:array<string>, v:choice<string,long>>")
	if err != nil {
		panic(err)
	}
	fmt.Println(t)
	fmt.Println(t.HiveString())
	fmt.Println(record.MergeTypes(record.TypeLong, record.TypeString))
	// Output:
	// struct<id:long,tags:array<string>,v:choice<long,string>>
	// struct<id:bigint,tags:array<string>,v:string>
	// choice<long,string>
}

func ExampleSchema_Validate() {
	schema := record.MustSchema(
		record.Column{Name: "price", Type: record.TypeDouble},
		record.Column{Name: "items", Type: record.MustParseType("array<struct<product_id:long not null>>"), Nullable: true},
	)
	var r record.Record
	_ = record.NewJSONDecoder(record.JSONOptions{}).DecodeString(`{"price":"cheap","items":[{"product_id":1},{}]}`, &r)
	fmt.Println(schema.Validate(&r))
	// Output:
	// record: 2 violations: price: expected double: cannot cast string "cheap" to double: not a number; items[1].product_id: missing
}

func ExampleDetectTimeFormat() {
	f, kind, ok := record.DetectTimeFormat("2019-10-01 00:00:00 UTC")
	fmt.Println(f, kind, ok)
	t, _ := f.ParseTime("2019-10-01 00:00:07 UTC")
	fmt.Println(t)
	// Output:
	// yyyy-MM-dd HH:mm:ss z timestamp true
	// 2019-10-01 00:00:07 +0000 UTC
}
