package train_test

import (
	"math"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model/train"
)

func readTable(t *testing.T, files ...string) *train.Table {
	t.Helper()
	var tb train.Table
	for _, f := range files {
		r, err := os.Open("testdata/" + f)
		require.NoError(t, err)
		require.NoError(t, tb.Read(f, r))
		require.NoError(t, r.Close())
	}
	return &tb
}

// TestTableReadCSVAndJSONLines: two files of different formats and
// columns make one table; the default features follow the documented rule.
func TestTableReadCSVAndJSONLines(t *testing.T) {
	tb := readTable(t, "features.csv", "features.jsonl")
	require.Equal(t, 6, tb.Rows())
	require.Equal(t, []string{"product_id", "window_start", "views", "clicks", "price", "base_price", "price_ratio", "brand", "inventory", "units", "updated_at", "trend", "attributes"}, tb.Columns())

	features, ignored := tb.DefaultFeatures("units")
	require.Equal(t, []string{"views", "clicks", "price", "base_price", "price_ratio", "inventory", "trend"}, features)
	require.Equal(t, []train.Ignored{
		{Column: "product_id", Reason: "named like an id or a time"},
		{Column: "window_start", Reason: "named like an id or a time"},
		{Column: "brand", Reason: `not numeric: features.csv: line 2: "Nike"`},
		{Column: "updated_at", Reason: "named like an id or a time"},
		{Column: "attributes", Reason: `not numeric: features.jsonl: line 3: "{\"color\":\"red\"}"`},
	}, ignored)

	d, skipped, err := tb.Data("units", nil)
	require.NoError(t, err)
	require.Equal(t, 1, skipped, "p3 has no units")
	require.Equal(t, features, d.Features)
	require.Equal(t, []float64{3, 1, 0, 4, 2}, d.Labels)
	nan := math.NaN()
	want := [][]float64{
		{120, 14, 89.5, 100, 0.895, 40, nan},
		{80, nan, 120, 100, 1.2, nan, nan},
		{10, 1, 55, 50, 1.1, nan, nan},
		{200, 20, 70.25, 70, 1.0036, 5, 1.5},
		{50, nan, 60, 80, 0.75, nan, 0.5},
	}
	require.Len(t, d.Rows, len(want))
	for i := range want {
		for j := range want[i] {
			if math.IsNaN(want[i][j]) {
				require.True(t, math.IsNaN(d.Rows[i][j]), "row %d %s: %v", i, features[j], d.Rows[i][j])
			} else {
				require.Equal(t, want[i][j], d.Rows[i][j], "row %d %s", i, features[j])
			}
		}
	}

	d, _, err = tb.Data("units", []string{"price_ratio", "views"})
	require.NoError(t, err)
	require.Equal(t, []float64{0.895, 120}, d.Rows[0])
}

// TestTableErrors: bad files and bad column choices name the file, the
// line and the problem.
func TestTableErrors(t *testing.T) {
	tb := readTable(t, "features.csv", "features.jsonl")
	for _, tc := range []struct {
		label    string
		features []string
		want     string
	}{
		{"sales", nil, "train: label: no column \"sales\" (columns: product_id, window_start, views"},
		{"brand", nil, `train: label "brand" is not numeric: features.csv: line 2: "Nike"`},
		{"units", []string{"price", "brand"}, `train: feature "brand" is not numeric: features.csv: line 2: "Nike"`},
		{"units", []string{"cost"}, `train: feature: no column "cost"`},
		{"units", []string{"units"}, `train: feature "units" is the label`},
		{"units", []string{"price", "price"}, `train: feature "price" named twice`},
	} {
		_, _, err := tb.Data(tc.label, tc.features)
		require.ErrorContains(t, err, tc.want)
	}

	for _, tc := range []struct{ name, data, want string }{
		{"a.csv", "", "a.csv: empty file (a CSV file needs a header line)"},
		{"a.csv", "x,y\n1,2\n3\n", "a.csv: line 3: wrong number of fields"},
		{"a.csv", "x,,y\n", "a.csv: line 1: column 2 has no name"},
		{"a.csv", "x,y,x\n", `a.csv: line 1: column "x" appears twice`},
		{"a.csv", "x,y\n1,\"2\n", "a.csv: line 2: extraneous or missing \" in quoted-field"},
		{"a.jsonl", "{\"x\":1}\n[1,2]\n", "a.jsonl: line 2: not a JSON object"},
		{"a.jsonl", "{\"x\":1}\n\n{\"x\":1,\"x\":2}\n", `a.jsonl: line 3: key "x" appears twice`},
		{"a.jsonl", "{\"x\":1}\n{\"x\":1\n", "a.jsonl: line 2: unexpected end of the JSON object"},
		{"a.jsonl", "{\"x\":1} {\"x\":2}\n", "a.jsonl: line 1: more than one JSON value on the line"},
		{"a.jsonl", "{\"x\":01}\n", "a.jsonl: line 1: invalid character '1' after object key:value pair"},
		{"a.json", "x,y\n", "a.json: line 1: invalid character 'x' looking for beginning of value"},
	} {
		var tb train.Table
		err := tb.Read(tc.name, strings.NewReader(tc.data))
		require.ErrorContains(t, err, tc.want, tc.data)
		require.Zero(t, tb.Rows(), "a file that fails leaves no rows")
	}
}

// TestTableDetect: without a telling extension the content decides, and a
// failed file leaves the rows of earlier ones as they were.
func TestTableDetect(t *testing.T) {
	var tb train.Table
	require.NoError(t, tb.Read("stdin", strings.NewReader("  \n{\"a\":1,\"b\":2}\n{\"a\":3,\"b\":\"4\"}")))
	require.NoError(t, tb.Read("-", strings.NewReader("\ufeffa,c\n5,6\n")))
	require.Equal(t, 3, tb.Rows())
	require.Equal(t, []string{"a", "b", "c"}, tb.Columns())
	err := tb.Read("bad", strings.NewReader("a,d\n1,2\n1\n"))
	require.ErrorContains(t, err, "bad: line 3")
	require.Equal(t, 3, tb.Rows())
	require.Equal(t, []string{"a", "b", "c"}, tb.Columns())
	d, skipped, err := tb.Data("a", nil)
	require.NoError(t, err)
	require.Zero(t, skipped)
	require.Equal(t, []string{"b", "c"}, d.Features)
	require.Equal(t, []float64{1, 3, 5}, d.Labels)
	require.Equal(t, 4.0, d.Rows[1][0])
}

// TestTableValues: what counts as a number, missing or text.
func TestTableValues(t *testing.T) {
	var tb train.Table
	require.NoError(t, tb.Read("v.jsonl", strings.NewReader(strings.Join([]string{
		`{"n":1.5,"s":" 2 ","m":"NA","b":true,"i":"inf","big":1e400}`,
		`{"n":-3,"s":"1e3","m":"n/a","b":false,"i":1,"big":1}`,
		`{"n":0,"s":"","m":null,"b":null,"i":2,"big":2,"y":1}`,
	}, "\n"))))
	features, ignored := tb.DefaultFeatures("y")
	require.Equal(t, []string{"n", "s"}, features)
	require.Equal(t, []train.Ignored{
		{Column: "m", Reason: "no values"},
		{Column: "b", Reason: `not numeric: v.jsonl: line 1: "true"`},
		{Column: "i", Reason: `not numeric: v.jsonl: line 1: "inf"`},
		{Column: "big", Reason: `not numeric: v.jsonl: line 1: "1e400"`},
	}, ignored)
	for _, name := range []string{"id", "order_id", "Product_ID", "event_time", "ts", "created_at", "window_end", "seq", "source_seq", "Date"} {
		require.True(t, train.IDOrTime(name), name)
	}
	for _, name := range []string{"views", "paid", "price_ratio", "inventory", "trend", "stats", "category"} {
		require.False(t, train.IDOrTime(name), name)
	}
}
