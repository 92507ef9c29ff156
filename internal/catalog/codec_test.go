package catalog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

func TestTableDecoder(t *testing.T) {
	tbl := table(t, "shop", "clicks", "event_time timestamp('yyyy-MM-dd HH:mm:ss z') not null, category_id long not null, price double")
	dec, err := tbl.Decoder()
	require.NoError(t, err)
	var r record.Record
	require.NoError(t, dec.Decode([]byte(`{"event_time":"2019-10-01 00:00:01 UTC","category_id":2103807459595387724,"price":35}`), &r))
	v, _ := r.Get("event_time")
	require.Equal(t, record.KindTimestamp, v.Kind())
	require.Equal(t, int64(1569888001), v.Time().Unix())
	v, _ = r.Get("category_id")
	require.Equal(t, int64(2103807459595387724), v.Long())
	v, _ = r.Get("price")
	require.Equal(t, record.KindDouble, v.Kind())
	require.NoError(t, tbl.Validator(record.ValidateOptions{}).Validate(&r))

	csv := tbl.Clone()
	csv.Format = catalog.Format{Type: catalog.FormatCSV, Delimiter: "|"}
	dec, err = csv.Decoder()
	require.NoError(t, err)
	require.NoError(t, dec.Decode([]byte("2019-10-01 00:00:01 UTC|7|"), &r))
	v, _ = r.Get("price")
	require.True(t, v.IsNull())

	avro := tbl.Clone()
	avro.Format = catalog.Format{Type: catalog.FormatAvro}
	_, err = avro.Decoder()
	require.ErrorIs(t, err, catalog.ErrInvalid)
	pq := tbl.Clone()
	pq.Format = catalog.Format{Type: catalog.FormatParquet}
	_, err = pq.Decoder()
	require.ErrorContains(t, err, "no per-record decoder")
}

func TestCatalogSourceOf(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, enginetest.Start(t))
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	tbl := table(t, "shop", "clicks", "event_time timestamp('yyyy-MM-dd HH:mm:ss z') not null, price double")
	tbl.Format = catalog.Format{Type: catalog.FormatCSV}
	tbl.EventTime = &catalog.EventTime{Field: "event_time"}
	_, err = c.CreateTable(ctx, tbl)
	require.NoError(t, err)
	format, schema, et, err := c.SourceOf(ctx, "shop.clicks")
	require.NoError(t, err)
	require.Equal(t, "csv", format)
	require.True(t, schema.Equal(tbl.Schema))
	require.Equal(t, "event_time", et)
	_, _, _, err = c.SourceOf(ctx, "shop.nope")
	require.ErrorIs(t, err, catalog.ErrNotFound)
	// a bare name is found when one database alone holds it
	format, _, _, err = c.SourceOf(ctx, "clicks")
	require.NoError(t, err)
	require.Equal(t, "csv", format)
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "lab"})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, table(t, "lab", "clicks", "a long"))
	require.NoError(t, err)
	_, _, _, err = c.SourceOf(ctx, "clicks")
	require.ErrorIs(t, err, catalog.ErrInvalid)
	require.ErrorContains(t, err, `table "clicks" is in databases lab, shop: write database.table`)
	_, _, _, err = c.SourceOf(ctx, "orders")
	require.ErrorIs(t, err, catalog.ErrNotFound)
}
