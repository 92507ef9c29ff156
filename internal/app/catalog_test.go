package app

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/etl"
	"github.com/pricestream/pricestream/internal/record"
)

// TestAppCatalogFeedsETL: a job whose source names a catalog table
// compiles against the app's catalog, typed by the table's schema.
func TestAppCatalogFeedsETL(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Engine.DataDir = t.TempDir()
	cfg.HTTP.Addr = "127.0.0.1:0"
	ctx := context.Background()
	a, err := New(ctx, cfg, nil)
	require.NoError(t, err)
	defer a.Close()
	cat := a.Catalog()
	_, err = cat.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	_, err = cat.CreateTable(ctx, &catalog.Table{Database: "shop", Name: "clicks", Location: catalog.Location{Stream: "clicks"},
		Format: catalog.Format{Type: catalog.FormatJSON}, Compatibility: catalog.CompatBackward,
		Schema: record.MustSchema(
			record.Column{Name: "event_time", Type: record.MustParseType("timestamp('yyyy-MM-dd HH:mm:ss z')")},
			record.Column{Name: "product_id", Type: record.TypeLong},
			record.Column{Name: "price", Type: record.TypeDouble, Nullable: true}),
		EventTime: &catalog.EventTime{Field: "event_time"}})
	require.NoError(t, err)
	spec, err := etl.Decode([]byte("name: prices\nsource: {stream: clicks, catalog: shop.clicks}\nsink: {stream: prices, partition_key: product_id}\ndead_letter: prices-dlq\n"))
	require.NoError(t, err)
	plan, err := etl.Compile(ctx, spec, cat)
	require.NoError(t, err)
	require.Equal(t, []string{"event_time", "product_id", "price"}, plan.Schema().Names())
	spec.Source.Catalog = "shop.nope"
	_, err = etl.Compile(ctx, spec, cat)
	require.ErrorContains(t, err, "source.catalog")
}
