package record_test

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

func TestJSONDecodeValues(t *testing.T) {
	const in = `{"s":"a\"b\\c\n\u00e9\ud83d\ude00","i":-42,"big":2103807459595387724,"f":35.79,"e":1.5e3,
		"t":true,"n":null,"arr":[1,"x",[]],"obj":{"a":{"b":false}},"empty":{},"uni":"héllo"}`
	var r record.Record
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{}).Decode([]byte(in), &r))
	get := func(name string) record.Value {
		v, ok := r.Lookup(name)
		require.True(t, ok, name)
		return v
	}
	require.Equal(t, "a\"b\\c\né😀", get("s").Str())
	require.Equal(t, record.KindLong, get("i").Kind())
	require.Equal(t, int64(-42), get("i").Long())
	require.Equal(t, int64(2103807459595387724), get("big").Long(), "ids beyond 2^53 stay exact")
	require.Equal(t, "2103807459595387724", get("big").NumberText())
	require.Equal(t, 35.79, get("f").Double())
	require.Equal(t, "35.79", get("f").NumberText())
	require.Equal(t, 1500.0, get("e").Double())
	require.True(t, get("t").Bool())
	require.True(t, get("n").IsNull())
	require.Len(t, get("arr").Array(), 3)
	require.Equal(t, "x", get("arr[1]").Str())
	require.Equal(t, record.KindBool, get("obj.a.b").Kind())
	require.Equal(t, 0, get("empty").Struct().Len())
	require.Equal(t, "héllo", get("uni").Str())
	require.Equal(t, []string{"s", "i", "big", "f", "e", "t", "n", "arr", "obj", "empty", "uni"}, fieldNames(&r))
}

func fieldNames(r *record.Record) []string {
	var out []string
	for name := range r.All() {
		out = append(out, name)
	}
	return out
}

func TestJSONDecodeNumbers(t *testing.T) {
	cases := []struct {
		in   string
		kind record.Kind
		f    float64
		n    int64
	}{
		{"0", record.KindLong, 0, 0},
		{"-0", record.KindLong, 0, 0},
		{"9223372036854775807", record.KindLong, 0, math.MaxInt64},
		{"-9223372036854775808", record.KindLong, 0, math.MinInt64},
		{"9223372036854775808", record.KindDouble, 9223372036854775808, 0},
		{"123456789012345678901234567890", record.KindDouble, 1.2345678901234568e29, 0},
		{"0.1", record.KindDouble, 0.1, 0},
		{"1e22", record.KindDouble, 1e22, 0},
		{"1e23", record.KindDouble, 1e23, 0},
		{"2.2250738585072014e-308", record.KindDouble, 2.2250738585072014e-308, 0},
		{"0.000000000000000000000000001", record.KindDouble, 1e-27, 0},
		{"123456789.123456789", record.KindDouble, 123456789.123456789, 0},
		{"-1.25E-2", record.KindDouble, -0.0125, 0},
	}
	dec := record.NewJSONDecoder(record.JSONOptions{})
	for _, c := range cases {
		var r record.Record
		require.NoError(t, dec.DecodeString(`{"x":`+c.in+`}`, &r), c.in)
		v, _ := r.Get("x")
		require.Equal(t, c.kind, v.Kind(), c.in)
		require.Equal(t, c.in, v.NumberText())
		if c.kind == record.KindLong {
			require.Equal(t, c.n, v.Long(), c.in)
		} else {
			require.Equal(t, c.f, v.Double(), c.in)
		}
	}
}

func TestJSONDecodeErrors(t *testing.T) {
	cases := []struct{ in, msg string }{
		{``, "offset 0: unexpected end of input, expected an object"},
		{`[]`, "offset 0: expected an object"},
		{`{"a":1,}`, `offset 7: expected a string key`},
		{`{"a" 1}`, `offset 5: expected ':' after key`},
		{`{"a":01}`, `offset 6, field "a": invalid number: leading zero`},
		{`{"a":1.}`, `offset 7, field "a": invalid number: expected a digit after '.'`},
		{`{"a":-}`, `invalid number: expected a digit`},
		{`{"a":1e}`, `expected a digit in exponent`},
		{`{"a":tru}`, `offset 5, field "a": invalid character 't' looking for a value`},
		{`{"a":"x`, `unexpected end of input in string`},
		{"{\"a\":\"x\ty\"}", `control character`},
		{"{\"a\":\"\xff\"}", `invalid UTF-8`},
		{`{"a":"\x"}`, `invalid escape 'x'`},
		{`{"a":"\u12"}`, `invalid \u escape`},
		{`{"a":[1,2}`, `expected ',' or ']' after array element`},
		{`{"a":1} x`, `offset 8: unexpected 'x' after the object`},
		{`{"a":1e999}`, `number 1e999 out of range`},
		{`{"a":{"b":`, `unexpected end of input, expected a value`},
		{strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70), "nesting deeper than 64"},
		{`{"a":` + strings.Repeat("[", 70) + strings.Repeat("]", 70) + "}", "nesting deeper than 64"},
	}
	dec := record.NewJSONDecoder(record.JSONOptions{})
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			var r record.Record
			err := dec.Decode([]byte(c.in), &r)
			require.Error(t, err)
			require.Contains(t, err.Error(), c.msg)
			require.True(t, strings.HasPrefix(err.Error(), "record: json: "), err.Error())
			var de *record.DecodeError
			require.ErrorAs(t, err, &de)
		})
	}
}

func TestJSONDecodeDuplicateKeys(t *testing.T) {
	var r record.Record
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{}).DecodeString(`{"a":1,"b":2,"a":3}`, &r))
	require.Equal(t, 2, r.Len())
	v, _ := r.Get("a")
	require.Equal(t, int64(3), v.Long())
}

func TestJSONDecodeReuse(t *testing.T) {
	dec := record.NewJSONDecoder(record.JSONOptions{})
	var r record.Record
	require.NoError(t, dec.DecodeString(`{"a":{"x":1},"b":[1,2],"c":"keep"}`, &r))
	c, _ := r.Get("c")
	kept := c.Str()
	require.NoError(t, dec.DecodeString(`{"z":{"y":2}}`, &r))
	require.Equal(t, `{"z":{"y":2}}`, r.String())
	require.Equal(t, "keep", kept, "strings survive a Reset")
	allocs := testing.AllocsPerRun(100, func() {
		_ = dec.Decode([]byte(clickJSON), &r)
	})
	require.LessOrEqual(t, allocs, 2.0) // the input copy (and the []byte of the closure)
}

func TestJSONDecodeTyped(t *testing.T) {
	schema := record.MustSchema(
		record.Column{Name: "event_time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')")},
		record.Column{Name: "price", Type: record.MustParseType("decimal(10,2)")},
		record.Column{Name: "qty", Type: record.TypeDouble},
		record.Column{Name: "id", Type: record.TypeString},
	)
	dec := record.NewJSONDecoder(record.JSONOptions{Schema: schema})
	var r record.Record
	require.NoError(t, dec.DecodeString(`{"event_time":"2019-10-01 00:00:01 UTC","price":33.20,"qty":2,"id":"x","extra":true}`, &r))
	v, _ := r.Get("event_time")
	require.Equal(t, mustTime(t, "2019-10-01T00:00:01Z"), v.UnixNano())
	v, _ = r.Get("price")
	u, scale, ok := v.DecimalInt64()
	require.True(t, ok)
	require.Equal(t, int64(3320), u)
	require.Equal(t, 2, scale)
	v, _ = r.Get("qty")
	require.Equal(t, record.KindDouble, v.Kind())
	_, ok = r.Get("extra")
	require.True(t, ok)

	dec = record.NewJSONDecoder(record.JSONOptions{Schema: schema, DropUnknown: true})
	require.NoError(t, dec.DecodeString(`{"extra":1,"id":"x"}`, &r))
	require.Equal(t, `{"id":"x"}`, r.String())

	err := dec.DecodeString(`{"event_time":"yesterday"}`, &r)
	require.ErrorContains(t, err, `record: json: field "event_time": cannot cast to timestamp('yyyy-MM-dd HH:mm:ss z')`)
	err = dec.DecodeString(`{"price":1.234}`, &r)
	require.ErrorContains(t, err, `field "price"`)
}

func TestJSONRecords(t *testing.T) {
	dec := record.NewJSONDecoder(record.JSONOptions{})
	collect := func(in string) ([]string, []error) {
		var out []string
		var errs []error
		for r, err := range dec.Records([]byte(in)) {
			if err != nil {
				errs = append(errs, err)
				continue
			}
			out = append(out, r.String())
		}
		return out, errs
	}
	got, errs := collect(`[{"a":1}, {"a":2} ,{"a":3}]`)
	require.Empty(t, errs)
	require.Equal(t, []string{`{"a":1}`, `{"a":2}`, `{"a":3}`}, got)

	got, errs = collect("{\"a\":1}\n{\"a\":2}\r\n\n{\"a\":3}\n")
	require.Empty(t, errs)
	require.Len(t, got, 3)

	got, errs = collect("{\"a\":1}\n{\"a\":oops}\n{\"a\":3}")
	require.Equal(t, []string{`{"a":1}`, `{"a":3}`}, got)
	require.Len(t, errs, 1)
	require.ErrorContains(t, errs[0], "record 1, offset 13")

	got, errs = collect("\ufeff{\"a\":1}\n{\"a\":2}")
	require.Empty(t, errs)
	require.Len(t, got, 2)

	got, errs = collect(`{"a":1}`)
	require.Empty(t, errs)
	require.Len(t, got, 1)

	_, errs = collect(`[{"a":1} {"a":2}]`)
	require.Len(t, errs, 1)
	_, errs = collect(`[]`)
	require.Empty(t, errs)
	_, errs = collect(`[{"a":1}`)
	require.Len(t, errs, 1)
}

// oneByteReader returns one byte per Read, to exercise buffer refills.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	return o.r.Read(p[:1])
}

func TestJSONReader(t *testing.T) {
	dec := record.NewJSONDecoder(record.JSONOptions{})
	read := func(in string) ([]string, []error) {
		jr := record.NewJSONReader(oneByteReader{strings.NewReader(in)}, dec)
		var out []string
		var errs []error
		var r record.Record
		for i := 0; i < 100; i++ {
			err := jr.Read(&r)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				if len(errs) > 0 && err == errs[len(errs)-1] {
					break // a sticky error
				}
				errs = append(errs, err)
				continue
			}
			out = append(out, r.String())
		}
		return out, errs
	}
	got, errs := read("\ufeff[{\"a\":\"x]}\"},{\"b\":[1,{\"c\":2}]}]")
	require.Empty(t, errs)
	require.Equal(t, []string{`{"a":"x]}"}`, `{"b":[1,{"c":2}]}`}, got)

	got, errs = read("{\"a\":1}\n{\"a\":x}\n{\"a\":3}\n")
	require.Equal(t, []string{`{"a":1}`, `{"a":3}`}, got)
	require.Len(t, errs, 1)
	require.ErrorContains(t, errs[0], "record 1, offset 13")

	_, errs = read(`[{"a":1}`)
	require.Len(t, errs, 1)

	// a large input through the real buffer
	var b bytes.Buffer
	for range 5000 {
		b.WriteString(clickJSON + "\n")
	}
	jr := record.NewJSONReader(&b, dec)
	n := 0
	var r record.Record
	for {
		err := jr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n++
	}
	require.Equal(t, 5000, n)
}

func TestJSONRoundTrip(t *testing.T) {
	r := record.New(8)
	r.Append("s", record.StringValue("q\"\\\n\t\x01é"))
	r.Append("l", record.LongValue(math.MinInt64))
	r.Append("d", record.DoubleValue(0.1))
	r.Append("nan", record.DoubleValue(math.NaN()))
	dec, err := record.ParseDecimal("-12345678901234567890.125")
	require.NoError(t, err)
	r.Append("dec", dec)
	r.Append("b", record.BinaryValue([]byte{0, 1, 2, 255}))
	r.Append("ts", record.TimestampNanos(mustTime(t, "2019-10-01T00:00:00.5Z")))
	r.Append("date", record.DateValue(18170))
	inner := record.New(1)
	inner.Append("x", record.BoolValue(true))
	r.Append("st", record.StructValue(inner))
	r.Append("arr", record.ArrayValue([]record.Value{record.LongValue(1), record.NullValue()}))
	out := record.AppendJSON(nil, r, nil)
	require.Equal(t, `{"s":"q\"\\\n\t\u0001é","l":-9223372036854775808,"d":0.1,"nan":null,"dec":-12345678901234567890.125,`+
		`"b":"AAEC/w==","ts":"2019-10-01T00:00:00.5Z","date":"2019-10-01","st":{"x":true},"arr":[1,null]}`, string(out))

	// decoding it back with the schema restores every type
	schema := record.MustSchema(
		record.Column{Name: "s", Type: record.TypeString},
		record.Column{Name: "l", Type: record.TypeLong},
		record.Column{Name: "d", Type: record.TypeDouble},
		record.Column{Name: "nan", Type: record.TypeDouble, Nullable: true},
		record.Column{Name: "dec", Type: record.MustParseType("decimal(38,3)")},
		record.Column{Name: "b", Type: record.TypeBinary},
		record.Column{Name: "ts", Type: record.TypeTime},
		record.Column{Name: "date", Type: record.TypeDate},
		record.Column{Name: "st", Type: record.MustParseType("struct<x:boolean>")},
		record.Column{Name: "arr", Type: record.MustParseType("array<long>")},
	)
	var back record.Record
	require.NoError(t, record.NewJSONDecoder(record.JSONOptions{Schema: schema}).Decode(out, &back))
	r.SetAt(3, record.NullValue())
	require.True(t, r.Equal(&back), "%s\n%s", r, &back)
	require.NoError(t, schema.Validate(&back))
}
