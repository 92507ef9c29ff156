package etl

import (
	"math"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func typedSchema(t *testing.T) *record.Schema {
	t.Helper()
	s, err := record.NewSchema(
		record.Column{Name: "s", Type: record.TypeString, Nullable: true},
		record.Column{Name: "t", Type: record.TypeString, Nullable: true},
		record.Column{Name: "n", Type: record.TypeDouble, Nullable: true},
		record.Column{Name: "m", Type: record.TypeDouble, Nullable: true},
		record.Column{Name: "i", Type: record.TypeLong, Nullable: true},
		record.Column{Name: "j", Type: record.TypeLong, Nullable: true},
		record.Column{Name: "b", Type: record.TypeBool, Nullable: true},
		record.Column{Name: "ts", Type: record.TypeTime, Nullable: true},
		record.Column{Name: "u", Type: record.TypeTime, Nullable: true},
		record.Column{Name: "d", Type: record.TypeDate, Nullable: true},
		record.Column{Name: "st", Type: record.StructType(
			record.Column{Name: "city", Type: record.TypeString, Nullable: true},
			record.Column{Name: "zip", Type: record.TypeLong, Nullable: true},
		), Nullable: true},
	)
	require.NoError(t, err)
	return s
}

// typedRecords are records of typedSchema's fields, some of other kinds
// than the schema says, missing, null, in another order, or at the edges
// of their kinds.
func typedRecords() []*record.Record {
	rec := func(kv ...any) *record.Record {
		r := record.New(len(kv) / 2)
		for i := 0; i < len(kv); i += 2 {
			r.Append(kv[i].(string), kv[i+1].(record.Value))
		}
		return r
	}
	city := func(c string, zip int64) record.Value {
		return record.StructValue(rec("city", record.StringValue(c), "zip", record.LongValue(zip)))
	}
	const ts = 1569888010 * int64(1e9)
	return []*record.Record{
		rec("s", record.StringValue("view"), "t", record.StringValue("cart"), "n", record.DoubleValue(35.5), "m", record.DoubleValue(-2.25),
			"i", record.LongValue(3), "j", record.LongValue(0), "b", record.BoolValue(true), "ts", record.TimestampNanos(ts), "u", record.TimestampNanos(ts-2500),
			"d", record.DateValue(18170), "st", city("Paris", 75001)),
		rec("s", record.StringValue("cart"), "t", record.StringValue("view"), "n", record.DoubleValue(-1), "m", record.DoubleValue(4),
			"i", record.LongValue(-7), "j", record.LongValue(2), "b", record.BoolValue(false), "ts", record.TimestampNanos(ts-1),
			"d", record.DateValue(18171), "st", city("", -1)),
		rec("s", record.NullValue(), "t", record.NullValue(), "n", record.NullValue(), "m", record.NullValue(), "i", record.NullValue(),
			"j", record.NullValue(), "b", record.NullValue(), "ts", record.NullValue(), "d", record.NullValue(), "st", record.NullValue()),
		rec(),
		// another order, extra fields, some missing
		rec("x", record.LongValue(1), "st", city("Oslo", 150), "j", record.LongValue(5), "i", record.LongValue(12), "s", record.StringValue("purchase"),
			"n", record.DoubleValue(0.5)),
		// kinds other than the schema's
		rec("s", record.LongValue(7), "t", record.DoubleValue(1.5), "n", record.StringValue("abc"), "m", record.LongValue(9),
			"i", record.DoubleValue(2.5), "j", record.StringValue("4"), "b", record.StringValue("true"), "ts", record.StringValue("2019-10-01T00:00:10Z"),
			"d", record.TimestampNanos(ts), "st", record.StringValue("Paris")),
		// edges: NaN, infinities, zeros of both signs, the extreme ints
		rec("s", record.StringValue(""), "t", record.StringValue(""), "n", record.DoubleValue(math.NaN()), "m", record.DoubleValue(math.Inf(1)),
			"i", record.LongValue(math.MinInt64), "j", record.LongValue(-1), "b", record.BoolValue(true), "ts", record.TimestampNanos(0),
			"d", record.DateValue(0)),
		rec("n", record.DoubleValue(0), "m", record.DoubleValue(math.Copysign(0, -1)), "i", record.LongValue(0), "j", record.LongValue(0),
			"s", record.StringValue("view"), "t", record.StringValue("view")),
		rec("i", record.LongValue(math.MaxInt64), "j", record.LongValue(math.MaxInt64), "n", record.DoubleValue(math.Inf(-1)), "m", record.DoubleValue(math.NaN())),
		// times whose difference overflows nanoseconds either way
		rec("ts", record.TimestampNanos(math.MaxInt64), "u", record.TimestampNanos(math.MinInt64), "d", record.DateValue(-100000)),
		rec("ts", record.TimestampNanos(math.MinInt64), "u", record.TimestampNanos(1), "d", record.DateValue(100000)),
	}
}

// sameValue compares values exactly: doubles bit for bit (0 and -0
// differ in a row's JSON).
func sameValue(a, b record.Value) bool {
	if a.Kind() == record.KindDouble && b.Kind() == record.KindDouble {
		return math.Float64bits(a.Double()) == math.Float64bits(b.Double())
	}
	return a.Equal(b)
}

func TestETLExprTypedMatchesEval(t *testing.T) {
	schema := typedSchema(t)
	recs := typedRecords()
	for _, tc := range []struct {
		src   string
		typed bool // the root has a closure (false: it may be null, eval runs)
	}{
		// strings: field and literal on either side, ordering, sets
		{`s == "view"`, true}, {`"view" == s`, true}, {`s != "view"`, true}, {`s == t`, true}, {`s != t`, true},
		{`s < t`, true}, {`s <= "view"`, true}, {`"m" < s`, true}, {`"m" >= s`, true}, {`s > t`, true}, {`s >= t`, true},
		{`s in ["view", "cart"]`, true}, {`!(s in ["x"])`, true}, {`(b ? s : t) in ["cart"]`, true}, {`s == ""`, true},
		// numbers: ints, doubles, mixed, literal on either side
		{`n > 30`, true}, {`30 < n`, true}, {`n >= m`, true}, {`n <= 35.5`, true}, {`n < i`, true}, {`i > 2`, true},
		{`2 < i`, true}, {`2 >= i`, true}, {`i >= j`, true}, {`i <= 3`, true}, {`i < n`, true}, {`i < 2.5`, true}, {`n > 0 == true`, true},
		{`n == 35.5`, true}, {`i == 3`, true}, {`3 == i`, true}, {`i == n`, true}, {`n == m`, true}, {`i != j`, true}, {`n != 1`, true},
		{`1 == 1.0`, true}, {`n * 2 == n + n`, true}, {`i + 1 > j * 2`, true}, {`-n < m`, true}, {`n / 0 > 1`, true},
		// booleans
		{`b`, true}, {`!b`, true}, {`b == true`, true}, {`b != false`, true}, {`b == (i > 2)`, true}, {`true == b`, true},
		{`isnull(n)`, true}, {`isnull(st.city)`, true}, {`!isnull(s)`, true},
		{`b && i > 2`, true}, {`b || n < 0`, true}, {`!(b && s == "x")`, true}, {`b and not (i > 2) or s == "cart"`, true},
		{`i > 2 ? b : !b`, true}, {`(i > 2 ? b : false) == b`, true},
		// arithmetic
		{`n * i`, true}, {`n + m`, true}, {`n - 1`, true}, {`n / m`, true}, {`i / j`, true}, {`n / 0`, true}, {`i * 2`, true},
		{`i + j`, true}, {`i - 7`, true}, {`2 - i`, true}, {`i * j - i`, true}, {`-i`, true}, {`-n`, true}, {`-(i * 2) * 1.5`, true},
		{`-i * 1.0`, true}, {`-j * 0.5`, true}, {`+n`, true}, {`i % 2`, false}, {`i % j`, false}, {`(i % j) == 0`, true},
		{`(i % j) + 1`, true}, {`-(i % j)`, false}, {`(i % j) * 1.5`, true}, {`-(i % j) * 1.5`, true}, {`(i % j) > -1`, true},
		{`n * 1e308 * 10`, true}, {`i * i * i`, true}, {`(n + i) / (m - j)`, true},
		// conditionals, of every kind, and with a branch that may be null
		{`i > 2 ? n : 0`, true}, {`i > 2 ? i : 1`, true}, {`i > 2 ? i : 1.5`, true}, {`b ? s : t`, true}, {`b ? "a" : s`, true},
		{`b ? ts : ts`, true}, {`j == 0 ? i % j : 2`, false}, {`j == 0 ? 1.5 : i % j`, false}, {`(j == 0 ? 1.5 : i % j) > 1`, true},
		{`(j == 0 ? i % j : 2) + 1`, true}, {`b ? nil : nil`, false}, {`b ? -n : -i`, true}, {`b ? -j : 0.5`, true},
		{`i > 2 && (n > 30 || s == "cart") ? n * i : -1.5`, true}, {`(b ? n : m) < (b ? i : j)`, true},
		// times and dates
		{`ts > ts`, true}, {`ts == ts`, true}, {`ts >= d`, true}, {`d == d`, true}, {`d < ts`, true}, {`ts`, true}, {`d`, true},
		// max and min of one kind, seconds between time fields
		{`max(n, m)`, true}, {`min(n, m)`, true}, {`max(3.0, n)`, true}, {`max(i, j)`, true}, {`min(i, 2)`, true},
		{`max(3.0, (ts - d).Seconds())`, true}, {`(ts - ts).Seconds()`, true}, {`(d - ts).Seconds() / 60`, true},
		{`(ts - u).Seconds()`, true}, {`(u - ts).Seconds()`, true}, {`min(1e9, (u - ts).Seconds())`, true},
		{`max(n, m) > min(i, j) * 1.5`, true},
		// nested fields
		{`st.city == "Paris"`, true}, {`st.zip > 75000`, true}, {`st.city`, true}, {`st.zip * 2`, true},
		// bare fields, nil
		{`s`, true}, {`n`, true}, {`i`, true}, {`nil`, false}, {`nil == nil`, true}, {`s == nil`, true}, {`n != nil`, true},
	} {
		e, err := compileExpr(tc.src, schema, wantAny)
		require.NoError(t, err, tc.src)
		require.NotNil(t, e.fast, "%s: not on the fast path", tc.src)
		typed := e.typed.b != nil || e.typed.i != nil || e.typed.t != nil || e.typed.f != nil || e.typed.s != nil
		require.Equal(t, tc.typed, typed, "%s: root closure", tc.src)
		gen := *e
		gen.typed = typedFn{}
		var ev exprEval
		for ri, r := range recs {
			want, err := ev.Value(&gen, r, r)
			require.NoError(t, err)
			got, err := ev.Value(e, r, r)
			require.NoError(t, err)
			require.True(t, sameValue(want, got), "%s on record %d: Value %s, eval %s", tc.src, ri, got, want)

			wb, _ := ev.Bool(&gen, r)
			gb, _ := ev.Bool(e, r)
			require.Equal(t, wb, gb, "%s on record %d: Bool", tc.src, ri)

			wf, wok, _ := ev.Number(&gen, r)
			gf, gok, _ := ev.Number(e, r)
			require.Equal(t, wok, gok, "%s on record %d: Number ok", tc.src, ri)
			require.Equal(t, math.Float64bits(wf), math.Float64bits(gf), "%s on record %d: Number %v, eval %v", tc.src, ri, gf, wf)
		}
	}
}

// TestETLExprFastMatchesVM runs the expressions the fast path took over
// from the VM (max and min, the seconds between two times) both ways on
// records with nulls, missing fields, other kinds and edge values: the
// results must be the same, bit for bit.
func TestETLExprFastMatchesVM(t *testing.T) {
	schema := typedSchema(t)
	recs := typedRecords()
	for _, tc := range []struct {
		src  string
		fast bool
	}{
		{`max(n, m)`, true}, {`min(n, m)`, true}, {`max(3.0, n)`, true}, {`min(n, 3.0)`, true}, {`max(i, j)`, true},
		{`min(i, j)`, true}, {`max(i, 2)`, true}, {`max(-n, m * 2)`, true}, {`max(b ? n : m, 1.5)`, true},
		{`(ts - d).Seconds()`, true}, {`(d - ts).Seconds()`, true}, {`(ts - ts).Seconds()`, true},
		{`max(3.0, (ts - d).Seconds())`, true}, {`i > 2 ? (ts - d).Seconds() / max(1.0, n) : 0.0`, true},
		{`(ts - u).Seconds()`, true}, {`(u - ts).Seconds()`, true}, {`max((u - ts).Seconds(), (ts - u).Seconds())`, true},
		{`min(i, j) - max(j, 2)`, true},
		// left to the VM: mixed kinds keep the winner's type there, a
		// maybe-null operand, a time that is not a field, other methods
		{`max(n, i)`, false}, {`max(i % j, 1)`, false}, {`((b ? ts : ts) - d).Seconds()`, false}, {`(ts - d).Minutes()`, false},
	} {
		e, err := compileExpr(tc.src, schema, wantAny)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.fast, e.fast != nil, "%s: fast path", tc.src)
		if e.fast == nil {
			continue
		}
		vm := *e
		vm.fast, vm.typed = nil, typedFn{}
		var ev exprEval
		for ri, r := range recs {
			want, err := ev.Value(&vm, r, r)
			require.NoError(t, err, tc.src)
			got, err := ev.Value(e, r, r)
			require.NoError(t, err, tc.src)
			require.True(t, sameValue(want, got), "%s on record %d: fast %s, VM %s", tc.src, ri, got, want)
		}
	}
}
