package record_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
)

// rees46 returns the real REES46 sample, shared/data/rees46-2019-oct-sample.csv
// beside the repository (../shared from its root), found by walking up from
// the package directory, so that it is found from a clone and a worktree
// alike. The test fails without it: the REES46 checks must not pass by
// skipping.
func rees46(t testing.TB) []byte {
	t.Helper()
	dir, err := os.Getwd()
	require.NoError(t, err)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "shared", "data", "rees46-2019-oct-sample.csv"))
		if err == nil {
			return b
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("shared/data/rees46-2019-oct-sample.csv not found in any parent directory")
		}
		dir = parent
	}
}

func readAllCSV(t *testing.T, in string, opts record.CSVOptions) ([]*record.Record, []error) {
	t.Helper()
	cr, err := record.NewCSVReader(strings.NewReader(in), opts)
	require.NoError(t, err)
	var out []*record.Record
	var errs []error
	for {
		var r record.Record
		err := cr.Read(&r)
		if errors.Is(err, io.EOF) {
			return out, errs
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r.Clone())
	}
}

func TestCSVRead(t *testing.T) {
	in := "a,b,c\n1,\"x,y\",\n2,\"say \"\"hi\"\"\",\"\"\n3,\"multi\nline\",z\r\n\n"
	recs, errs := readAllCSV(t, in, record.CSVOptions{})
	require.Empty(t, errs)
	require.Len(t, recs, 3)
	require.Equal(t, `{"a":"1","b":"x,y","c":null}`, recs[0].String())
	require.Equal(t, `{"a":"2","b":"say \"hi\"","c":""}`, recs[1].String(), "a quoted empty field is an empty string, not null")
	require.Equal(t, `{"a":"3","b":"multi\nline","c":"z"}`, recs[2].String())
}

func TestCSVOptions(t *testing.T) {
	cases := []struct {
		name string
		in   string
		opts record.CSVOptions
		want []string
	}{
		{"tab", "a\tb\n1\t2\n", record.CSVOptions{Delimiter: '\t'}, []string{`{"a":"1","b":"2"}`}},
		{"pipe quote", "a|b\n'1|2'|x\n", record.CSVOptions{Delimiter: '|', Quote: '\''}, []string{`{"a":"1|2","b":"x"}`}},
		{"no header", "1,2\n3,4\n", record.CSVOptions{NoHeader: true}, []string{`{"col0":"1","col1":"2"}`, `{"col0":"3","col1":"4"}`}},
		{"columns", "1,2\n", record.CSVOptions{NoHeader: true, Columns: []string{"x", "y"}}, []string{`{"x":"1","y":"2"}`}},
		{"columns override header", "a,b\n1,2\n", record.CSVOptions{Columns: []string{"x", "y"}}, []string{`{"x":"1","y":"2"}`}},
		{"null markers", "a,b,c\nNULL,\\N,\n", record.CSVOptions{NullMarkers: []string{"NULL", `\N`}}, []string{`{"a":null,"b":null,"c":""}`}},
		{"no null markers", "a\n\"\"\n", record.CSVOptions{NullMarkers: []string{}}, []string{`{"a":""}`}},
		{"trim", "a,b\n  1 , \"2\" \n", record.CSVOptions{TrimSpace: true}, []string{`{"a":"1","b":"2"}`}},
		{"comment", "a\n# skip\n1\n", record.CSVOptions{Comment: '#'}, []string{`{"a":"1"}`}},
		{"bom", "\ufeffa\n1\n", record.CSVOptions{}, []string{`{"a":"1"}`}},
		{"no final newline", "a\n1", record.CSVOptions{}, []string{`{"a":"1"}`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			recs, errs := readAllCSV(t, c.in, c.opts)
			require.Empty(t, errs)
			var got []string
			for _, r := range recs {
				got = append(got, r.String())
			}
			require.Equal(t, c.want, got)
		})
	}
}

func TestCSVErrors(t *testing.T) {
	in := "a,b\n1,2\n1,2,3\n\"x\"y,2\nx\"y,2\n4,5\n\"open,6\n"
	recs, errs := readAllCSV(t, in, record.CSVOptions{})
	require.Len(t, recs, 2)
	require.Len(t, errs, 4)
	require.EqualError(t, errs[0], "record: csv: record 1, line 3: 3 fields, expected 2")
	require.EqualError(t, errs[1], `record: csv: record 2, line 4, offset 3: 'y' after quoted field`)
	require.EqualError(t, errs[2], `record: csv: record 3, line 5, offset 1: bare quote in unquoted field`)
	require.EqualError(t, errs[3], `record: csv: record 5, line 7, offset 0: unterminated quoted field`)

	_, err := record.NewCSVReader(strings.NewReader(""), record.CSVOptions{})
	require.EqualError(t, err, "record: csv: line 1: no header line")
	_, err = record.NewCSVReader(strings.NewReader("a,a\n"), record.CSVOptions{})
	require.ErrorContains(t, err, `duplicate column "a"`)
	_, err = record.NewCSVReader(strings.NewReader("a\n"), record.CSVOptions{Delimiter: '"'})
	require.Error(t, err)
}

func TestCSVTyped(t *testing.T) {
	schema := record.MustSchema(
		record.Column{Name: "event_time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')")},
		record.Column{Name: "category_id", Type: record.TypeLong},
		record.Column{Name: "price", Type: record.TypeDouble},
		record.Column{Name: "brand", Type: record.TypeString, Nullable: true},
	)
	in := "event_time,category_id,price,brand\n2019-10-01 00:00:00 UTC,2103807459595387724,35.79,\n2019-10-01 00:00:01 UTC,x,1,b\n"
	recs, errs := readAllCSV(t, in, record.CSVOptions{Schema: schema})
	require.Len(t, recs, 1)
	v, _ := recs[0].Get("category_id")
	require.Equal(t, int64(2103807459595387724), v.Long())
	v, _ = recs[0].Get("price")
	require.Equal(t, 35.79, v.Double())
	v, _ = recs[0].Get("event_time")
	require.Equal(t, mustTime(t, "2019-10-01T00:00:00Z"), v.UnixNano())
	v, _ = recs[0].Get("brand")
	require.True(t, v.IsNull())
	require.Len(t, errs, 1)
	require.ErrorContains(t, errs[0], `record: csv: record 1, line 3, field "category_id": cannot cast to long`)

	// the single-line decoder, with names from the schema
	dec, err := record.NewCSVDecoder(record.CSVOptions{Schema: schema})
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, dec.Decode([]byte("2019-10-01 00:00:00 UTC,1,2.5,\"acme, inc\"\n"), &r))
	require.Equal(t, `{"event_time":"2019-10-01T00:00:00Z","category_id":1,"price":2.5,"brand":"acme, inc"}`, r.String())
	require.Error(t, dec.Decode([]byte("1,2"), &r))
	_, err = record.NewCSVDecoder(record.CSVOptions{})
	require.Error(t, err)
}

func TestCSVRoundTrip(t *testing.T) {
	names := []string{"a", "b", "c", "d"}
	var buf bytes.Buffer
	w, err := record.NewCSVWriter(&buf, names, record.CSVOptions{})
	require.NoError(t, err)
	rows := []*record.Record{}
	for _, vals := range [][]record.Value{
		{record.StringValue("plain"), record.StringValue("with,comma"), record.StringValue("quote\"d"), record.NullValue()},
		{record.StringValue(""), record.StringValue(" padded "), record.StringValue("multi\nline"), record.StringValue("x")},
	} {
		r := record.New(4)
		for i, v := range vals {
			r.Append(names[i], v)
		}
		rows = append(rows, r)
		require.NoError(t, w.Write(r))
	}
	require.NoError(t, w.Flush())
	require.Equal(t, "a,b,c,d\nplain,\"with,comma\",\"quote\"\"d\",\n\"\",\" padded \",\"multi\nline\",x\n", buf.String())
	back, errs := readAllCSV(t, buf.String(), record.CSVOptions{})
	require.Empty(t, errs)
	require.Len(t, back, 2)
	for i := range rows {
		require.True(t, rows[i].Equal(back[i]), "%s != %s", rows[i], back[i])
	}
}

func TestCSVREES46(t *testing.T) {
	data := rees46(t)
	cr, err := record.NewCSVReader(bytes.NewReader(data), record.CSVOptions{})
	require.NoError(t, err)
	require.Equal(t, []string{"event_time", "event_type", "product_id", "category_id", "category_code", "brand", "price", "user_id", "user_session"}, cr.Columns())
	n, nullBrand := 0, 0
	var r record.Record
	for {
		err := cr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		n++
		if v, _ := r.Get("brand"); v.IsNull() {
			nullBrand++
		}
	}
	require.Equal(t, 1000, n)
	require.Equal(t, 143, nullBrand)
}
