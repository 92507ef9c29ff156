package catalog_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
)

// TestCatalogWriteOverLimit: a definition the engine does not store (its
// bucket over a limit, as when the engine's storage is full) fails with
// ErrUnavailable, to be retried, not as a bad definition; once the limit
// is lifted the same write is stored.
func TestCatalogWriteOverLimit(t *testing.T) {
	e := enginetest.Start(t)
	ctx := context.Background()
	c := newCatalog(t, e)
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)

	bucket := "KV_" + e.Name("kv", "catalog")
	enginetest.LimitBytes(t, e, bucket, 1)
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "other"})
	require.ErrorIs(t, err, catalog.ErrUnavailable)

	enginetest.LimitBytes(t, e, bucket, -1)
	_, err = c.CreateDatabase(ctx, catalog.Database{Name: "other"})
	require.NoError(t, err)
	got, err := c.GetDatabase(ctx, "other")
	require.NoError(t, err)
	require.Equal(t, "other", got.Name)
}
