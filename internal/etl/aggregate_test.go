package etl

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestETLAggregateFastFolds checks the folds that skip the general path
// (a bare field read once, a count_if closure) against it: every kind of
// aggregate over fields of every kind, on records with nulls, missing
// fields, other kinds than the schema's and edge values.
func TestETLAggregateFastFolds(t *testing.T) {
	schema := typedSchema(t)
	var specs []AggregateSpec
	for _, f := range []string{"s", "n", "i", "b", "ts", "d", "st.city", "st.zip"} {
		specs = append(specs,
			AggregateSpec{Name: "min_" + f, Min: f}, AggregateSpec{Name: "max_" + f, Max: f},
			AggregateSpec{Name: "last_" + f, Last: f}, AggregateSpec{Name: "distinct_" + f, ApproxDistinct: f})
	}
	for _, f := range []string{"n", "i", "st.zip", "m"} {
		specs = append(specs, AggregateSpec{Name: "sum_" + f, Sum: f}, AggregateSpec{Name: "avg_" + f, Avg: f})
	}
	specs = append(specs,
		AggregateSpec{Name: "n", Count: true},
		AggregateSpec{Name: "views", CountIf: `s == "view"`}, AggregateSpec{Name: "big", CountIf: `n > 1 && i != 0`},
		AggregateSpec{Name: "odd", CountIf: `i % 2 == 1`}, AggregateSpec{Name: "flag", CountIf: `b`},
		AggregateSpec{Name: "sum_expr", Sum: `s == "view" ? n * i : 0`}, AggregateSpec{Name: "last_expr", Last: `b ? s : t`},
		// tests of fields against literals, sharing a read per field
		AggregateSpec{Name: "views_again", CountIf: `s == "view"`}, AggregateSpec{Name: "carts", CountIf: `"cart" == s`},
		AggregateSpec{Name: "not_cart", CountIf: `s != "cart"`}, AggregateSpec{Name: "t_view", CountIf: `t == "view"`},
		AggregateSpec{Name: "empty", CountIf: `s == ""`}, AggregateSpec{Name: "paris", CountIf: `st.city == "Paris"`},
		AggregateSpec{Name: "sum_int", Sum: `s == "cart" ? i : j`}, AggregateSpec{Name: "sum_mixed", Sum: `"view" != t ? i * 2 : n / 2`},
		AggregateSpec{Name: "avg_cond", Avg: `s == "view" ? n : 0`}, AggregateSpec{Name: "sum_null", Sum: `s == "view" ? i % j : 1`})
	aggs, err := compileAggregates(specs, schema, 100, 100)
	require.NoError(t, err)
	d := &windowDef{size: 100, slide: 100}
	d.setAggregates(aggs)
	d.setGroups()
	aggs = d.aggs
	slotted := 0
	for _, a := range aggs {
		if a.slot >= 0 {
			slotted++
		}
	}
	require.Equal(t, 11, slotted, "aggregates testing a field against a literal")
	require.Len(t, d.slots, 3)
	// The general path: add, with expressions evaluated by eval.
	general := make([]aggDef, len(aggs))
	fast := 0
	for i, a := range aggs {
		general[i] = a
		if a.e != nil {
			general[i].e = &Expr{src: a.e.src, prog: a.e.prog, fields: a.e.fields, out: a.e.out, fast: a.e.fast}
		}
		if a.bare != nil || a.cond != nil || a.slot >= 0 {
			fast++
		}
	}
	require.Greater(t, fast, len(aggs)*3/4, "most aggregates take a fast fold")
	var ev exprEval
	// The rows of one pane of two keys: folded by addAll and by add.
	w := newWindowOp(d, nil)
	fastKey, generalKey := newKeyState(d), newKeyState(d)
	fastAt, fastWords := make([]int, len(d.groups)), make([][]uint64, len(d.groups))
	w.paneRows(fastAt, fastWords, fastKey, 0)
	w.paneRows(make([]int, len(d.groups)), nil, generalKey, 0)
	gotRows, wantRows := w.rowsAt(fastKey, 0), w.rowsAt(generalKey, 0)
	for ri, r := range typedRecords() {
		et := int64(1000 - ri) // out of order: last keeps the latest event time
		require.NoError(t, d.addAll(fastKey.runs, fastAt, fastWords, &ev, r, et))
		for i := range general {
			require.NoError(t, general[i].add(&wantRows[general[i].group], &ev, r, et))
		}
		for _, a := range aggs {
			gp, wp := a.partialOf(&gotRows[a.group]), a.partialOf(&wantRows[a.group])
			got, want := &gp, &wp
			require.Equal(t, want.n, got.n, "%s after record %d: n", a.name, ri)
			require.Equal(t, math.Float64bits(want.f), math.Float64bits(got.f), "%s after record %d: f %v, want %v", a.name, ri, got.f, want.f)
			require.True(t, sameValue(want.v, got.v), "%s after record %d: v %s, want %s", a.name, ri, got.v, want.v)
			require.Equal(t, want.t, got.t, "%s after record %d: t", a.name, ri)
			require.Equal(t, want.hll == nil, got.hll == nil, "%s after record %d: hll", a.name, ri)
			if want.hll != nil {
				require.Equal(t, *want.hll, *got.hll, "%s after record %d: hll", a.name, ri)
			}
		}
	}
}
