package expr_test

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// The pricing function's conditional price write: compile the request's
// expressions once, check the guard, apply the update.
func Example() {
	product, _ := item.ParseItem([]byte(`{"product_id":{"S":"p-1"},"price":{"N":"129.99"},"price_revision":{"N":"17"}}`), "Item")
	values, _ := item.ParseItem([]byte(`{":p":{"N":"119.99"},":rev":{"N":"17"},":one":{"N":"1"}}`), "ExpressionAttributeValues")

	c, err := expr.NewCompiler(nil, values)
	if err != nil {
		panic(err)
	}
	guard, err := c.Condition("price_revision = :rev")
	if err != nil {
		panic(err)
	}
	update, err := c.Update("SET price = :p, price_revision = price_revision + :one")
	if err != nil {
		panic(err)
	}
	if err := c.Done(); err != nil { // every name and value used
		panic(err)
	}

	ok, _ := guard.Eval(product)
	fmt.Println("guard holds:", ok)
	next, err := update.Apply(product)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(next.AppendJSON(nil)))
	// Output:
	// guard holds: true
	// {"price":{"N":"119.99"},"price_revision":{"N":"18"},"product_id":{"S":"p-1"}}
}

// A malformed expression names the position and the token.
func ExampleValidationError() {
	_, err := expr.CompileUpdate("SET price = :p AND x", nil, map[string]item.Value{":p": item.IntValue(1)})
	fmt.Println(err)
	fmt.Println(err.(*expr.ValidationError).Message())
	// Output:
	// expr: invalid UpdateExpression: syntax error at 15 near "AND"
	// Invalid UpdateExpression: Syntax error; token: "AND", near: ":p AND x", position: 15
}

// A key condition gives the partition value and the byte range of the
// ordered key encoding that an index scans.
func ExampleKeyCondition() {
	ks := item.KeySchema{
		Partition: item.KeyAttribute{Name: "product_id", Type: item.S},
		Sort:      item.KeyAttribute{Name: "window_start", Type: item.N},
	}
	values := map[string]item.Value{":p": item.StringValue("p-1"), ":from": item.IntValue(1000)}
	kc, err := expr.CompileKeyCondition("product_id = :p AND window_start >= :from", ks, nil, values)
	if err != nil {
		panic(err)
	}
	start, end := kc.Bounds()
	fmt.Println(kc.Partition, kc.SortOp == expr.SortGE, kc.Sort)
	fmt.Printf("%x %x\n", start, end)
	// Output:
	// {"S":"p-1"} true {"N":"1000"}
	// 702d31000104850b00 702d310002
}
