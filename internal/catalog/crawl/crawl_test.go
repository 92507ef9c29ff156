package crawl_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
	"github.com/pricestream/pricestream/internal/jsonstr"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

// rees46Path is the real REES46 sample kept in the repository; the tests
// fail without it (the REES46 checks must not pass by skipping).
func rees46Path(t testing.TB) string {
	t.Helper()
	p := filepath.Join("..", "..", "..", "examples", "data", "rees46-2019-oct-sample.csv")
	_, err := os.Stat(p)
	require.NoError(t, err, "the REES46 sample belongs in examples/data")
	return p
}

// requireREES46 checks every column of the REES46 export's schema.
func requireREES46(t *testing.T, s *record.Schema) {
	t.Helper()
	want := []struct {
		name, typ string
		nullable  bool
	}{
		{"event_time", "timestamp('yyyy-MM-dd HH:mm:ss z')", false},
		{"event_type", "string", false},
		{"product_id", "long", false},
		{"category_id", "long", false}, // beyond 2^53: exact as long, never double
		{"category_code", "string", true},
		{"brand", "string", true},
		{"price", "double", false},
		{"user_id", "long", false},
		{"user_session", "string", false},
	}
	require.Equal(t, len(want), s.Len(), s.Describe())
	for i, w := range want {
		c := s.Column(i)
		require.Equal(t, w.name, c.Name)
		require.Equal(t, w.typ, c.Type.String(), w.name)
		require.Equal(t, w.nullable, c.Nullable, w.name)
	}
}

func TestCrawlFilesREES46(t *testing.T) {
	var reports []crawl.Progress
	res, err := crawl.Files(context.Background(), []string{rees46Path(t)}, crawl.Options{Progress: func(p crawl.Progress) { reports = append(reports, p) }})
	require.NoError(t, err)
	require.Equal(t, "csv", res.Classification.Format)
	require.Equal(t, 1.0, res.Classification.Certainty)
	require.Equal(t, ",", res.Classification.Delimiter)
	require.True(t, res.Classification.Header)
	require.Equal(t, catalog.Format{Type: catalog.FormatCSV}, res.Format)
	require.Equal(t, int64(1000), res.Records)
	require.Zero(t, res.Errors)
	require.True(t, filepath.IsAbs(res.Location.Path))
	requireREES46(t, res.Schema)
	require.NotEmpty(t, reports)
	last := reports[len(reports)-1]
	require.Equal(t, last.TotalBytes, last.Bytes, "the last report covers the whole file")
	require.Equal(t, int64(1000), last.Records)
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
	return p
}

// TestCrawlFilesMerged: JSON lines and a JSON array in two files merge into
// one schema: a field one file lacks is nullable, conflicting types
// become a choice, nested objects structs.
func TestCrawlFilesMerged(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "a.json", `{"id": 1, "price": 9.5, "tags": ["x"], "billing": {"city": "Paris"}}
{"id": 2, "price": 10, "tags": [], "billing": {"city": "Lyon"}}
`)
	writeFile(t, dir, "b.json", `[{"id": 3, "price": 11.5, "status": "paid", "billing": {"city": "Nice", "zip": "06000"}},
 {"id": "x4", "price": 12.5, "status": 7, "billing": {"city": "Nice"}}]`)
	writeFile(t, dir, ".hidden.json", `not json`)
	res, err := crawl.Files(context.Background(), []string{dir}, crawl.Options{})
	require.NoError(t, err)
	require.Len(t, res.Files, 2, "hidden files are skipped")
	require.Equal(t, catalog.FormatJSON, res.Format.Type)
	require.Equal(t, int64(4), res.Records)
	require.Equal(t, dir, res.Location.Path)
	require.Equal(t, `id choice<long,string> not null
price double not null
tags array<string>
billing struct<city:string not null,zip:string> not null
status choice<long,string>
`, res.Schema.Describe())
}

func TestCrawlFilesBadInput(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	csv := writeFile(t, dir, "a.csv", "a,b\n1,2\n")
	jsonl := writeFile(t, dir, "b.jsonl", `{"a": 1}`+"\n")
	_, err := crawl.Files(ctx, []string{csv, jsonl}, crawl.Options{})
	require.ErrorContains(t, err, "b.jsonl is json, but "+csv+" is csv delimited by \",\" with a header: crawl files of different formats into different tables")

	semi := writeFile(t, dir, "c.csv", "a;b;c\n1;2;3\n4;5;6\n")
	_, err = crawl.Files(ctx, []string{csv, semi}, crawl.Options{})
	require.ErrorContains(t, err, `is csv delimited by ";" with a header, but`)

	bin := writeFile(t, dir, "x.bin", "\x00\x01\x02\x03 not a format")
	_, err = crawl.Files(ctx, []string{bin}, crawl.Options{})
	require.ErrorIs(t, err, crawl.ErrUnknownFormat)
	require.ErrorContains(t, err, "x.bin")

	_, err = crawl.Files(ctx, []string{filepath.Join(dir, "missing.csv")}, crawl.Options{})
	require.ErrorIs(t, err, os.ErrNotExist)

	unreadable := writeFile(t, dir, "locked.csv", "a\n1\n")
	require.NoError(t, os.Chmod(unreadable, 0))
	if f, err := os.Open(unreadable); err == nil {
		f.Close() // running as root: permissions do not apply
	} else {
		_, err = crawl.Files(ctx, []string{unreadable}, crawl.Options{})
		require.ErrorIs(t, err, os.ErrPermission)
	}

	// malformed lines are counted, with the position of the first
	bad := writeFile(t, dir, "bad.jsonl", `{"a": 1}
{"a": 2,,}
{"a": 3}
`)
	res, err := crawl.Files(ctx, []string{bad}, crawl.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(2), res.Records)
	require.Equal(t, int64(1), res.Errors)
	require.Contains(t, res.FirstError, "bad.jsonl: record: json: record 1, offset 17: expected a string key")

	// a file with no readable record is an error naming it
	allBad := writeFile(t, dir, "allbad.jsonl", "{\"a\": \n{\"b\": \n")
	_, err = crawl.Files(ctx, []string{allBad}, crawl.Options{Format: catalog.FormatJSON})
	require.ErrorContains(t, err, "allbad.jsonl: no readable record as json_lines")
}

func TestCrawlFilesAvroAndParquet(t *testing.T) {
	dir := t.TempDir()
	schema := record.MustSchema(
		record.Column{Name: "event_id", Type: record.TypeString},
		record.Column{Name: "product_id", Type: record.TypeLong},
		record.Column{Name: "price", Type: record.TypeDouble, Nullable: true},
	)
	recs := make([]*record.Record, 50)
	for i := range recs {
		r := record.New(3)
		r.Append("event_id", record.StringValue(fmt.Sprintf("e%d", i)))
		r.Append("product_id", record.LongValue(int64(i)))
		r.Append("price", record.DoubleValue(float64(i)/2))
		recs[i] = r
	}
	js, err := avro.SchemaJSON(schema, "Click")
	require.NoError(t, err)
	codec, err := avro.New(js)
	require.NoError(t, err)
	var ab bytes.Buffer
	aw, err := avro.NewFileWriter(&ab, codec, "deflate")
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, aw.Write(r))
	}
	require.NoError(t, aw.Close())
	avroPath := writeFile(t, dir, "clicks.avro", ab.String())

	var pb bytes.Buffer
	pw, err := parquet.NewWriter(&pb, schema)
	require.NoError(t, err)
	for _, r := range recs {
		require.NoError(t, pw.Write(r))
	}
	require.NoError(t, pw.Close())
	pqPath := writeFile(t, dir, "clicks.parquet", pb.String())

	for _, c := range []struct {
		path   string
		format catalog.FormatType
	}{{avroPath, catalog.FormatAvro}, {pqPath, catalog.FormatParquet}} {
		res, err := crawl.Files(context.Background(), []string{c.path}, crawl.Options{})
		require.NoError(t, err, c.path)
		require.Equal(t, c.format, res.Format.Type)
		require.Equal(t, 1.0, res.Classification.Certainty)
		require.Equal(t, int64(50), res.Records)
		require.True(t, res.Schema.Equal(schema), "%s: %s", c.path, res.Schema.Describe())
	}
	// a truncated Parquet file is an error, never a panic
	cut := writeFile(t, dir, "cut.parquet", pb.String()[:pb.Len()/2])
	_, err = crawl.Files(context.Background(), []string{cut}, crawl.Options{})
	require.Error(t, err)
	require.ErrorContains(t, err, "cut.parquet")
}

// sliceSource is a Source of payloads in memory.
type sliceSource struct {
	recs []string
	i    int
}

func (s *sliceSource) Next(context.Context) ([]byte, error) {
	if s.i == len(s.recs) {
		return nil, io.EOF
	}
	s.i++
	return []byte(s.recs[s.i-1]), nil
}

func TestCrawlRecords(t *testing.T) {
	ctx := context.Background()
	// the REES46 rows as a stream holds them after `stream put`: JSON
	// objects with numbers as written and null for empty fields
	b, err := os.ReadFile(rees46Path(t))
	require.NoError(t, err)
	cr, err := record.NewCSVReader(bytes.NewReader(b), record.CSVOptions{})
	require.NoError(t, err)
	var src sliceSource
	var r record.Record
	for cr.Read(&r) == nil {
		var line []byte
		line = append(line, '{')
		for i, f := range r.Fields() {
			if i > 0 {
				line = append(line, ',')
			}
			line = jsonstr.Append(line, f.Name)
			line = append(line, ':')
			switch {
			case f.Value.IsNull():
				line = append(line, "null"...)
			case isNumber(f.Value.Str()):
				line = append(line, f.Value.Str()...)
			default:
				line = jsonstr.Append(line, f.Value.Str())
			}
		}
		src.recs = append(src.recs, string(append(line, '}')))
	}
	require.Len(t, src.recs, 1000)
	res, err := crawl.Records(ctx, &src, catalog.Location{Stream: "clicks"}, crawl.Options{MaxRecords: 5000})
	require.NoError(t, err)
	require.Equal(t, "json_lines", res.Classification.Format)
	require.Equal(t, catalog.Location{Stream: "clicks"}, res.Location)
	require.Equal(t, int64(1000), res.Records)
	requireREES46(t, res.Schema)

	// a sample of 10
	src.i = 0
	res, err = crawl.Records(ctx, &src, catalog.Location{Stream: "clicks"}, crawl.Options{MaxRecords: 10})
	require.NoError(t, err)
	require.Equal(t, int64(10), res.Records)

	// CSV lines without a header
	res, err = crawl.Records(ctx, &sliceSource{recs: []string{"1|a|2.5", "2|b|3", "3||4"}}, catalog.Location{Stream: "s"}, crawl.Options{})
	require.NoError(t, err)
	require.Equal(t, "csv", res.Classification.Format)
	require.Equal(t, catalog.Format{Type: catalog.FormatCSV, Delimiter: "|", Header: new(bool)}, res.Format)
	require.Equal(t, "col0 long not null\ncol1 string\ncol2 double not null\n", res.Schema.Describe())

	_, err = crawl.Records(ctx, &sliceSource{}, catalog.Location{Stream: "empty"}, crawl.Options{})
	require.ErrorContains(t, err, "stream:empty: no records to sample")
	_, err = crawl.Records(ctx, &sliceSource{recs: []string{"hello", "world"}}, catalog.Location{Stream: "bin"}, crawl.Options{})
	require.True(t, errors.Is(err, crawl.ErrUnknownFormat), "%v", err)
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || (c == '-' && i == 0)) {
			return false
		}
	}
	return !strings.HasPrefix(s, ".")
}

func recordOf(t *testing.T, dec record.Decoder, data string) *record.Record {
	t.Helper()
	var r record.Record
	require.NoError(t, dec.Decode([]byte(data), &r))
	return &r
}
