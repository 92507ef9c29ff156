package item

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// mustItem decodes an item from attribute-value JSON or fails the test.
func mustItem(t testing.TB, s string) Item {
	t.Helper()
	it, err := ParseItem([]byte(s), "Item")
	require.NoError(t, err, s)
	return it
}

func TestItemJSONRoundTrip(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"a":{"S":"x"}}`, `{"a":{"S":"x"}}`},
		{`{"price":{"N":"129.99"}}`, `{"price":{"N":"129.99"}}`},
		{`{"p":{"N":"1.50"}}`, `{"p":{"N":"1.5"}}`},
		{`{"p":{"N":"-0"}}`, `{"p":{"N":"0"}}`},
		{`{"b":{"B":"aGk="}}`, `{"b":{"B":"aGk="}}`},
		{`{"b":{"B":"aGk"}}`, `{"b":{"B":"aGk="}}`},
		{`{"t":{"BOOL":true},"f":{"BOOL":false}}`, `{"f":{"BOOL":false},"t":{"BOOL":true}}`},
		{`{"n":{"NULL":true}}`, `{"n":{"NULL":true}}`},
		{`{"l":{"L":[{"S":"a"},{"N":"1"},{"L":[]}]}}`, `{"l":{"L":[{"S":"a"},{"N":"1"},{"L":[]}]}}`},
		{`{"m":{"M":{"z":{"S":"1"},"a":{"M":{}}}}}`, `{"m":{"M":{"a":{"M":{}},"z":{"S":"1"}}}}`},
		{`{"ss":{"SS":["b","a","c"]}}`, `{"ss":{"SS":["a","b","c"]}}`},
		{`{"ns":{"NS":["10","9","-1","1.5"]}}`, `{"ns":{"NS":["-1","1.5","9","10"]}}`},
		{`{"bs":{"BS":["Yg==","YQ=="]}}`, `{"bs":{"BS":["YQ==","Yg=="]}}`},
		{`{"e":{"S":""}}`, `{"e":{"S":""}}`},
		{`{"u":{"S":"h\u00e9llo \"q\" \\ \n\t\u0001 \ud83d\ude00"}}`, `{"u":{"S":"héllo \"q\" \\ \n\t\u0001 😀"}}`},
		{` { "a" : { "S" : "x" , "N" : null } } `, `{"a":{"S":"x"}}`},
	} {
		it, err := ParseItem([]byte(tc.in), "Item")
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, string(it.AppendJSON(nil)), tc.in)
		// Encoding/json agrees that the output is valid JSON.
		require.True(t, json.Valid(it.AppendJSON(nil)))
		again, err := ParseItem(it.AppendJSON(nil), "")
		require.NoError(t, err)
		require.True(t, it.Equal(again))
	}
}

func TestItemJSONErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"price":{"N":"12x"}}`, `item: Item.price: N "12x" is not a number`},
		{`{"price":{"N":12}}`, `Item.price: N must be a JSON string`},
		{`{"a":{"M":{"b":{"L":[{"S":"x"},{"N":"1e200"}]}}}}`, `Item.a.b[1]: Number overflow`},
		{`{"a":{}}`, `Item.a: Supplied AttributeValue is empty`},
		{`{"a":{"S":null}}`, `Item.a: Supplied AttributeValue is empty`},
		{`{"a":{"S":"x","N":"1"}}`, `Item.a: Supplied AttributeValue has more than one datatypes set`},
		{`{"a":{"X":"x"}}`, `Item.a: unknown data type "X"`},
		{`{"a":{"SS":[]}}`, `Item.a: One or more parameter values were invalid: An string set  may not be empty`},
		{`{"a":{"NS":[]}}`, `An number set  may not be empty`},
		{`{"a":{"SS":["x","y","x"]}}`, `Item.a: One or more parameter values were invalid: Input collection [x, x, y] contains duplicates.`},
		{`{"a":{"NS":["1.5","1.50"]}}`, `contains duplicates`},
		{`{"a":{"NS":["1","x"]}}`, `Item.a[1]: N "x" is not a number`},
		{`{"a":{"BS":["%%%"]}}`, `Item.a[0]: B is not valid base64`},
		{`{"a":{"B":"!!"}}`, `Item.a: B is not valid base64`},
		{`{"a":{"NULL":false}}`, `Null attribute value types must have the value of true`},
		{`{"":{"S":"x"}}`, `Item: Empty attribute name`},
		{`{"a":{"S":"x"},"a":{"S":"y"}}`, `Item.a: duplicate attribute name`},
		{`{"a":{"M":{"b":{"S":"x"},"b":{"S":"y"}}}}`, `Item.a.b: duplicate attribute name`},
		{`{"a":{"S":"x"}`, `invalid JSON`},
		{`{"a":{"S":"x"}} x`, `invalid JSON`},
		{`{"a":{"S":"\x"}}`, `invalid JSON`},
		{"{\"a\":{\"S\":\"\xff\"}}", `invalid UTF-8`},
		{`[]`, `invalid JSON`},
		{``, `invalid JSON`},
		{`{"a":{"BOOL":"true"}}`, `invalid JSON`},
	} {
		_, err := ParseItem([]byte(tc.in), "Item")
		require.ErrorContains(t, err, tc.want, tc.in)
	}
	// A typed error carries the path for the API layer.
	_, err := ParseItem([]byte(`{"price":{"N":"12x"}}`), "Item")
	var ve *ValidationError
	require.True(t, errors.As(err, &ve))
	require.Equal(t, "Item.price", ve.Path)
	require.Equal(t, `Item.price: N "12x" is not a number`, ve.Message())
	_, err = ParseItem([]byte(`{"a":`), "Item")
	var se *SyntaxError
	require.True(t, errors.As(err, &se))
	require.Equal(t, 5, se.Offset)
}

func TestItemJSONDepth(t *testing.T) {
	nest := func(levels int) string {
		return `{"a":` + strings.Repeat(`{"M":{"a":`, levels-1) + `{"S":"x"}` + strings.Repeat(`}}`, levels-1) + `}`
	}
	_, err := ParseItem([]byte(nest(MaxDepth)), "Item")
	require.NoError(t, err)
	_, err = ParseItem([]byte(nest(MaxDepth+1)), "Item")
	require.ErrorContains(t, err, "Nesting Levels have exceeded supported limits")
	// Hostile nesting fails cleanly, without exhausting the stack.
	_, err = ParseItem([]byte(`{"a":`+strings.Repeat(`{"L":[`, 100000)), "Item")
	require.Error(t, err)
}

func TestItemJSONWithEncodingJSON(t *testing.T) {
	var req struct {
		TableName string
		Item      Item
	}
	require.NoError(t, json.Unmarshal([]byte(`{"TableName":"t","Item":{"p":{"S":"k"},"n":{"N":"0.10"}}}`), &req))
	require.Equal(t, "0.1", req.Item["n"].N().String())
	out, err := json.Marshal(req)
	require.NoError(t, err)
	require.JSONEq(t, `{"TableName":"t","Item":{"n":{"N":"0.1"},"p":{"S":"k"}}}`, string(out))
}

func TestPlainJSON(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{}`, `{}`},
		{`{"price":129.99,"big":12345678901234567890123,"neg":-1.50e1,"tiny":1e-100}`,
			`{"big":12345678901234567890123,"neg":-15,"price":129.99,"tiny":0.` + strings.Repeat("0", 99) + `1}`},
		{`{"s":"x","b":true,"n":null,"l":[1,"a",[]],"m":{"k":{"z":0}}}`, `{"b":true,"l":[1,"a",[]],"m":{"k":{"z":0}},"n":null,"s":"x"}`},
	} {
		it, err := ParseJSON([]byte(tc.in), "Item")
		require.NoError(t, err, tc.in)
		out := it.AppendPlainJSON(nil)
		require.Equal(t, tc.want, string(out))
		require.True(t, json.Valid(out))
	}
	it, err := ParseJSON([]byte(`{"price":129.99}`), "")
	require.NoError(t, err)
	require.Equal(t, N, it["price"].Type())
	require.Equal(t, "129.99", it["price"].N().String())

	for _, tc := range []struct{ in, want string }{
		{`{"p":1e999}`, `Item.p: Number overflow`},
		{`{"p":[1,2,1.000000000000000000000000000000000000001]}`, `Item.p[2]: Attempting to store more than 38 significant digits`},
		{`{"p":01}`, `invalid JSON`},
		{`{"p":1.}`, `invalid JSON`},
		{`{"p":NaN}`, `invalid JSON`},
		{`{"p":tru}`, `invalid JSON`},
		{`{"":1}`, `Empty attribute name`},
		{`[1]`, `invalid JSON`},
	} {
		_, err := ParseJSON([]byte(tc.in), "Item")
		require.ErrorContains(t, err, tc.want, tc.in)
	}
	// Sets and binaries have no plain form: they are written as arrays and
	// base64 strings.
	ss, err := StringSetValue("b", "a")
	require.NoError(t, err)
	ns, err := NumberSetValue(MustParseNumber("2"), MustParseNumber("1.5"))
	require.NoError(t, err)
	got := Item{"ss": ss, "ns": ns, "b": BinaryValue([]byte("hi"))}.AppendPlainJSON(nil)
	require.Equal(t, `{"b":"aGk=","ns":[1.5,2],"ss":["a","b"]}`, string(got))
}
