package expr

import (
	"testing"

	"github.com/pricestream/pricestream/internal/table/item"
)

// benchItemJSON is the 20-attribute products item of the pricing
// pipeline (the same as item's benchmark item).
const benchItemJSON = `{
 "product_id":{"S":"p-000123"},"name":{"S":"Air Runner 2"},"brand":{"S":"Fast Sneakers"},
 "category":{"S":"running"},"base_price":{"N":"129.99"},"price":{"N":"119.99"},
 "min_price":{"N":"89.99"},"max_price":{"N":"159.99"},"inventory":{"N":"420"},
 "price_revision":{"N":"17"},"on_sale":{"BOOL":true},"discontinued":{"BOOL":false},
 "tags":{"SS":["running","sale","summer"]},"sizes":{"NS":["40","41","42","43","44.5"]},
 "attributes":{"M":{"color":{"S":"red"},"weight_g":{"N":"280"},"material":{"S":"mesh"}}},
 "history":{"L":[{"N":"129.99"},{"N":"124.99"},{"N":"119.99"}]},
 "updated_at":{"S":"2019-10-01T00:00:00Z"},"views_1h":{"N":"1532"},
 "conversion":{"N":"0.0342"},"note":{"NULL":true}}`

// The price write of the pricing function: new price, revision bump,
// history, a counter, and the guard on the revision read.
const (
	benchUpdate    = "SET price = :p, price_revision = price_revision + :one, updated_at = :now, history = list_append(history, :h) ADD views_1h :one REMOVE note"
	benchCondition = "attribute_exists(product_id) AND price_revision = :rev AND :p BETWEEN min_price AND max_price"
)

func benchValues(b *testing.B) map[string]item.Value {
	it, err := item.ParseItem([]byte(`{":p":{"N":"114.99"},":one":{"N":"1"},":now":{"S":"2019-10-01T00:05:00Z"},
		":h":{"L":[{"N":"114.99"}]},":rev":{"N":"17"}}`), "")
	if err != nil {
		b.Fatal(err)
	}
	return it
}

func benchItem(b *testing.B) item.Item {
	it, err := item.ParseItem([]byte(benchItemJSON), "")
	if err != nil || len(it) != 20 {
		b.Fatal(err, len(it))
	}
	return it
}

func BenchmarkUpdateCompile(b *testing.B) {
	values := benchValues(b)
	delete(values, ":rev")
	names := map[string]string{}
	b.ReportAllocs()
	for b.Loop() {
		c, err := NewCompiler(nil, values)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Update(benchUpdate); err != nil {
			b.Fatal(err)
		}
		if err := c.Done(); err != nil {
			b.Fatal(err)
		}
	}
	_ = names
}

func BenchmarkConditionCompile(b *testing.B) {
	values := map[string]item.Value{":rev": item.IntValue(17), ":p": item.IntValue(100)}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CompileCondition(benchCondition, nil, values); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkConditionEval(b *testing.B) {
	values := map[string]item.Value{":rev": item.IntValue(17), ":p": item.IntValue(100)}
	c, err := CompileCondition(benchCondition, nil, values)
	if err != nil {
		b.Fatal(err)
	}
	it := benchItem(b)
	b.ReportAllocs()
	for b.Loop() {
		ok, _ := c.Eval(it)
		if !ok {
			b.Fatal("condition false")
		}
	}
}

func BenchmarkUpdateApply(b *testing.B) {
	values := benchValues(b)
	delete(values, ":rev")
	u, err := CompileUpdate(benchUpdate, nil, values)
	if err != nil {
		b.Fatal(err)
	}
	it := benchItem(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := u.Apply(it); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkProjectionApply(b *testing.B) {
	p, err := CompileProjection("product_id, price, attributes.color, history[0]", nil)
	if err != nil {
		b.Fatal(err)
	}
	it := benchItem(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = p.Apply(it)
	}
}
