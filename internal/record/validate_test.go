package record_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func TestCast(t *testing.T) {
	cases := []struct {
		in   record.Value
		typ  string
		want string // String() of the result; "" means an error
	}{
		{record.StringValue("42"), "long", "42"},
		{record.StringValue("x"), "long", ""},
		{record.StringValue("2147483648"), "int", ""},
		{record.LongValue(2147483648), "int", ""},
		{record.LongValue(7), "int", "7"},
		{record.DoubleValue(3), "long", "3"},
		{record.DoubleValue(3.5), "long", ""},
		{record.LongValue(3), "double", "3"},
		{record.StringValue("35.79"), "double", "35.79"},
		{record.StringValue("33.20"), "decimal(10,2)", "33.20"},
		{record.NumberValue(33.2, "33.20"), "decimal(10,2)", "33.20"},
		{record.DoubleValue(0.1), "decimal(5,3)", "0.100"},
		{record.StringValue("1.234"), "decimal(10,2)", ""},
		{record.StringValue("123456"), "decimal(5,0)", ""},
		{record.LongValue(5), "decimal(4,2)", "5.00"},
		{record.StringValue("TRUE"), "boolean", "true"},
		{record.StringValue("no"), "boolean", "false"},
		{record.LongValue(2), "boolean", ""},
		{record.LongValue(12), "string", `"12"`},
		{record.BoolValue(true), "string", `"true"`},
		{record.StringValue("2019-10-01 00:00:00 UTC"), "timestamp('yyyy-MM-dd HH:mm:ss z')", "2019-10-01T00:00:00Z"},
		{record.StringValue("2019-10-01 00:00:00 UTC"), "timestamp", "2019-10-01T00:00:00Z"},
		{record.StringValue("2019-10-01 00:00:00 UTC"), "timestamp('rfc3339')", ""},
		{record.LongValue(1569888000123), "timestamp('unix_millis')", "2019-10-01T00:00:00.123Z"},
		{record.LongValue(1569888000123), "timestamp", ""},
		{record.StringValue("2019-10-01T23:00:00Z"), "date", "2019-10-01"},
		{record.StringValue("AAEC"), "binary", "AAEC"},
		{record.StringValue("!!"), "binary", ""},
		{record.LongValue(1), "choice<long,string>", "1"},
		{record.StringValue("1"), "choice<long,string>", `"1"`},
		{record.BoolValue(true), "choice<long,string>", `"true"`},
		{record.NullValue(), "long", "null"},
		{record.LongValue(1), "null", ""},
		{record.ArrayValue([]record.Value{record.StringValue("1"), record.StringValue("2")}), "array<long>", "[1,2]"},
		{record.ArrayValue([]record.Value{record.StringValue("x")}), "array<long>", ""},
		{record.LongValue(1), "array<long>", ""},
	}
	for _, c := range cases {
		t.Run(c.in.String()+"->"+c.typ, func(t *testing.T) {
			got, err := record.Cast(c.in, record.MustParseType(c.typ))
			if c.want == "" {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, c.want, got.String())
		})
	}
}

func TestCastStructAndMap(t *testing.T) {
	var r record.Record
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{}).DecodeString(
		`{"o":{"qty":"2","price":"9.99","extra":1},"m":{"a":"1","b":"2"}}`, &r))
	o, _ := r.Get("o")
	got, err := record.Cast(o, record.MustParseType("struct<qty:int,price:decimal(5,2)>"))
	require.NoError(t, err)
	require.Equal(t, `{"qty":2,"price":9.99,"extra":1}`, got.String())
	m, _ := r.Get("m")
	got, err = record.Cast(m, record.MustParseType("map<string,long>"))
	require.NoError(t, err)
	require.Equal(t, record.KindMap, got.Kind())
	require.Equal(t, `{"a":1,"b":2}`, got.String())
	_, err = record.Cast(m, record.MustParseType("map<int,long>"))
	require.ErrorContains(t, err, `key "a"`)
}

func TestValidate(t *testing.T) {
	schema := record.MustSchema(
		record.Column{Name: "event_id", Type: record.TypeString},
		record.Column{Name: "price", Type: record.TypeDouble},
		record.Column{Name: "qty", Type: record.TypeInt},
		record.Column{Name: "time", Type: record.MustParseType("timestamp('rfc3339')")},
		record.Column{Name: "brand", Type: record.TypeString, Nullable: true},
		record.Column{Name: "items", Type: record.MustParseType("array<struct<product_id:long not null,unit_price:decimal(10,2)>>"), Nullable: true},
		record.Column{Name: "attrs", Type: record.MustParseType("map<string,string>"), Nullable: true},
		record.Column{Name: "v", Type: record.MustParseType("choice<long,string>"), Nullable: true},
	)
	dec := record.NewJSONDecoder(record.JSONOptions{})
	check := func(in string) []record.Violation {
		t.Helper()
		var r record.Record
		require.NoError(t, dec.DecodeString(in, &r))
		err := schema.Validate(&r)
		if err == nil {
			return nil
		}
		var ve *record.ValidationError
		require.ErrorAs(t, err, &ve)
		return ve.Violations
	}
	require.Empty(t, check(`{"event_id":"e1","price":35,"qty":2,"time":"2019-10-01T00:00:00Z"}`))
	require.Empty(t, check(`{"event_id":"e1","price":"35.5","qty":"2","time":"2019-10-01T00:00:00Z","brand":null,
		"items":[{"product_id":1,"unit_price":9.99},null],"attrs":{"color":"red"},"v":"x"}`))

	got := check(`{"event_id":7,"price":"cheap","qty":3000000000,"time":"2019-10-01 00:00:00 UTC","brand":true,
		"items":[{"unit_price":9.999},{"product_id":"p"}],"attrs":{"color":1},"v":true,"extra":1}`)
	want := []string{
		`event_id: expected string, found long 7`,
		`price: expected double: cannot cast string "cheap" to double: not a number`,
		`qty: expected int: cannot cast long 3000000000 to int: out of range`,
		`time: expected timestamp('rfc3339'): time "2019-10-01 00:00:00 UTC" does not match format "rfc3339" at offset 0: not RFC 3339 (needs 'T', seconds and a zone)`,
		`brand: expected string, found boolean true`,
		`items[0].product_id: missing`,
		`items[0].unit_price: expected decimal(10,2): cannot cast double 9.999 to decimal(10,2): more than 2 fraction digits`,
		`items[1].product_id: expected long: cannot cast string "p" to long: not a long`,
		`attrs["color"]: expected string, found long 1`,
		`v: expected choice<long,string>, found boolean true`,
		`extra: not in the schema`,
	}
	var gotS []string
	for _, v := range got {
		gotS = append(gotS, v.String())
	}
	require.Equal(t, want, gotS)

	got = check(`{"price":null}`)
	require.Equal(t, []record.Violation{
		{Path: "event_id", Reason: "missing"},
		{Path: "price", Reason: "null"},
		{Path: "qty", Reason: "missing"},
		{Path: "time", Reason: "missing"},
	}, got)

	var r record.Record
	require.NoError(t, dec.DecodeString(`{"event_id":"e","price":1,"qty":1,"time":"2019-10-01T00:00:00Z","extra":1}`, &r))
	require.NoError(t, record.NewValidator(schema, record.ValidateOptions{AllowExtra: true}).Validate(&r))
	require.EqualError(t, schema.Validate(&r), "record: 1 violation: extra: not in the schema")
}

func TestRecordOps(t *testing.T) {
	r := record.New(4)
	r.Set("a", record.LongValue(1))
	r.Set("b", record.LongValue(2))
	r.Set("a", record.LongValue(3))
	require.Equal(t, `{"a":3,"b":2}`, r.String())
	require.True(t, r.Rename("a", "c"))
	require.Equal(t, `{"c":3,"b":2}`, r.String())
	require.True(t, r.Rename("b", "c"))
	require.Equal(t, `{"c":2}`, r.String())
	require.False(t, r.Delete("zz"))
	r.Append("dotted.name", record.StringValue("whole"))
	v, ok := r.Lookup("dotted.name")
	require.True(t, ok)
	require.Equal(t, "whole", v.Str())
	_, ok = r.Lookup("c.x")
	require.False(t, ok)

	ref := record.NewRef("dotted.name")
	v, ok = ref.Get(r)
	require.True(t, ok)
	require.Equal(t, "whole", v.Str())
	require.Equal(t, 1, ref.Index(r))
	r.Delete("c")
	require.Equal(t, 0, ref.Index(r))
	_, ok = record.NewRef("nope").Get(r)
	require.False(t, ok)

	c := r.Clone()
	r.Reset()
	require.Equal(t, 0, r.Len())
	require.Equal(t, `{"dotted.name":"whole"}`, c.String())
}

func TestValueConversions(t *testing.T) {
	d, err := record.ParseDecimal("12.50")
	require.NoError(t, err)
	f, ok := d.AsDouble()
	require.True(t, ok)
	require.Equal(t, 12.5, f)
	_, ok = d.AsLong()
	require.False(t, ok)
	d, _ = record.ParseDecimal("1.5e3")
	n, ok := d.AsLong()
	require.True(t, ok)
	require.Equal(t, int64(1500), n)
	big, _ := record.ParseDecimal("-123456789012345678901234567.5")
	require.Equal(t, "-123456789012345678901234567.5", big.String())
	u, scale := big.Decimal()
	require.Equal(t, "-1234567890123456789012345675", u.String())
	require.Equal(t, 1, scale)
	for _, bad := range []string{"", "-", "1.2.3", "e5", "1e", "abc", "123456789012345678901234567890123456789"} {
		_, err := record.ParseDecimal(bad)
		require.Error(t, err, bad)
	}
	small, _ := record.ParseDecimal("0.05")
	require.Equal(t, "0.05", small.String())
	require.Equal(t, "0.05", small.Text())
	require.Equal(t, "2019-10-01", record.DateValue(18170).Text())
	require.Equal(t, "", record.NullValue().Text())
}

func TestRecordSetPath(t *testing.T) {
	r := record.New(2)
	r.Append("a", record.LongValue(1))
	r.SetPath("billing.address.city", record.StringValue("Oslo"))
	r.SetPath("billing.zip", record.StringValue("0150"))
	r.SetPath("a.b", record.BoolValue(true)) // replaces the long in the way
	r.SetPath("top", record.NullValue())
	require.Equal(t, `{"a":{"b":true},"billing":{"address":{"city":"Oslo"},"zip":"0150"},"top":null}`, r.String())
	v, ok := r.Lookup("billing.address.city")
	require.True(t, ok)
	require.Equal(t, "Oslo", v.Str())
}

func TestTypeWidens(t *testing.T) {
	cases := []struct {
		from, to string
		want     bool
	}{
		{"int", "long", true},
		{"long", "int", false},
		{"long", "double", true},
		{"null", "struct<a:int>", true},
		{"decimal(5,2)", "decimal(10,2)", true},
		{"decimal(5,2)", "decimal(10,1)", false},
		{"timestamp('yyyy-MM-dd HH:mm:ss z')", "timestamp", true},
		{"timestamp", "timestamp('rfc3339')", false},
		{"string", "long", false},
		{"long", "choice<long,string>", true},
		{"choice<int,string>", "choice<long,string>", true},
		{"choice<long,string>", "long", false},
		{"array<int>", "array<long>", true},
		{"map<string,int>", "map<string,double>", true},
		{"struct<a:int not null>", "struct<a:long,b:string>", true},
		{"struct<a:int>", "struct<a:long not null>", false},
		{"struct<a:int not null>", "struct<a:long not null,b:string not null>", false},
		{"struct<a:int,b:int>", "struct<a:int>", false},
	}
	for _, c := range cases {
		require.Equal(t, c.want, record.Widens(record.MustParseType(c.from), record.MustParseType(c.to)), "%s -> %s", c.from, c.to)
	}
}
