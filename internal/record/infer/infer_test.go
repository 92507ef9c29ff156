package infer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/infer"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

// rees46 returns the real REES46 sample kept in the repository
// (examples/data). The test fails without it: the REES46 checks must not
// pass by skipping.
func rees46(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "examples", "data", "rees46-2019-oct-sample.csv"))
	require.NoError(t, err, "the REES46 sample belongs in examples/data")
	return b
}

// TestInferREES46 checks every column of the real REES46 export.
func TestInferREES46(t *testing.T) {
	data := rees46(t)
	res, err := infer.Bytes(data, infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatCSV, res.Classification.Format)
	require.Equal(t, 1.0, res.Classification.Certainty)
	require.Equal(t, byte(','), res.Classification.Delimiter)
	require.True(t, res.Classification.Header)
	require.Equal(t, 1000, res.Records)
	require.Zero(t, res.Errors)

	s := res.Schema
	require.Equal(t, []string{"event_time", "event_type", "product_id", "category_id", "category_code",
		"brand", "price", "user_id", "user_session"}, s.Names())
	want := []struct {
		name     string
		typ      string
		nullable bool
	}{
		{"event_time", "timestamp('yyyy-MM-dd HH:mm:ss z')", false},
		{"event_type", "string", false},
		{"product_id", "long", false},
		{"category_id", "long", false},
		{"category_code", "string", true},
		{"brand", "string", true},
		{"price", "double", false},
		{"user_id", "long", false},
		{"user_session", "string", false},
	}
	for i, w := range want {
		c := s.Column(i)
		require.Equal(t, w.name, c.Name)
		require.Equal(t, w.typ, c.Type.String(), w.name)
		require.Equal(t, w.nullable, c.Nullable, w.name)
	}
	// the detected timestamp format is reported and parses every value
	et := s.Lookup("event_time").Type
	require.Equal(t, record.KindTimestamp, et.Kind)
	require.Equal(t, "yyyy-MM-dd HH:mm:ss z", et.Format.String())
	require.Equal(t, "bigint", s.Lookup("category_id").Type.HiveString())

	// typed decoding with the inferred schema keeps category_id exact
	cr, err := record.NewCSVReader(strings.NewReader(string(data)), record.CSVOptions{Schema: s})
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, cr.Read(&r))
	v, _ := r.Get("category_id")
	require.Equal(t, int64(2103807459595387724), v.Long(), "beyond 2^53, exact")
	require.NoError(t, s.Validate(&r))
}

func TestInferJSON(t *testing.T) {
	in := `{"id":1,"name":"a","price":9.5,"ts":"2019-10-01T00:00:00Z","tags":["x"],"billing":{"city":"Oslo","zip":"0150"},"v":1,"big":2103807459595387724,"n":null}
{"id":2,"name":"b","price":10,"ts":"2019-10-01T00:00:01.5Z","tags":[],"billing":{"city":"Bergen"},"v":"one","big":1.5,"n":null,"extra":true}
{"id":3,"price":11,"ts":"2019-10-01T00:00:02+02:00","billing":{"city":"Oslo","zip":null},"v":2,"big":3,"n":null}`
	res, err := infer.Bytes([]byte(in), infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatJSONLines, res.Classification.Format)
	require.Equal(t, 1.0, res.Classification.Certainty)
	require.Equal(t, 3, res.Records)
	got := res.Schema.Describe()
	require.Equal(t, `id long not null
name string
price double not null
ts timestamp('rfc3339') not null
tags array<string>
billing struct<city:string not null,zip:string> not null
v choice<long,string> not null
big choice<long,double> not null
n null
extra boolean
`, got)
}

func TestInferJSONArrayAndTimes(t *testing.T) {
	in := `[{"a":"2019-10-01 00:00:00","d":"2019-10-01","m":"2019-10-01 00:00:00"},
	{"a":"2019-10-01 00:00:01","d":"2019-10-02","m":"2019-10-01T00:00:00Z"},
	{"a":"x","d":"2019-10-03","m":"2019-10-01"}]`
	res, err := infer.Bytes([]byte(in), infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatJSON, res.Classification.Format)
	require.Equal(t, "a string not null\nd date('yyyy-MM-dd') not null\nm timestamp not null\n", res.Schema.Describe())
	res, err = infer.Bytes([]byte(in), infer.Options{NoTimes: true})
	require.NoError(t, err)
	require.Equal(t, "a string not null\nd string not null\nm string not null\n", res.Schema.Describe())
}

func TestInferCSVText(t *testing.T) {
	in := "id;zip;ok;score;when;mixed;empty\n1;0150;true;1.5;2019-10-01T00:00:00Z;1;\n2;0151;FALSE;2;2019-10-01T01:00:00Z;x;\n"
	res, err := infer.Bytes([]byte(in), infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatCSV, res.Classification.Format)
	require.Equal(t, byte(';'), res.Classification.Delimiter)
	require.Equal(t, "id long not null\nzip string not null\nok boolean not null\nscore double not null\nwhen timestamp('rfc3339') not null\nmixed string not null\nempty string\n",
		res.Schema.Describe())
}

func TestInferMalformed(t *testing.T) {
	in := "{\"a\":1}\n{\"a\":]\n{\"a\":2}\n"
	res, err := infer.Bytes([]byte(in), infer.Options{})
	require.NoError(t, err)
	require.Equal(t, 2, res.Records)
	require.Equal(t, 1, res.Errors)
	require.ErrorContains(t, res.FirstError, "record: json: record 1")

	// a sample cut in the middle of the last record
	res, err = infer.Bytes([]byte("{\"a\":1}\n{\"a\":2}\n{\"a\":"), infer.Options{Truncated: true})
	require.NoError(t, err)
	require.Zero(t, res.Errors)
	require.Equal(t, 2, res.Records)

	_, err = infer.Bytes([]byte("just words"), infer.Options{})
	require.ErrorIs(t, err, infer.ErrUnknownFormat)
	_, err = infer.Bytes(nil, infer.Options{})
	require.ErrorIs(t, err, infer.ErrUnknownFormat)
	_, err = infer.Bytes([]byte("{oops}\n"), infer.Options{Format: infer.FormatJSONLines})
	require.ErrorContains(t, err, "no readable record")
}

func TestClassify(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		format infer.Format
		cert   float64
		delim  byte
		header bool
	}{
		{"json object", `{"a":1}`, infer.FormatJSON, 1, 0, false},
		{"json array", `[{"a":1},{"a":2}]`, infer.FormatJSON, 1, 0, false},
		{"json lines", "{\"a\":1}\n{\"a\":2}\n", infer.FormatJSONLines, 1, 0, false},
		{"json lines half bad", "{\"a\":1}\n{bad\n", infer.FormatJSONLines, 0.5, 0, false},
		{"csv", "a,b\n1,2\n3,4\n", infer.FormatCSV, 1, ',', true},
		{"csv no header", "1,2\n3,4\n", infer.FormatCSV, 0.9, ',', false},
		{"tsv", "a\tb\n1\t2\n", infer.FormatCSV, 1, '\t', true},
		{"pipe", "a|b|c\n1|2|3\n", infer.FormatCSV, 1, '|', true},
		{"ctrl-a", "a\x01b\n1\x012\n", infer.FormatCSV, 1, '\x01', true},
		{"ragged", "a,b\n1,2\n1\n", infer.FormatCSV, 0.6, ',', true},
		{"avro", "Obj\x01rest", infer.FormatAvro, 1, 0, false},
		{"parquet", "PAR1....PAR1", infer.FormatParquet, 1, 0, false},
		{"parquet head", "PAR1....", infer.FormatParquet, 0.9, 0, false},
		{"text", "hello world\n", infer.FormatUnknown, 0, 0, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := infer.Classify([]byte(c.in), false)
			require.Equal(t, c.format, got.Format)
			require.InDelta(t, c.cert, got.Certainty, 0.001)
			require.Equal(t, c.delim, got.Delimiter)
			require.Equal(t, c.header, got.Header)
		})
	}
}

func TestInferFileAndMerge(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.jsonl")
	b := filepath.Join(dir, "b.jsonl")
	require.NoError(t, os.WriteFile(a, []byte(`{"id":1,"price":1}`+"\n"), 0o600))
	require.NoError(t, os.WriteFile(b, []byte(`{"id":2,"price":1.5,"brand":"x"}`+"\n"), 0o600))
	ra, err := infer.File(a, infer.Options{})
	require.NoError(t, err)
	rb, err := infer.File(b, infer.Options{})
	require.NoError(t, err)
	m := record.MergeSchemas(ra.Schema, rb.Schema)
	require.Equal(t, "id long not null\nprice double not null\nbrand string\n", m.Describe())

	_, err = infer.File(filepath.Join(dir, "missing"), infer.Options{})
	require.Error(t, err)
	// a file bigger than MaxBytes is sampled and may end mid-record
	big := filepath.Join(dir, "big.jsonl")
	require.NoError(t, os.WriteFile(big, []byte(strings.Repeat(`{"id":1,"s":"abcdefgh"}`+"\n", 100)), 0o600))
	res, err := infer.File(big, infer.Options{MaxBytes: 100})
	require.NoError(t, err)
	require.Zero(t, res.Errors)
	require.Equal(t, 4, res.Records)
}

func TestInferAvro(t *testing.T) {
	const schema = `{"type":"record","name":"click","fields":[{"name":"id","type":"long"},{"name":"brand","type":["null","string"]}]}`
	c, err := avro.New(schema)
	require.NoError(t, err)
	var buf bytes.Buffer
	fw, err := avro.NewFileWriter(&buf, c, "deflate")
	require.NoError(t, err)
	r := record.New(2)
	r.Append("id", record.LongValue(2103807459595387724))
	r.Append("brand", record.NullValue())
	for range 250 {
		require.NoError(t, fw.Write(r))
	}
	require.NoError(t, fw.Close())
	res, err := infer.Bytes(buf.Bytes(), infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatAvro, res.Classification.Format)
	require.Equal(t, 250, res.Records)
	require.JSONEq(t, schema, res.WriterSchema)
	require.Equal(t, "id long not null\nbrand string\n", res.Schema.Describe())

	// a sample cut in the last block reads the blocks before it
	res, err = infer.Bytes(buf.Bytes()[:buf.Len()-5], infer.Options{Truncated: true})
	require.NoError(t, err)
	require.Zero(t, res.Errors)
	require.Equal(t, 200, res.Records)
}

// TestInferParquetREES46 writes the REES46 sample to Parquet with its
// inferred schema and infers it back from the file.
func TestInferParquetREES46(t *testing.T) {
	data := rees46(t)
	res, err := infer.Bytes(data, infer.Options{})
	require.NoError(t, err)
	var buf bytes.Buffer
	w, err := parquet.NewWriter(&buf, res.Schema)
	require.NoError(t, err)
	cr, err := record.NewCSVReader(bytes.NewReader(data), record.CSVOptions{Schema: res.Schema})
	require.NoError(t, err)
	var r record.Record
	for cr.Read(&r) == nil {
		require.NoError(t, w.Write(&r))
	}
	require.NoError(t, w.Close())

	path := filepath.Join(t.TempDir(), "rees46.parquet")
	require.NoError(t, os.WriteFile(path, buf.Bytes(), 0o600))
	back, err := infer.File(path, infer.Options{})
	require.NoError(t, err)
	require.Equal(t, infer.FormatParquet, back.Classification.Format)
	require.Equal(t, 1000, back.Records)
	require.Contains(t, back.WriterSchema, "category_id")
	// Parquet keeps the types; the text format of the timestamp is not a
	// property of the data any more
	require.Equal(t, `event_time timestamp not null
event_type string not null
product_id long not null
category_id long not null
category_code string
brand string
price double not null
user_id long not null
user_session string not null
`, back.Schema.Describe())
}
