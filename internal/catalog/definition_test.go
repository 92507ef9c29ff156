package catalog_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
)

// TestDefinitionGoodFiles decodes every *.good.* document and checks what
// it defines.
func TestDefinitionGoodFiles(t *testing.T) {
	files, err := filepath.Glob("testdata/definitions/*.good.*")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	byName := map[string]*catalog.Document{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		docs, err := catalog.DecodeDocuments(b, filepath.Base(f))
		require.NoError(t, err, f)
		for _, d := range docs {
			require.Equal(t, filepath.Base(f), d.Source)
			require.Positive(t, d.Line)
			byName[d.Name()] = d
		}
	}
	require.Equal(t, "data-engineering", byName["shop"].Database.Parameters["owner"])

	clicks := byName["shop.clicks"].Table
	require.Equal(t, catalog.Location{Stream: "clicks"}, clicks.Location)
	require.Equal(t, catalog.FormatJSON, clicks.Format.Type)
	require.Equal(t, 9, clicks.Schema.Len())
	require.Equal(t, "timestamp('yyyy-MM-dd HH:mm:ss z')", clicks.Schema.Lookup("event_time").Type.String())
	require.False(t, clicks.Schema.Lookup("event_time").Nullable)
	require.True(t, clicks.Schema.Lookup("brand").Nullable, "nullable defaults to true")
	require.Equal(t, "session id the shop assigns", clicks.Schema.Lookup("user_session").Comment)
	require.Equal(t, []string{"product_id"}, clicks.PartitionKeys)
	f, ok := clicks.EventTimeFormat()
	require.True(t, ok)
	require.Equal(t, "yyyy-MM-dd HH:mm:ss z", f.String(), "the event time takes the column's format")
	require.Equal(t, catalog.CompatBackward, clicks.Compatibility)

	files2 := byName["shop.rees46_files"].Table
	require.Equal(t, catalog.CompatFullAll, files2.Compatibility, "Confluent's _TRANSITIVE spelling is _ALL")
	require.Equal(t, record.TypeLong, files2.Schema.Lookup("product_id").Type, "bigint is long")
	opts := files2.Format.CSVOptions()
	require.Equal(t, byte(','), opts.Delimiter)
	require.Equal(t, []string{"", "NULL"}, opts.NullMarkers)
	require.False(t, opts.NoHeader)

	orders := byName["shop.orders"].Table
	require.Equal(t, catalog.Location{Table: "orders"}, orders.Location)
	require.Equal(t, "choice<long,string>", orders.Schema.Lookup("status").Type.String())
	require.Equal(t, record.KindArray, orders.Schema.Lookup("items").Type.Kind)

	logs := byName["shop.price_log"].Table
	require.Equal(t, catalog.FormatGrok, logs.Format.Type)
	dec, err := logs.Decoder()
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, dec.Decode([]byte("2019-10-01 00:00:01 WARN product=44600062 price went up"), &r))
	v, _ := r.Get("product_id")
	require.Equal(t, int64(44600062), v.Long())
	require.NoError(t, logs.Validator(record.ValidateOptions{}).Validate(&r))

	avro := byName["shop.clicks_avro"].Table
	require.Equal(t, []string{"event_id", "product_id", "price"}, avro.Schema.Names(), "columns from the Avro writer schema")
	require.True(t, avro.Schema.Lookup("price").Nullable)
	require.False(t, avro.Schema.Lookup("product_id").Nullable)
}

// TestDefinitionBadFiles checks that every problem of a bad document is
// reported at once, each with its position and path.
func TestDefinitionBadFiles(t *testing.T) {
	want := map[string][]string{
		"types.bad.yaml": {
			`8:30: columns[1].type: offset 9 of "struct<a:lng>": unknown type "lng"`,
			`9:25: columns[2].type: offset 11 of "decimal(10,": expected a number`,
			`10:12: columns[3].name: duplicate column "price" (also columns[2])`,
			`11:5: columns[4].type: missing`,
		},
		"fields.bad.yaml": {
			`3:7: name: "1clicks": want 1-128 characters`,
			`4:11: location: set only one of stream, table or path`,
			`5:9: format: delimiter, quote, header and null_markers apply to csv only`,
			`5:16: format.type: unknown format "xml": want one of json, csv, avro, parquet`,
			`9:13: event_time.format: "n" is a long column: want unix_seconds`,
			`10:16: compatibility: unknown compatibility mode "SOMETIMES"`,
			`11:13: parameters: keys must be 1-255 bytes`,
			`12:25: deprecated_columns[1]: "gone" is not a column`,
		},
		"unknown-field.bad.yaml": {`5:1: unknown field "colums"`},
		"syntax.bad.yaml":        {`4:10: sequence end token ']' not found`},
		"kinds.bad.yaml": {
			`4:7: kind: unknown kind "job": want catalog_database or catalog_table`,
			`7:5: kind: missing: want catalog_database or catalog_table`,
		},
		"grok.bad.yaml": {
			`7:17: format.grok_pattern: pattern "%{COMMONAPACHELOGG}": pattern definition "COMMONAPACHELOGG" unknown`,
			`15:36: format.grok_pattern: grok_pattern and grok_custom_patterns apply to grok only`,
		},
		"csv.bad.yaml": {
			`6:7: format: delimiter, quote, header and null_markers apply to csv only`,
			`6:9: format.type: parquet is a file format: the location must be a path`,
			`10:32: event_time.format: time format "yyyy-QQ": offset 5: unknown pattern letter 'Q'`,
		},
	}
	files, err := filepath.Glob("testdata/definitions/*.bad.*")
	require.NoError(t, err)
	require.Len(t, files, len(want), "every bad file has its expected errors here")
	for _, f := range files {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(f)
			require.NoError(t, err)
			docs, err := catalog.DecodeDocuments(b, name)
			require.Nil(t, docs)
			require.ErrorIs(t, err, catalog.ErrInvalid)
			var de *catalog.DefinitionError
			require.True(t, errors.As(err, &de))
			require.Equal(t, name, de.Source)
			for _, w := range want[name] {
				require.Contains(t, err.Error(), w)
			}
			require.Len(t, de.Problems, len(want[name]), err.Error())
		})
	}
}

// TestDefinitionJSONRoundTrip: the JSON form (what `catalog get --json`
// prints) has the columns as [{"name","type","nullable"}] and parses back
// to an equal definition.
func TestDefinitionJSONRoundTrip(t *testing.T) {
	b, err := os.ReadFile("testdata/definitions/clicks.good.yaml")
	require.NoError(t, err)
	docs, err := catalog.DecodeDocuments(b, "clicks.good.yaml")
	require.NoError(t, err)
	tbl := docs[1].Table
	out, err := json.Marshal(tbl)
	require.NoError(t, err)
	var generic struct {
		Columns []map[string]any `json:"columns"`
	}
	require.NoError(t, json.Unmarshal(out, &generic))
	require.Equal(t, map[string]any{"name": "event_time", "type": "timestamp('yyyy-MM-dd HH:mm:ss z')", "nullable": false}, generic.Columns[0])
	require.Equal(t, map[string]any{"name": "brand", "type": "string", "nullable": true}, generic.Columns[5])
	back, err := catalog.ParseTable(out)
	require.NoError(t, err)
	require.True(t, back.Schema.Equal(tbl.Schema))
	require.Empty(t, catalog.DiffTables(tbl, back).Columns)
	require.Empty(t, catalog.DiffTables(tbl, back).Fields)

	// and the JSON form is a document too
	docs, err = catalog.DecodeDocuments([]byte(strings.Replace(string(out), "{", `{"kind":"catalog_table",`, 1)), "get.json")
	require.NoError(t, err)
	require.True(t, docs[0].Table.Schema.Equal(tbl.Schema))

	_, err = catalog.ParseTable([]byte(`{"database":"shop","name":"t","location":{"stream":"s"},"columns":[{"name":"a","type":"string"}],"extra":1}`))
	require.ErrorIs(t, err, catalog.ErrInvalid)
	require.ErrorContains(t, err, `unknown field "extra"`)
}

func TestDefinitionLocations(t *testing.T) {
	for _, c := range []struct {
		in   string
		want catalog.Location
		err  string
	}{
		{in: "stream:clicks", want: catalog.Location{Stream: "clicks"}},
		{in: "table:products", want: catalog.Location{Table: "products"}},
		{in: "path:/data/x.csv", want: catalog.Location{Path: "/data/x.csv"}},
		{in: "file:///data/x.csv", want: catalog.Location{Path: "/data/x.csv"}},
		{in: "/data/*.json", want: catalog.Location{Path: "/data/*.json"}},
		{in: "./x.csv", want: catalog.Location{Path: "./x.csv"}},
		{in: "s3:bucket", err: "want stream:NAME"},
		{in: "", err: "empty location"},
	} {
		got, err := catalog.ParseLocation(c.in)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.want, got, c.in)
		if !strings.HasPrefix(c.in, "file://") && strings.Contains(c.in, ":") {
			require.Equal(t, c.in, got.String())
		}
	}
}
