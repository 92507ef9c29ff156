package etl

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// A map of flat fields finds where its fields go once per record (each
// where it was in the last record, or one pass over the record when one
// is not): it sets what a record has in place and appends what it lacks,
// a field named twice sets one field, and records of other shapes in
// turn (fields moved, missing, or there before the map) come out as the general
// path (a lookup of each field) makes them.
func TestETLMapFieldPlaces(t *testing.T) {
	specs := []FieldExprSpec{
		{Field: "total", Expr: "price * quantity"},
		{Field: "quantity", Expr: "quantity > 0 ? quantity : 1"},
		{Field: "big", Expr: "total > 50"},
		{Field: "total", Expr: "total + 1"}, // the same field again
		{Field: "device", Expr: `device == "" ? "web" : device`},
	}
	def, _, err := compileMap(specs, clickSchema(t))
	require.NoError(t, err)
	flat := def.build(&stageEnv{ev: &exprEval{}})
	// The general path: a dotted field among them makes a map take it.
	gdef, _, err := compileMap(append(specs[:len(specs):len(specs)], FieldExprSpec{Field: "billing.zip", Expr: `"75001"`}), clickSchema(t))
	require.NoError(t, err)
	general := gdef.build(&stageEnv{ev: &exprEval{}})

	mk := func(fields ...record.Field) *record.Record {
		r := record.New(len(fields))
		for _, f := range fields {
			r.Append(f.Name, f.Value)
		}
		return r
	}
	f := func(name string, v record.Value) record.Field { return record.Field{Name: name, Value: v} }
	shapes := []func() *record.Record{
		func() *record.Record { // the schema's order, no total
			return mk(f("event_type", record.StringValue("view")), f("price", record.DoubleValue(30)), f("quantity", record.LongValue(2)), f("device", record.StringValue("")))
		},
		func() *record.Record { // moved, and a total already there
			return mk(f("total", record.DoubleValue(0)), f("device", record.StringValue("ios")), f("quantity", record.LongValue(0)), f("price", record.DoubleValue(70)))
		},
		func() *record.Record { // no device, big there already
			return mk(f("big", record.BoolValue(true)), f("quantity", record.LongValue(3)), f("price", record.DoubleValue(10)))
		},
		func() *record.Record { return mk() }, // nothing at all
	}
	ctx := context.Background()
	for round := range 3 {
		for i, shape := range shapes {
			got, err := flat(ctx, shape())
			require.NoError(t, err)
			want, err := general(ctx, shape())
			require.NoError(t, err)
			w := want[0]
			w.Delete("billing") // the general map's extra field
			require.Equal(t, w.Fields(), got[0].Fields(), "round %d, shape %d", round, i)
		}
	}
	// What the first shape becomes, spelled out.
	got, err := flat(ctx, shapes[0]())
	require.NoError(t, err)
	require.Equal(t, []record.Field{
		f("event_type", record.StringValue("view")), f("price", record.DoubleValue(30)), f("quantity", record.LongValue(2)),
		f("device", record.StringValue("web")), f("total", record.DoubleValue(61)), f("big", record.BoolValue(true)),
	}, got[0].Fields())
}

// fieldSet.find finds what a scan of the fields for each name finds: the
// first field of each name, or none, among fields whose names share
// lengths, first and last bytes with the names looked for.
func TestETLFieldSetFind(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	alphabet := "pvtc_e"
	word := func() string {
		b := make([]byte, 1+rng.IntN(8))
		for i := range b {
			b[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return string(b)
	}
	for range 2000 {
		names := make([]string, 1+rng.IntN(6))
		for i := range names {
			names[i] = word()
		}
		fields := make([]record.Field, rng.IntN(30))
		for i := range fields {
			if rng.IntN(4) == 0 {
				fields[i].Name = names[rng.IntN(len(names))]
			} else {
				fields[i].Name = word()
			}
		}
		set := newFieldSet(names)
		at := make([]int, len(names))
		set.find(fields, at)
		for k, n := range names {
			want := slices.IndexFunc(fields, func(f record.Field) bool { return f.Name == n })
			require.Equal(t, want, at[k], "%q in %v", n, fields)
		}
	}
}
