package catalog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

// TestCatalogStreamChecks: the watcher started by Start keeps the checks
// of bound streams current, and each write returns once they use it.
func TestCatalogStreamChecks(t *testing.T) {
	enginetest.Each(t, func(t *testing.T, e *engine.Engine) {
		ctx := context.Background()
		c := newCatalog(t, e)
		_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
		require.NoError(t, err)
		_, err = c.CreateTable(ctx, table(t, "shop", "clicks", "event_id string not null"))
		require.NoError(t, err)
		// a binding made before Start is loaded by it
		_, err = c.Bind(ctx, catalog.Binding{Stream: "shop.clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyReject})
		require.NoError(t, err)
		require.Nil(t, c.StreamCheck("shop.clicks"), "no checks before Start")
		require.NoError(t, c.Start(ctx))
		require.Error(t, c.Start(ctx), "Start runs once")
		sc := c.StreamCheck("shop.clicks")
		require.NotNil(t, sc)
		require.Nil(t, c.StreamCheck("other"))

		var r record.Record
		require.NoError(t, sc.Check([]byte(`{"event_id":"e1"}`), &r))
		err = sc.Check([]byte(`{"event_id":"e1","brand":"aqua"}`), &r)
		var ve *record.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, []record.Violation{{Path: "brand", Reason: "not in the schema"}}, ve.Violations)
		var de *record.DecodeError
		require.ErrorAs(t, sc.Check([]byte(`{"event_id":`), &r), &de)

		// a new table version is in the check when the update returns
		_, err = c.UpdateTable(ctx, table(t, "shop", "clicks", "event_id string not null, brand string"), catalog.UpdateOptions{})
		require.NoError(t, err)
		sc = c.StreamCheck("shop.clicks")
		require.Equal(t, 2, sc.Table.Version)
		require.NoError(t, sc.Check([]byte(`{"event_id":"e1","brand":"aqua"}`), &r))

		// allow_extra_fields, then unbind
		_, err = c.Bind(ctx, catalog.Binding{Stream: "shop.clicks", Database: "shop", Table: "clicks", Policy: catalog.PolicyDeadLetter, DeadLetter: "dlq", AllowExtraFields: true})
		require.NoError(t, err)
		require.NoError(t, c.StreamCheck("shop.clicks").Check([]byte(`{"event_id":"e1","color":"red"}`), &r))
		b, err := c.GetBinding(ctx, "shop.clicks")
		require.NoError(t, err)
		require.Equal(t, "dlq", b.DeadLetter)
		require.NoError(t, c.Unbind(ctx, "shop.clicks"))
		require.Nil(t, c.StreamCheck("shop.clicks"))
		_, err = c.GetBinding(ctx, "shop.clicks")
		require.ErrorIs(t, err, catalog.ErrNotFound)

		// a parquet table cannot check records
		pq := table(t, "shop", "files", "a long")
		pq.Location = catalog.Location{Path: "/data"}
		pq.Format = catalog.Format{Type: catalog.FormatParquet}
		_, err = c.CreateTable(ctx, pq)
		require.NoError(t, err)
		_, err = c.Bind(ctx, catalog.Binding{Stream: "files", Database: "shop", Table: "files", Policy: catalog.PolicyReject})
		require.ErrorIs(t, err, catalog.ErrInvalid)
		require.NoError(t, c.Close())
		require.NoError(t, c.Close(), "Close is idempotent")
	})
}
