package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/stream"
)

type catalogFixture struct {
	*fixture
	cat *catalog.Catalog
}

// startCatalog runs a real server with streams and the catalog (its
// watcher started, as the app runs it).
func startCatalog(t *testing.T) *catalogFixture {
	t.Helper()
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	cat, err := catalog.New(catalog.Config{}, catalog.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	require.NoError(t, cat.Start(context.Background()))
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Streams: sm, Catalog: cat, Registerer: reg, Gatherer: reg})
	require.NoError(t, err)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		cat.Close()
		sm.Close()
	})
	url := "http://" + srv.Addr().String()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return &catalogFixture{fixture: &fixture{url: url, c: client.New(url, client.WithHTTPClient(hc)), eng: e, streams: sm}, cat: cat}
}

func clicksTable(t *testing.T, columns string) *catalog.Table {
	t.Helper()
	typ, err := record.ParseType("struct<" + columns + ">")
	require.NoError(t, err)
	return &catalog.Table{Database: "shop", Name: "clicks", Location: catalog.Location{Stream: "clicks"},
		Format: catalog.Format{Type: catalog.FormatJSON}, Schema: record.MustSchema(typ.Fields...), Compatibility: catalog.CompatBackward}
}

func TestAPICatalogTables(t *testing.T) {
	f := startCatalog(t)
	ctx := context.Background()
	c := f.c
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop", Description: "the shop"})
	require.NoError(t, err)
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	requireCode(t, err, 409, "already_exists")
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "no good"})
	requireCode(t, err, 400, "invalid_argument")

	v1, err := c.CreateCatalogTable(ctx, clicksTable(t, "event_id string not null, price double not null"))
	require.NoError(t, err)
	require.Equal(t, 1, v1.Version)
	_, err = c.CreateCatalogTable(ctx, clicksTable(t, "a long"))
	requireCode(t, err, 409, "already_exists")

	v2, err := c.PutCatalogTable(ctx, clicksTable(t, "event_id string not null, price double not null, brand string"), 0)
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)
	_, err = c.PutCatalogTable(ctx, clicksTable(t, "event_id string not null, price double not null, qty int not null"), 0)
	requireCode(t, err, 409, "incompatible_schema")
	require.ErrorContains(t, err, `column "qty"`)
	_, err = c.PutCatalogTable(ctx, clicksTable(t, "event_id string not null"), 1)
	requireCode(t, err, 409, "conflict")

	got, err := c.GetCatalogTable(ctx, "shop", "clicks", 0)
	require.NoError(t, err)
	require.Equal(t, 2, got.Version)
	require.True(t, got.Schema.Equal(v2.Schema))
	old, err := c.GetCatalogTable(ctx, "shop", "clicks", 1)
	require.NoError(t, err)
	require.Equal(t, 2, old.Schema.Len())
	_, err = c.GetCatalogTable(ctx, "shop", "clicks", 9)
	requireCode(t, err, 404, "not_found")
	_, err = c.GetCatalogTable(ctx, "shop", "nope", 0)
	requireCode(t, err, 404, "not_found")

	vs, err := c.CatalogTableVersions(ctx, "shop", "clicks")
	require.NoError(t, err)
	require.Len(t, vs, 2)
	require.Equal(t, []string{"created"}, vs[0].Changes)
	require.Equal(t, []string{"+ brand string"}, vs[1].Changes)
	d, err := c.DiffCatalogTable(ctx, "shop", "clicks", 1, 2)
	require.NoError(t, err)
	require.Equal(t, []catalog.ColumnChange{{Column: "brand", Kind: catalog.ColumnAdded, New: "string"}}, d.Columns)

	tables, err := c.ListCatalogTables(ctx, "shop")
	require.NoError(t, err)
	require.Len(t, tables, 1)

	// a body with a type error: every problem with its path
	resp, err := http.Post(f.url+"/v1/catalog/databases/shop/tables", "application/json",
		bytesReader(`{"name":"t2","location":{"stream":"s"},"format":{"type":"xml"},"columns":[{"name":"a","type":"map<string"}]}`))
	require.NoError(t, err)
	body := readAll(t, resp)
	require.Equal(t, 400, resp.StatusCode, body)
	var eb struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &eb))
	require.Equal(t, "invalid_argument", eb.Error.Code)
	require.Contains(t, eb.Error.Message, `columns[0].type: offset 10 of "map<string": expected ','`)
	require.Contains(t, eb.Error.Message, `format.type: unknown format "xml"`)

	res, err := c.ValidateRecords(ctx, "shop", "clicks", api.ValidateRequest{Records: rawRecords(
		`{"event_id":"e1","price":35.79}`,
		`{"event_id":"e2","price":"cheap","color":"red"}`,
		`{"price":1}`,
	)})
	require.NoError(t, err)
	require.Equal(t, 1, res.Valid)
	require.Len(t, res.Invalid, 2)
	require.Equal(t, 1, res.Invalid[0].Index)
	require.Equal(t, []api.Violation{
		{Path: "price", Reason: `expected double: cannot cast string "cheap" to double: not a number`},
		{Path: "color", Reason: "not in the schema"},
	}, res.Invalid[0].Violations)
	require.Equal(t, []api.Violation{{Path: "event_id", Reason: "missing"}}, res.Invalid[1].Violations)

	err = c.DeleteDatabase(ctx, "shop", false)
	requireCode(t, err, 409, "conflict")
	require.NoError(t, c.DeleteCatalogTable(ctx, "shop", "clicks"))
	require.NoError(t, c.DeleteDatabase(ctx, "shop", false))
}

func TestAPICatalogApply(t *testing.T) {
	f := startCatalog(t)
	ctx := context.Background()
	docs := []byte(`kind: catalog_database
name: shop
---
kind: catalog_table
database: shop
name: clicks
location: {stream: clicks}
columns:
  - {name: event_id, type: string, nullable: false}
`)
	res, err := f.c.ApplyCatalog(ctx, docs)
	require.NoError(t, err)
	require.Equal(t, []catalog.ApplyResult{{Kind: "catalog_database", Name: "shop", Action: "created"}, {Kind: "catalog_table", Name: "shop.clicks", Action: "created", Version: 1}}, res)
	res, err = f.c.ApplyCatalog(ctx, docs)
	require.NoError(t, err)
	require.Equal(t, "unchanged", res[1].Action)
	_, err = f.c.ApplyCatalog(ctx, []byte("kind: catalog_table\nname: x\ncolumns: [{name: a, type: lng}]\n"))
	requireCode(t, err, 400, "invalid_argument")
	require.ErrorContains(t, err, `3:27: columns[0].type: offset 0 of "lng": unknown type "lng"`)
}

func bytesReader(s string) *strings.Reader { return strings.NewReader(s) }

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

func rawRecords(recs ...string) []json.RawMessage {
	out := make([]json.RawMessage, len(recs))
	for i, r := range recs {
		out[i] = json.RawMessage(r)
	}
	return out
}
