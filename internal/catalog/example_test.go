package catalog_test

import (
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
)

func ExampleDecodeDocuments() {
	docs, err := catalog.DecodeDocuments([]byte(`kind: catalog_table
database: shop
name: clicks
location: {stream: clicks}
columns:
  - {name: event_time, type: "timestamp('yyyy-MM-dd HH:mm:ss z')", nullable: false}
  - {name: price, type: dubble}
`), "clicks.yaml")
	fmt.Println(len(docs), err)
	// Output:
	// 0 catalog: invalid definition in clicks.yaml: 7:25: columns[1].type: offset 0 of "dubble": unknown type "dubble"
}

func ExampleCheckCompatibility() {
	v1 := record.MustSchema(record.Column{Name: "event_id", Type: record.TypeString})
	v2 := record.MustSchema(
		record.Column{Name: "event_id", Type: record.TypeString},
		record.Column{Name: "quantity", Type: record.TypeInt}, // not nullable: old data lack it
	)
	err := catalog.CheckCompatibility(catalog.CompatBackward, v2, v1)
	fmt.Println(errors.Is(err, catalog.ErrIncompatible))
	fmt.Println(err)
	fmt.Println(catalog.CheckCompatibility(catalog.CompatForward, v2, v1))
	// Output:
	// true
	// catalog: incompatible schema: BACKWARD with the previous schema: column "quantity": the new schema needs it (not nullable), but data written with the earlier schema lack it; make it nullable
	// <nil>
}

func ExampleDiffTables() {
	cols := func(s string) *record.Schema {
		return record.MustSchema(record.MustParseType("struct<" + s + ">").Fields...)
	}
	a := &catalog.Table{Database: "shop", Name: "clicks", Version: 1, Schema: cols("price double not null, color string")}
	b := &catalog.Table{Database: "shop", Name: "clicks", Version: 2, Schema: cols("price decimal(10,2) not null, brand string"),
		Description: "clicks"}
	fmt.Print(catalog.DiffTables(a, b))
	// Output:
	// shop.clicks: version 1 -> 2
	//   - color string
	//   ~ price: double -> decimal(10,2)
	//   + brand string
	//   ~ description: (none) -> clicks
}
