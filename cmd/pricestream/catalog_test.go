package main

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCLICatalog(t *testing.T) {
	url := startApp(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := cli(t, append([]string{"--server", url}, args...)...)
		require.NoError(t, err, out)
		return out
	}
	require.Contains(t, run("catalog", "create-database", "shop", "--description", "Fast Sneakers", "--param", "owner=de"), "created database shop")
	out := run("catalog", "create-table", "shop", "clicks",
		"--columns", "event_time timestamp('yyyy-MM-dd HH:mm:ss z') not null, product_id long not null, price double",
		"--partition-key", "product_id", "--event-time", "event_time")
	require.Contains(t, out, "created table shop.clicks (version 1, 3 columns)")

	// get --json: the definition with the columns as [{"name","type","nullable"}]
	out = run("catalog", "get", "shop", "clicks", "--json")
	var def struct {
		Database, Name string
		Version        int
		Location       map[string]string
		Columns        []map[string]any
		PartitionKeys  []string `json:"partition_keys"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &def), out)
	require.Equal(t, "clicks", def.Name)
	require.Equal(t, 1, def.Version)
	require.Equal(t, map[string]string{"stream": "clicks"}, def.Location)
	require.Equal(t, []map[string]any{
		{"name": "event_time", "type": "timestamp('yyyy-MM-dd HH:mm:ss z')", "nullable": false},
		{"name": "product_id", "type": "long", "nullable": false},
		{"name": "price", "type": "double", "nullable": true},
	}, def.Columns)

	out = run("catalog", "get", "shop", "clicks")
	require.Contains(t, out, "table shop.clicks, version 1")
	require.Contains(t, out, "event time: event_time (yyyy-MM-dd HH:mm:ss z)")

	// a new version from a document: the JSON of get, edited
	var doc map[string]any
	require.NoError(t, json.Unmarshal([]byte(run("catalog", "get", "shop", "clicks", "--json")), &doc))
	doc["kind"] = "catalog_table"
	doc["columns"] = append(doc["columns"].([]any), map[string]any{"name": "brand", "type": "string"})
	b, err := json.Marshal(doc)
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "clicks.json")
	require.NoError(t, os.WriteFile(file, b, 0o600))
	require.Contains(t, run("catalog", "apply", "-f", file), "table shop.clicks updated (version 2)")
	require.Contains(t, run("catalog", "apply", "-f", file), "table shop.clicks unchanged (version 2)")

	out = run("catalog", "versions", "shop", "clicks")
	require.Contains(t, out, "+ brand string")
	out = run("catalog", "diff", "shop", "clicks")
	require.Contains(t, out, "shop.clicks: version 1 -> 2")
	require.Contains(t, out, "+ brand string")
	require.Contains(t, run("catalog", "list"), "shop")
	require.Contains(t, run("catalog", "list", "shop"), "clicks")

	// mistakes are reported with their position
	_, err = cli(t, "--server", url, "catalog", "create-table", "shop", "bad", "--columns", "a long, b strin")
	require.ErrorContains(t, err, `--columns: offset 10: unknown type "strin"`)
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("kind: catalog_table\ndatabase: shop\nname: t\nlocation: {stream: t}\nformat: {type: orc}\ncolumns: [{name: a, type: long}]\n"), 0o600))
	_, err = cli(t, "--server", url, "catalog", "apply", "-f", bad)
	require.ErrorContains(t, err, `5:16: format.type: unknown format "orc"`)
	_, err = cli(t, "--server", url, "catalog", "create-table", "shop", "clicks", "--columns", "a long")
	require.ErrorContains(t, err, "already_exists")

	require.Contains(t, run("catalog", "delete", "shop", "clicks"), "deleted table shop.clicks")
	require.Contains(t, run("catalog", "delete", "shop"), "deleted database shop")
}

// TestCLIBindKinesis binds a stream with the CLI and puts through the
// Kinesis API: the check applies there too.
func TestCLIBindKinesis(t *testing.T) {
	url := startApp(t)
	run := func(args ...string) string {
		t.Helper()
		out, err := cli(t, append([]string{"--server", url}, args...)...)
		require.NoError(t, err, out)
		return out
	}
	run("stream", "create", "clicks", "--partitions", "1")
	run("stream", "create", "clicks-dlq", "--partitions", "1")
	run("catalog", "create-database", "shop")
	run("catalog", "create-table", "shop", "clicks", "--columns", "event_id string not null, price double not null")
	require.Contains(t, run("catalog", "bind", "clicks", "shop", "clicks", "--policy", "reject"), "stream clicks is checked against shop.clicks (reject)")
	require.Contains(t, run("catalog", "bindings"), "shop.clicks")

	kinesisPut := func(datas ...string) (int, map[string]any) {
		t.Helper()
		var recs []map[string]any
		for _, d := range datas {
			recs = append(recs, map[string]any{"Data": []byte(d), "PartitionKey": "k"})
		}
		body, err := json.Marshal(map[string]any{"StreamName": "clicks", "Records": recs})
		require.NoError(t, err)
		req, err := http.NewRequest(http.MethodPost, url+"/", bytes.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("X-Amz-Target", "Kinesis_20131202.PutRecords")
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	status, out := kinesisPut(`{"event_id":"e1","price":1.5}`, `{"event_id":"e2","price":"x"}`)
	require.Equal(t, 400, status)
	require.Equal(t, "ValidationException", out["__type"])
	require.Contains(t, out["message"], `records[1]: 1 violation: price: expected double`)

	run("catalog", "bind", "clicks", "shop", "clicks", "--policy", "dead-letter", "--dead-letter", "clicks-dlq")
	status, out = kinesisPut(`{"event_id":"e1","price":1.5}`, `not json`)
	require.Equal(t, 200, status, out)
	require.Equal(t, float64(0), out["FailedRecordCount"])
	out2 := run("stream", "tail", "clicks-dlq", "--from", "trim_horizon", "--limit", "1", "--data")
	require.Contains(t, out2, `"data_base64":"bm90IGpzb24="`)
	require.Contains(t, out2, `"reason":"json: `)
	require.Contains(t, run("catalog", "unbind", "clicks"), "no longer checked")
}

// TestCLICatalogApplyDir applies the catalog documents of a directory that
// also holds other definitions (a job), which it leaves alone.
func TestCLICatalogApplyDir(t *testing.T) {
	url := startApp(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a-catalog.yaml"), []byte(`kind: catalog_database
name: shop
---
kind: catalog_table
database: shop
name: clicks
location: {stream: clicks}
columns: [{name: product_id, type: long, nullable: false}]
`), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b-job.yaml"), []byte("name: prices\nsource: {stream: clicks, catalog: shop.clicks}\nsink: {stream: prices, partition_key: product_id}\ndead_letter: dlq\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a definition"), 0o600))
	out, err := cli(t, "--server", url, "catalog", "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Equal(t, "database shop created\ntable shop.clicks created (version 1)\n", out)
	out, err = cli(t, "--server", url, "catalog", "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "table shop.clicks unchanged (version 1)")
	// a bad catalog document in the directory stops everything, before any apply
	require.NoError(t, os.WriteFile(filepath.Join(dir, "c-bad.yaml"), []byte("kind: catalog_table\ndatabase: shop\nname: t\nlocation: {stream: t}\ncolumns: [{name: a, type: lng}]\n"), 0o600))
	_, err = cli(t, "--server", url, "catalog", "apply", "-f", dir)
	require.ErrorContains(t, err, `c-bad.yaml: 5:27: columns[0].type: offset 0 of "lng": unknown type "lng"`)
}

// TestCLIApplyCatalogAndJob: `pricestream apply` applies catalog documents
// before the job whose source names the catalog table, and the job
// compiles against it on the server.
func TestCLIApplyCatalogAndJob(t *testing.T) {
	url := startApp(t)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "defs.yaml"), []byte(`kind: job
name: prices
source: {stream: clicks, catalog: shop.clicks}
transforms:
  - filter: price > 10
sink: {stream: prices, partition_key: product_id}
dead_letter: prices-dlq
---
kind: catalog_table
database: shop
name: clicks
location: {stream: clicks}
columns:
  - {name: product_id, type: long, nullable: false}
  - {name: price, type: double}
---
kind: catalog_database
name: shop
---
kind: stream
name: clicks
partitions: 1
---
kind: stream
name: prices
partitions: 1
`), 0o600))
	out, err := cli(t, "--server", url, "apply", "-f", dir)
	require.NoError(t, err, out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 5, out)
	require.Equal(t, "catalog_database shop: created", lines[2])
	require.Equal(t, "catalog_table clicks: created (version 1)", lines[3])
	require.True(t, strings.HasPrefix(lines[4], "job prices: applied"), lines[4])
	out, err = cli(t, "--server", url, "apply", "-f", dir)
	require.NoError(t, err, out)
	require.Contains(t, out, "catalog_table clicks: unchanged (version 1)")
}
