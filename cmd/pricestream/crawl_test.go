package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/client"
)

// requireREES46Columns checks every column of a catalog table crawled
// from the REES46 export.
func requireREES46Columns(t *testing.T, url, db, table string) {
	t.Helper()
	tbl, err := client.New(url).GetCatalogTable(context.Background(), db, table, 0)
	require.NoError(t, err)
	want := []struct {
		name, typ string
		nullable  bool
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
	require.Equal(t, len(want), tbl.Schema.Len())
	for i, w := range want {
		c := tbl.Schema.Column(i)
		require.Equal(t, w.name, c.Name)
		require.Equal(t, w.typ, c.Type.String(), w.name)
		require.Equal(t, w.nullable, c.Nullable, w.name)
	}
}

func TestCLICrawlFiles(t *testing.T) {
	url := startApp(t)
	out, err := cli(t, "--server", url, "crawl", rees46, "--database", "shop", "--table", "rees46")
	require.NoError(t, err, out)
	require.Contains(t, out, "crawled "+rees46+": 1000 records")
	require.Contains(t, out, `format: csv, certainty 1.00 (9 fields on 200 of 200 lines), delimiter ",", header true`)
	require.Contains(t, out, "table shop.rees46 created (version 1)")
	requireREES46Columns(t, url, "shop", "rees46")

	out, err = cli(t, "--server", url, "crawl", rees46, "--database", "shop", "--table", "rees46")
	require.NoError(t, err)
	require.Contains(t, out, "table shop.rees46 unchanged (version 1)")

	// a later export gained a column and lost one: LOG reports, writes nothing
	dir := t.TempDir()
	later := filepath.Join(dir, "later.jsonl")
	require.NoError(t, os.WriteFile(later, []byte(`{"event_time":"2019-10-02 00:00:00 UTC","event_type":"view","product_id":1,"category_id":2053013552326770905,"category_code":null,"brand":"aqua","price":3.5,"user_id":5,"user_session":"s","device":"ios"}
`), 0o600))
	out, err = cli(t, "--server", url, "crawl", later, "--database", "shop", "--table", "rees46", "--update-behavior", "LOG")
	require.NoError(t, err, out)
	require.Contains(t, out, "not changed (update behavior LOG)")
	require.Contains(t, out, "+ device string")
	require.Contains(t, out, "~ format.type: csv -> json")

	out, err = cli(t, "--server", url, "crawl", later, "--database", "shop", "--table", "rees46", "--json")
	require.NoError(t, err)
	var js struct {
		Result struct {
			Columns []map[string]any `json:"columns"`
		} `json:"result"`
		Outcome struct {
			Action string `json:"action"`
			Table  struct {
				Version int `json:"version"`
			} `json:"table"`
		} `json:"outcome"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &js), out)
	require.Equal(t, "updated", js.Outcome.Action)
	require.Equal(t, 2, js.Outcome.Table.Version)
	require.Len(t, js.Result.Columns, 10)

	// bad input: clear errors naming the file
	bin := filepath.Join(dir, "x.bin")
	require.NoError(t, os.WriteFile(bin, []byte("\x00\x01\x02binary"), 0o600))
	_, err = cli(t, "--server", url, "crawl", bin, "--database", "shop", "--table", "x")
	require.ErrorContains(t, err, "crawl: unknown format: "+bin+": binary data that is neither Avro nor Parquet")
	_, err = cli(t, "--server", url, "crawl", filepath.Join(dir, "missing.csv"), "--database", "shop", "--table", "x")
	require.ErrorContains(t, err, "no such file")
	_, err = cli(t, "--server", url, "crawl", rees46, "--database", "shop", "--table", "x", "--delete-behavior", "SOMETIMES")
	require.ErrorContains(t, err, "delete_behavior")
}

func TestCLICrawlStream(t *testing.T) {
	url := startApp(t)
	_, err := cli(t, "--server", url, "stream", "create", "clicks", "--partitions", "4")
	require.NoError(t, err)
	_, err = cli(t, "--server", url, "stream", "put", "clicks", "--file", rees46, "--partition-key", "product_id")
	require.NoError(t, err)
	out, err := cli(t, "--server", url, "crawl", "--stream", "clicks", "--database", "shop", "--table", "clicks", "--sample", "5000")
	require.NoError(t, err, out)
	require.Contains(t, out, "crawled stream clicks: 1000 records")
	require.Contains(t, out, "format: json_lines")
	require.Contains(t, out, "table shop.clicks created (version 1)")
	requireREES46Columns(t, url, "shop", "clicks")
	tbl, err := client.New(url).GetCatalogTable(context.Background(), "shop", "clicks", 0)
	require.NoError(t, err)
	require.Equal(t, "stream:clicks", tbl.Location.String())

	out, err = cli(t, "--server", url, "crawl", "--stream", "clicks", "--database", "shop", "--table", "sample", "--sample", "100")
	require.NoError(t, err, out)
	require.Contains(t, out, "crawled stream clicks: 100 records")

	_, err = cli(t, "--server", url, "crawl", "--stream", "nope", "--database", "shop", "--table", "x")
	require.ErrorContains(t, err, "not_found")
}

func TestCLICrawlGrok(t *testing.T) {
	url := startApp(t)
	dir := t.TempDir()
	log := filepath.Join(dir, "price.log")
	require.NoError(t, os.WriteFile(log, []byte("2019-10-01 00:00:01 INFO product=44600062 price=35.79 up\n2019-10-01 00:00:02 WARN product=3900821 price=33.20 down\n"), 0o600))
	patterns := filepath.Join(dir, "patterns")
	require.NoError(t, os.WriteFile(patterns, []byte("# the shop's price lines\nPRICELINE %{TIMESTAMP_ISO8601:time} %{LOGLEVEL:level} product=%{NUMBER:product_id} price=%{NUMBER:price} %{GREEDYDATA:message}\n"), 0o600))
	out, err := cli(t, "--server", url, "crawl", log, "--database", "shop", "--table", "price_log",
		"--grok-pattern", "%{PRICELINE}", "--grok-custom-patterns", patterns)
	require.NoError(t, err, out)
	require.Contains(t, out, "format: grok, certainty 1.00 (the grok pattern matches 2 of 2 lines)")
	require.Contains(t, out, "table shop.price_log created (version 1)")
	tbl, err := client.New(url).GetCatalogTable(context.Background(), "shop", "price_log", 0)
	require.NoError(t, err)
	require.Equal(t, "%{PRICELINE}", tbl.Format.GrokPattern)
	require.Equal(t, []string{"time", "level", "product_id", "price", "message"}, tbl.Schema.Names())
	require.Equal(t, "long", tbl.Schema.Lookup("product_id").Type.String())
}
