package api

import (
	"testing"

	"github.com/pricestream/pricestream/internal/table/expr"
	"github.com/pricestream/pricestream/internal/table/item"
)

// FuzzDecodeItemRequest feeds native item-write bodies through everything
// a handler does before it touches a table.
func FuzzDecodeItemRequest(f *testing.F) {
	for _, s := range []string{
		`{"item":{"product_id":"p1","price":129.99,"tags":["a"]},"condition":"attribute_not_exists(product_id)"}`,
		`{"update":"SET #p = #p + :d","names":{"#p":"price"},"values":{":d":0.01},"return_values":"ALL_NEW"}`,
		`{"item":{"id":12345678901234567890123}}`,
		`{"values":{}}`, `{"item":1}`, `{"unknown":1}`, `{`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var req ItemRequest
		if DecodeItemRequest(body, &req) != nil {
			return
		}
		if len(req.Item) > 0 {
			_, _ = item.ParseJSON(req.Item, "item")
		}
		vals, err := plainValues(req.Values)
		if err != nil {
			return
		}
		c, err := expr.NewCompiler(req.Names, vals)
		if err != nil {
			return
		}
		if req.Update != "" {
			_, _ = c.Update(req.Update)
		}
		if req.Condition != "" {
			_, _ = c.Condition(req.Condition)
		}
		_ = c.Done()
	})
}
