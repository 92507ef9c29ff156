package expr

import (
	"bytes"
	"testing"

	"github.com/pricestream/pricestream/internal/table/item"
)

// The fuzz targets compile arbitrary expressions against a fixed set of
// names and values and, when they compile, evaluate them against a sample
// item. Nothing may panic, Apply may not change its input, and a result
// that validates must survive the binary round trip.

var fuzzNames = map[string]string{"#a": "price", "#b": "attrs", "#c": "size", "#d": "name", "#e": "x.y"}

func fuzzValues() map[string]item.Value {
	it, err := item.ParseItem([]byte(`{
		":v":{"N":"1"},":z":{"N":"0"},":big":{"N":"9e125"},":s":{"S":"x"},":t":{"S":"N"},
		":b":{"B":"AQI="},":l":{"L":[{"N":"1"},{"S":"a"}]},":m":{"M":{"k":{"M":{"k":{"S":"v"}}}}},
		":ss":{"SS":["a","b"]},":ns":{"NS":["1","2"]},":bs":{"BS":["AQ=="]},":T":{"BOOL":true},":n":{"NULL":true}}`), "")
	if err != nil {
		panic(err)
	}
	return it
}

const fuzzItemJSON = `{"pk":{"S":"p-1"},"sk":{"N":"5"},"price":{"N":"129.99"},"title":{"S":"Air"},
	"tags":{"SS":["a","sale"]},"sizes":{"NS":["40","41"]},"hist":{"L":[{"N":"0"},{"L":[{"S":"x"}]},{"N":"2"}]},
	"attrs":{"M":{"color":{"S":"red"},"dims":{"M":{"w":{"N":"10"}}}}},"bin":{"B":"AQID"},"on":{"BOOL":true},"no":{"NULL":true}}`

func fuzzItem(t *testing.T) item.Item {
	it, err := item.ParseItem([]byte(fuzzItemJSON), "")
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func addSeeds(f *testing.F, seeds ...string) {
	for _, s := range seeds {
		f.Add(s)
	}
}

func FuzzCondition(f *testing.F) {
	addSeeds(f,
		"attribute_not_exists(pk)",
		"price_revision = :v AND price BETWEEN :z AND :big",
		"#a < :v OR NOT (size(tags) > :v AND contains(tags, :s))",
		"begins_with(title, :s) AND attribute_type(#b, :t) AND hist[1][0] IN (:s, :v, :l)",
		"((#b.color = :s) AND (#b.dims.w >= :v))",
		"price <> :v AND size(:l) = :v",
	)
	f.Fuzz(func(t *testing.T, src string) {
		c, err := NewCompiler(fuzzNames, fuzzValues())
		if err != nil {
			t.Fatal(err)
		}
		for _, compile := range []func(string) (*Condition, error){c.Condition, c.Filter} {
			cond, err := compile(src)
			if err != nil {
				checkErr(t, err)
				continue
			}
			it := fuzzItem(t)
			if _, err := cond.Eval(it); err != nil {
				t.Fatal(err)
			}
			if _, err := cond.Eval(nil); err != nil {
				t.Fatal(err)
			}
			_ = cond.Attributes()
		}
	})
}

func FuzzUpdate(f *testing.F) {
	addSeeds(f,
		"SET price = :v, price_revision = if_not_exists(price_revision, :z) + :v",
		"SET hist = list_append(hist, :l), #b.color = :s REMOVE title, hist[0] ADD tags :ss, n :v DELETE sizes :ns",
		"SET hist[7] = :v, hist[1][0] = :m, #b.dims.h = :T REMOVE #b.dims.w",
		"set #a = #a - :v remove #d add #c :v",
		"SET deep.a.b = :v",
	)
	f.Fuzz(func(t *testing.T, src string) {
		c, err := NewCompiler(fuzzNames, fuzzValues())
		if err != nil {
			t.Fatal(err)
		}
		u, err := c.Update(src)
		if err != nil {
			checkErr(t, err)
			return
		}
		for _, it := range []item.Item{fuzzItem(t), nil} {
			before, _ := it.MarshalBinary()
			next, err := u.Apply(it)
			after, _ := it.MarshalBinary()
			if !bytes.Equal(before, after) {
				t.Fatalf("Apply(%q) changed its input", src)
			}
			if err != nil {
				checkErr(t, err)
				continue
			}
			if next.Validate() == nil {
				b, _ := next.MarshalBinary()
				if _, err := item.DecodeBinary(b); err != nil {
					t.Fatalf("result of %q does not round trip: %v", src, err)
				}
			}
			_ = u.Projection().Apply(next)
		}
		_ = u.CheckKey(item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}})
	})
}

func FuzzKeyCondition(f *testing.F) {
	addSeeds(f,
		"pk = :s",
		"pk = :s AND sk BETWEEN :z AND :v",
		"(sk > :v) AND (pk = :s)",
		"pk = :s AND begins_with(sk, :s)",
	)
	ks := item.KeySchema{Partition: item.KeyAttribute{Name: "pk", Type: item.S}, Sort: item.KeyAttribute{Name: "sk", Type: item.N}}
	f.Fuzz(func(t *testing.T, src string) {
		c, err := NewCompiler(fuzzNames, fuzzValues())
		if err != nil {
			t.Fatal(err)
		}
		kc, err := c.KeyCondition(src, ks)
		if err != nil {
			checkErr(t, err)
			return
		}
		_ = kc.Match(fuzzItem(t))
		_, _ = kc.Bounds()
	})
}

func FuzzProjection(f *testing.F) {
	addSeeds(f, "pk, price", "#b.dims.w, hist[1][0], hist[2]", "#c, #d, #e", "a.b[0].c")
	f.Fuzz(func(t *testing.T, src string) {
		c, err := NewCompiler(fuzzNames, nil)
		if err != nil {
			t.Fatal(err)
		}
		p, err := c.Projection(src)
		if err != nil {
			checkErr(t, err)
			return
		}
		_ = p.Apply(fuzzItem(t))
	})
}

// checkErr insists that every error is a *ValidationError with a message.
func checkErr(t *testing.T, err error) {
	ve, ok := err.(*ValidationError)
	if !ok || ve.Message() == "" || ve.Error() == "" {
		t.Fatalf("unexpected error %T: %v", err, err)
	}
}
