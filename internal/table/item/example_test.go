package item_test

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/table/item"
)

// Numbers stay exact and come back in DynamoDB's canonical text.
func ExampleParseItem() {
	it, err := item.ParseItem([]byte(`{"product_id":{"S":"p-1"},"price":{"N":"129.990"},"sizes":{"NS":["42","40.0"]}}`), "Item")
	if err != nil {
		panic(err)
	}
	fmt.Println(string(it.AppendJSON(nil)))
	fmt.Println(it.Size(), "bytes")

	_, err = item.ParseItem([]byte(`{"price":{"N":"12x"}}`), "Item")
	fmt.Println(err)
	// Output:
	// {"price":{"N":"129.99"},"product_id":{"S":"p-1"},"sizes":{"NS":["40","42"]}}
	// 31 bytes
	// item: Item.price: N "12x" is not a number
}

// Plain JSON numbers are read from their text, not through float64.
func ExampleParseJSON() {
	it, err := item.ParseJSON([]byte(`{"order_id":"o-1","total":12345678901234567890.10}`), "Item")
	if err != nil {
		panic(err)
	}
	fmt.Println(it["total"].Type(), it["total"].N())
	fmt.Println(string(it.AppendPlainJSON(nil)))
	// Output:
	// N 12345678901234567890.1
	// {"order_id":"o-1","total":12345678901234567890.1}
}

// A producer that holds its values in another form writes an item's binary
// form without building the item; KeyOfBinary checks it as a table does.
func ExampleAppendBinaryHeader() {
	b := item.AppendBinaryHeader(nil, 3) // three attributes, names ascending
	b = item.AppendBinaryName(b, "price")
	b, err := item.AppendBinaryN(b, []byte("129.990"))
	if err != nil {
		panic(err)
	}
	b = item.AppendBinaryName(b, "product_id")
	b = item.AppendBinaryS(b, "p-1")
	b = item.AppendBinaryName(b, "tags")
	b = item.AppendBinaryL(b, 2)
	b = item.AppendBinaryS(b, "sale")
	b = item.AppendBinaryNULL(b)

	it, err := item.DecodeBinary(b)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(it.AppendPlainJSON(nil)))
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "product_id", Type: item.S}}
	key, err := ks.KeyOfBinary(b)
	fmt.Println(key.Partition.S(), err)
	_, err = item.KeySchema{Partition: item.KeyAttribute{Name: "price", Type: item.S}}.KeyOfBinary(b)
	fmt.Println(err)
	// Output:
	// {"price":129.99,"product_id":"p-1","tags":["sale",null]}
	// p-1 <nil>
	// item: One or more parameter values were invalid: Type mismatch for key price expected: S actual: N
}
