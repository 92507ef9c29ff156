package record_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func TestTypeParsePrint(t *testing.T) {
	cases := []struct {
		in, want string // want "" means in is canonical
		hive     string
	}{
		{in: "string"},
		{in: "int"},
		{in: "long", hive: "bigint"},
		{in: "BIGINT", want: "long", hive: "bigint"},
		{in: "double"},
		{in: "float", want: "double"},
		{in: "boolean"},
		{in: "bool", want: "boolean"},
		{in: "binary"},
		{in: "null", hive: "string"},
		{in: "decimal", want: "decimal(10,0)"},
		{in: "decimal(10,2)"},
		{in: "DECIMAL( 38 , 0 )", want: "decimal(38,0)"},
		{in: "varchar(20)", want: "string"},
		{in: "timestamp"},
		{in: "timestamp('yyyy-MM-dd HH:mm:ss z')", hive: "timestamp"},
		{in: `timestamp("rfc3339")`, want: "timestamp('rfc3339')", hive: "timestamp"},
		{in: "timestamp('unix_millis')", hive: "timestamp"},
		{in: "date('dd/MM/yyyy')", hive: "date"},
		{in: "array<string>"},
		{in: "array< array<int> >", want: "array<array<int>>"},
		{in: "map<string,long>", hive: "map<string,bigint>"},
		{in: "struct<a:int,b:array<string>>"},
		{in: "struct<a int, b string>", want: "struct<a:int,b:string>"},
		{in: "struct<>"},
		{in: "struct<id:long not null,name:string comment 'the name'>", hive: "struct<id:bigint,name:string comment 'the name'>"},
		{in: "struct<`weird name`:int,`a``b`:string>"},
		{in: "struct<`not`:int>"},
		{in: "choice<long,string>", hive: "string"},
		{in: "choice<string,long>", want: "choice<long,string>", hive: "string"},
		{in: "choice<int,long>", want: "choice<int,long>", hive: "bigint"},
		{in: "choice<long>", want: "long", hive: "bigint"},
		{in: "choice<long,choice<string,long>>", want: "choice<long,string>", hive: "string"},
		{in: "uniontype<int,string>", want: "choice<int,string>", hive: "string"},
		{in: "struct<items:array<struct<product_id:long,quantity:int,unit_price:decimal(10,2)>>,billing:map<string,string>>",
			hive: "struct<items:array<struct<product_id:bigint,quantity:int,unit_price:decimal(10,2)>>,billing:map<string,string>>"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			typ, err := record.ParseType(c.in)
			require.NoError(t, err)
			want := c.want
			if want == "" {
				want = c.in
			}
			require.Equal(t, want, typ.String())
			again, err := record.ParseType(typ.String())
			require.NoError(t, err)
			require.True(t, typ.Equal(again), "round trip of %s", typ)
			hive := c.hive
			if hive == "" {
				hive = want
			}
			require.Equal(t, hive, typ.HiveString())
		})
	}
}

func TestTypeParseErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{"", "offset 0: expected a type"},
		{"strin", `offset 0: unknown type "strin"`},
		{"array<", "offset 6: expected a type"},
		{"array<int", `offset 9: expected '>'`},
		{"map<int>", `offset 7: expected ','`},
		{"map<array<int>,int>", "map keys must be a scalar type"},
		{"decimal(39,0)", "decimal precision must be 1..38"},
		{"decimal(5,6)", "decimal precision must be 1..38"},
		{"struct<a:int,a:string>", `duplicate field "a"`},
		{"struct<:int>", "expected a field name"},
		{"int int", "offset 4: unexpected text after the type"},
		{"timestamp('qq')", "unknown pattern letter"},
		{"timestamp('yyyy", "unterminated quoted string"},
		{"struct<a:int not nil>", "expected null after not"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			_, err := record.ParseType(c.in)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.msg)
			var se *record.TypeSyntaxError
			require.ErrorAs(t, err, &se)
		})
	}
}

func TestTypeParseDepthLimit(t *testing.T) {
	s := ""
	for range 100 {
		s += "array<"
	}
	_, err := record.ParseType(s + "int")
	require.ErrorContains(t, err, "nested too deeply")
}

func TestTypeMerge(t *testing.T) {
	cases := []struct{ a, b, want string }{
		{"long", "long", "long"},
		{"null", "string", "string"},
		{"int", "long", "long"},
		{"long", "double", "double"},
		{"decimal(10,2)", "decimal(5,4)", "decimal(12,4)"},
		{"long", "decimal(5,2)", "decimal(21,2)"},
		{"double", "decimal(5,2)", "double"},
		{"long", "string", "choice<long,string>"},
		{"choice<long,string>", "int", "choice<long,string>"},
		{"choice<long,string>", "boolean", "choice<boolean,long,string>"},
		{"timestamp('yyyy-MM-dd HH:mm:ss z')", "timestamp('rfc3339')", "timestamp"},
		{"timestamp('rfc3339')", "timestamp('rfc3339')", "timestamp('rfc3339')"},
		{"timestamp('unix_millis')", "timestamp('rfc3339')", "choice<timestamp('rfc3339'),timestamp('unix_millis')>"},
		{"date", "timestamp", "timestamp"},
		{"array<int>", "array<long>", "array<long>"},
		{"array<int>", "array<string>", "array<choice<int,string>>"},
		{"map<string,int>", "map<string,double>", "map<string,double>"},
		{"struct<a:int not null,b:string>", "struct<a:long not null,c:boolean not null>", "struct<a:long not null,b:string,c:boolean>"},
		{"struct<a:int>", "string", "choice<string,struct<a:int>>"},
	}
	for _, c := range cases {
		t.Run(c.a+"+"+c.b, func(t *testing.T) {
			got := record.MergeTypes(record.MustParseType(c.a), record.MustParseType(c.b))
			require.Equal(t, c.want, got.String())
		})
	}
}

func TestSchemaJSON(t *testing.T) {
	s := record.MustSchema(
		record.Column{Name: "event_time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')")},
		record.Column{Name: "product_id", Type: record.TypeLong, Comment: "the product"},
		record.Column{Name: "brand", Type: record.TypeString, Nullable: true},
	)
	b, err := json.Marshal(s)
	require.NoError(t, err)
	require.JSONEq(t, `[
		{"name":"event_time","type":"timestamp('yyyy-MM-dd HH:mm:ss z')","nullable":false},
		{"name":"product_id","type":"long","nullable":false,"comment":"the product"},
		{"name":"brand","type":"string","nullable":true}]`, string(b))
	back, err := record.ParseSchemaJSON(b)
	require.NoError(t, err)
	require.True(t, s.Equal(back))
	require.Equal(t, 1, back.Index("product_id"))
	require.Equal(t, "the product", back.Lookup("product_id").Comment)

	// nullable defaults to true
	s2, err := record.ParseSchemaJSON([]byte(`[{"name":"a","type":"int"}]`))
	require.NoError(t, err)
	require.True(t, s2.Column(0).Nullable)

	for _, bad := range []string{`[{"name":"a","type":"nope"}]`, `[{"type":"int"}]`, `[{"name":"a","type":"int"},{"name":"a","type":"int"}]`, `{`} {
		_, err := record.ParseSchemaJSON([]byte(bad))
		require.Error(t, err, bad)
	}
}

func TestSchemaMerge(t *testing.T) {
	a := record.MustSchema(
		record.Column{Name: "id", Type: record.TypeLong},
		record.Column{Name: "price", Type: record.TypeLong},
	)
	b := record.MustSchema(
		record.Column{Name: "id", Type: record.TypeLong},
		record.Column{Name: "price", Type: record.TypeDouble},
		record.Column{Name: "brand", Type: record.TypeString},
	)
	m := record.MergeSchemas(a, b)
	require.Equal(t, "struct<id:long not null,price:double not null,brand:string>", m.String())
}
