package crawl_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

func newCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	c, err := catalog.New(catalog.Config{}, catalog.Deps{Engine: enginetest.Start(t), Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// result is a crawl result of JSON records with the given columns.
func result(t *testing.T, columns string) *crawl.Result {
	t.Helper()
	typ, err := record.ParseType("struct<" + columns + ">")
	require.NoError(t, err)
	return &crawl.Result{Classification: crawl.Classification{Format: "json_lines", Certainty: 1},
		Format: catalog.Format{Type: catalog.FormatJSON}, Location: catalog.Location{Stream: "events"},
		Schema: record.MustSchema(typ.Fields...), Records: 10}
}

func TestCrawlApplyREES46(t *testing.T) {
	ctx := context.Background()
	cat := newCatalog(t)
	res, err := crawl.Files(ctx, []string{rees46Path(t)}, crawl.Options{})
	require.NoError(t, err)
	out, err := crawl.Apply(ctx, cat, "shop", "rees46", res, crawl.Policy{})
	require.NoError(t, err)
	require.Equal(t, "created", out.Action)
	require.Equal(t, 1, out.Table.Version)
	db, err := cat.GetDatabase(ctx, "shop")
	require.NoError(t, err, "the crawl creates the database")
	require.Equal(t, "shop", db.Name)

	got, err := cat.GetTable(ctx, "shop", "rees46")
	require.NoError(t, err)
	requireREES46(t, got.Schema)
	require.Equal(t, catalog.FormatCSV, got.Format.Type)
	require.Equal(t, res.Location, got.Location)
	require.Equal(t, "csv", got.Parameters["classification"])

	// the same data again changes nothing
	out, err = crawl.Apply(ctx, cat, "shop", "rees46", res, crawl.Policy{})
	require.NoError(t, err)
	require.Equal(t, "unchanged", out.Action)
	require.Equal(t, 1, out.Table.Version)
}

func TestCrawlApplyPolicies(t *testing.T) {
	ctx := context.Background()
	cat := newCatalog(t)
	_, err := crawl.Apply(ctx, cat, "shop", "events", result(t, "id long not null, gone string not null, ts timestamp not null, code string"), crawl.Policy{})
	require.NoError(t, err)
	// the next crawl: gone vanished, brand is new, code now seen as numbers,
	// ts in a text format the flexible timestamp already reads
	next := result(t, "id long not null, ts timestamp('yyyy-MM-dd HH:mm:ss z') not null, code long not null, brand string not null")

	// LOG: nothing written, the changes reported
	out, err := crawl.Apply(ctx, cat, "shop", "events", next, crawl.Policy{Update: crawl.UpdateLog})
	require.NoError(t, err)
	require.Equal(t, "logged", out.Action)
	require.Equal(t, []string{"gone"}, out.Vanished)
	require.Equal(t, []catalog.ColumnChange{
		{Column: "code", Kind: catalog.ColumnTypeChanged, Old: "string", New: "choice<long,string>"},
		{Column: "brand", Kind: catalog.ColumnAdded, New: "string"},
	}, out.Diff.Columns)
	cur, err := cat.GetTable(ctx, "shop", "events")
	require.NoError(t, err)
	require.Equal(t, 1, cur.Version)

	// DEPRECATE_IN_DATABASE: the vanished column stays, nullable, deprecated
	out, err = crawl.Apply(ctx, cat, "shop", "events", next, crawl.Policy{Delete: crawl.DeprecateInDatabase})
	require.NoError(t, err)
	require.Equal(t, "updated", out.Action)
	require.Equal(t, 2, out.Table.Version)
	require.Equal(t, `id long not null
gone string
ts timestamp not null
code choice<long,string>
brand string
`, out.Table.Schema.Describe(), "manual types that hold what was seen stay; new columns are nullable")
	require.Equal(t, []string{"gone"}, out.Table.Deprecated)
	require.Contains(t, out.Diff.Columns, catalog.ColumnChange{Column: "gone", Kind: catalog.ColumnDeprecated})

	// seen again: no longer deprecated
	back := result(t, "id long not null, gone string not null")
	out, err = crawl.Apply(ctx, cat, "shop", "events", back, crawl.Policy{Delete: crawl.DeprecateInDatabase})
	require.NoError(t, err)
	require.NotContains(t, out.Table.Deprecated, "gone")
	require.ElementsMatch(t, []string{"ts", "code", "brand"}, out.Table.Deprecated)

	// DELETE_FROM_DATABASE: vanished columns go (a deletion is BACKWARD)
	out, err = crawl.Apply(ctx, cat, "shop", "events", back, crawl.Policy{Delete: crawl.DeleteFromDatabase})
	require.NoError(t, err)
	require.Equal(t, []string{"id", "gone"}, out.Table.Schema.Names())
	require.Empty(t, out.Table.Deprecated)

	// a change the table's mode refuses is not written, and names the column
	full := out.Table.Clone()
	full.Compatibility = catalog.CompatFull
	_, err = cat.UpdateTable(ctx, full, catalog.UpdateOptions{})
	require.NoError(t, err)
	before, err := cat.GetTable(ctx, "shop", "events")
	require.NoError(t, err)
	_, err = crawl.Apply(ctx, cat, "shop", "events", result(t, "id double not null, gone string"), crawl.Policy{})
	require.ErrorIs(t, err, catalog.ErrIncompatible)
	require.ErrorContains(t, err, `column "id"`)
	after, err := cat.GetTable(ctx, "shop", "events")
	require.NoError(t, err)
	require.Equal(t, before.Version, after.Version)

	require.ErrorIs(t, func() error {
		_, err := crawl.Apply(ctx, cat, "shop", "events", back, crawl.Policy{Update: "SOMETIMES"})
		return err
	}(), catalog.ErrInvalid)
}

func TestCrawlPlanKeepsTableSettings(t *testing.T) {
	cur := &catalog.Table{Database: "shop", Name: "events", Location: catalog.Location{Stream: "events"},
		Format: catalog.Format{Type: catalog.FormatJSON}, Compatibility: catalog.CompatForward,
		Schema:        record.MustSchema(record.Column{Name: "id", Type: record.TypeLong}, record.Column{Name: "ts", Type: record.TypeTime}),
		PartitionKeys: []string{"id"}, EventTime: &catalog.EventTime{Field: "ts"}, Description: "events",
		Parameters: map[string]string{"owner": "de"}, Version: 3}
	next, err := crawl.Plan(cur, "shop", "events", result(t, "id long"), crawl.Policy{Delete: crawl.DeleteFromDatabase})
	require.NoError(t, err)
	require.Equal(t, []string{"id"}, next.PartitionKeys)
	require.Nil(t, next.EventTime, "the event time column is gone")
	require.Equal(t, catalog.CompatForward, next.Compatibility)
	require.Equal(t, "events", next.Description)
	require.Equal(t, "de", next.Parameters["owner"])
	require.NotNil(t, cur.EventTime, "Plan leaves cur alone")
}
