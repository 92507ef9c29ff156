package catalog_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

func newCatalog(t *testing.T, e *engine.Engine) *catalog.Catalog {
	t.Helper()
	c, err := catalog.New(catalog.Config{}, catalog.Deps{Engine: e, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// table returns a table definition of columns written as
// "name type [not null], …".
func table(t testing.TB, db, name, columns string) *catalog.Table {
	t.Helper()
	typ, err := record.ParseType("struct<" + columns + ">")
	require.NoError(t, err)
	s, err := record.NewSchema(typ.Fields...)
	require.NoError(t, err)
	return &catalog.Table{Database: db, Name: name, Location: catalog.Location{Stream: name},
		Format: catalog.Format{Type: catalog.FormatJSON}, Schema: s, Compatibility: catalog.CompatBackward}
}

func TestCatalogDatabases(t *testing.T) {
	enginetest.Each(t, func(t *testing.T, e *engine.Engine) {
		ctx := context.Background()
		c := newCatalog(t, e)
		d, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop", Description: "the shop", Parameters: map[string]string{"owner": "de"}})
		require.NoError(t, err)
		require.False(t, d.Created.IsZero())
		_, err = c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
		require.ErrorIs(t, err, catalog.ErrExists)
		_, err = c.CreateDatabase(ctx, catalog.Database{Name: "bad name"})
		require.ErrorIs(t, err, catalog.ErrInvalid)
		_, err = c.CreateDatabase(ctx, catalog.Database{Name: "analytics"})
		require.NoError(t, err)

		got, err := c.GetDatabase(ctx, "shop")
		require.NoError(t, err)
		require.Equal(t, "the shop", got.Description)
		list, err := c.ListDatabases(ctx)
		require.NoError(t, err)
		require.Len(t, list, 2)
		require.Equal(t, "analytics", list[0].Name)

		up, err := c.UpdateDatabase(ctx, catalog.Database{Name: "shop", Description: "Fast Sneakers"})
		require.NoError(t, err)
		require.Equal(t, got.Created, up.Created)

		_, err = c.CreateTable(ctx, table(t, "shop", "clicks", "a long"))
		require.NoError(t, err)
		err = c.DeleteDatabase(ctx, "shop", false)
		require.ErrorIs(t, err, catalog.ErrConflict)
		require.ErrorContains(t, err, "holds 1 tables")
		require.NoError(t, c.DeleteDatabase(ctx, "shop", true))
		_, err = c.GetDatabase(ctx, "shop")
		require.ErrorIs(t, err, catalog.ErrNotFound)
		_, err = c.GetTable(ctx, "shop", "clicks")
		require.ErrorIs(t, err, catalog.ErrNotFound)
		require.ErrorIs(t, c.DeleteDatabase(ctx, "shop", false), catalog.ErrNotFound)
	})
}

func TestCatalogTableVersions(t *testing.T) {
	enginetest.Each(t, func(t *testing.T, e *engine.Engine) {
		ctx := context.Background()
		c := newCatalog(t, e)
		_, err := c.CreateTable(ctx, table(t, "shop", "clicks", "a long"))
		require.ErrorIs(t, err, catalog.ErrNotFound, "the database must exist")
		_, err = c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
		require.NoError(t, err)

		v1, err := c.CreateTable(ctx, table(t, "shop", "clicks", "event_id string not null, price double not null"))
		require.NoError(t, err)
		require.Equal(t, 1, v1.Version)
		_, err = c.CreateTable(ctx, table(t, "shop", "clicks", "a long"))
		require.ErrorIs(t, err, catalog.ErrExists)

		// a new nullable column: version 2
		next := table(t, "shop", "clicks", "event_id string not null, price double not null, brand string")
		next.Description = "clicks"
		v2, err := c.UpdateTable(ctx, next, catalog.UpdateOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, v2.Version)
		require.Equal(t, v1.Created, v2.Created)

		// the same definition again: no new version
		same, err := c.UpdateTable(ctx, next, catalog.UpdateOptions{})
		require.NoError(t, err)
		require.Equal(t, 2, same.Version)

		// an expected version that is no longer the latest
		_, err = c.UpdateTable(ctx, table(t, "shop", "clicks", "event_id string not null"), catalog.UpdateOptions{IfVersion: 1})
		require.ErrorIs(t, err, catalog.ErrConflict)

		// a parameter only: version 3
		p := next.Clone()
		p.Parameters = map[string]string{"owner": "de"}
		v3, err := c.UpdateTable(ctx, p, catalog.UpdateOptions{IfVersion: 2})
		require.NoError(t, err)
		require.Equal(t, 3, v3.Version)

		versions, err := c.TableVersions(ctx, "shop", "clicks")
		require.NoError(t, err)
		require.Len(t, versions, 3)
		for i, v := range versions {
			require.Equal(t, i+1, v.Version)
		}
		require.Equal(t, 2, versions[0].Schema.Len())
		require.Equal(t, 3, versions[2].Schema.Len())

		got, err := c.GetTableVersion(ctx, "shop", "clicks", 1)
		require.NoError(t, err)
		require.True(t, got.Schema.Equal(v1.Schema))
		_, err = c.GetTableVersion(ctx, "shop", "clicks", 4)
		require.ErrorIs(t, err, catalog.ErrNotFound)

		d, err := c.Diff(ctx, "shop", "clicks", 1, 3)
		require.NoError(t, err)
		require.Equal(t, []catalog.ColumnChange{{Column: "brand", Kind: catalog.ColumnAdded, New: "string"}}, d.Columns)
		require.Equal(t, []catalog.FieldChange{
			{Field: "description", Old: "", New: "clicks"},
			{Field: "parameters.owner", Old: "", New: "de"},
		}, d.Fields)
		d, err = c.Diff(ctx, "shop", "clicks", 0, 0)
		require.NoError(t, err)
		require.Equal(t, 2, d.From)
		require.Equal(t, 3, d.To)
		require.Contains(t, d.String(), "~ parameters.owner: (none) -> de")

		tables, err := c.ListTables(ctx, "shop")
		require.NoError(t, err)
		require.Len(t, tables, 1)
		require.Equal(t, 3, tables[0].Version)

		// delete, then a new table of that name starts its history afresh
		require.NoError(t, c.DeleteTable(ctx, "shop", "clicks"))
		_, err = c.GetTable(ctx, "shop", "clicks")
		require.ErrorIs(t, err, catalog.ErrNotFound)
		fresh, err := c.CreateTable(ctx, table(t, "shop", "clicks", "x long"))
		require.NoError(t, err)
		require.Equal(t, 1, fresh.Version)
		versions, err = c.TableVersions(ctx, "shop", "clicks")
		require.NoError(t, err)
		require.Len(t, versions, 1)
	})
}

// TestCatalogIncompatibleRefused: a new version that breaks the mode is
// refused with the column named, and nothing is stored.
func TestCatalogIncompatibleRefused(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, enginetest.Start(t))
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, table(t, "shop", "clicks", "event_id string not null, price double not null"))
	require.NoError(t, err)

	_, err = c.UpdateTable(ctx, table(t, "shop", "clicks", "event_id string not null, price double not null, qty int not null"), catalog.UpdateOptions{})
	require.ErrorIs(t, err, catalog.ErrIncompatible)
	require.ErrorContains(t, err, `BACKWARD with version 1: column "qty"`)
	_, err = c.UpdateTable(ctx, table(t, "shop", "clicks", "event_id string not null, price long not null"), catalog.UpdateOptions{})
	require.ErrorContains(t, err, `column "price": the new schema reads it as long, which cannot hold double`)
	latest, err := c.GetTable(ctx, "shop", "clicks")
	require.NoError(t, err)
	require.Equal(t, 1, latest.Version)

	// the same change under NONE goes through
	none := table(t, "shop", "clicks", "event_id string not null, price long not null")
	none.Compatibility = catalog.CompatNone
	v2, err := c.UpdateTable(ctx, none, catalog.UpdateOptions{})
	require.NoError(t, err)
	require.Equal(t, 2, v2.Version)

	// BACKWARD_ALL checks every earlier version: price was a double in
	// version 1, and a long cannot read it
	all := table(t, "shop", "clicks", "event_id string not null, price long not null, brand string")
	all.Compatibility = catalog.CompatBackwardAll
	_, err = c.UpdateTable(ctx, all, catalog.UpdateOptions{})
	require.ErrorContains(t, err, `BACKWARD_ALL with version 1: column "price"`)
	var ie *catalog.IncompatibleError
	require.ErrorAs(t, err, &ie)
	require.Equal(t, "price", ie.Column)
	require.Equal(t, 1, ie.Version)
	// BACKWARD (the latest only) lets it through
	all.Compatibility = catalog.CompatBackward
	_, err = c.UpdateTable(ctx, all, catalog.UpdateOptions{})
	require.NoError(t, err)
}

// TestCatalogConcurrentWriters: writers racing on one table each get a
// version of their own; none is lost.
func TestCatalogConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, enginetest.Start(t))
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, table(t, "shop", "t", "a long"))
	require.NoError(t, err)
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			_, _, err := c.ModifyTable(ctx, "shop", "t", func(cur *catalog.Table) (*catalog.Table, error) {
				n := cur.Clone()
				if n.Parameters == nil {
					n.Parameters = map[string]string{}
				}
				n.Parameters[fmt.Sprintf("w%d", i)] = "x"
				return n, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	latest, err := c.GetTable(ctx, "shop", "t")
	require.NoError(t, err)
	require.Equal(t, writers+1, latest.Version)
	require.Len(t, latest.Parameters, writers, "every writer's change is in the latest version")
	versions, err := c.TableVersions(ctx, "shop", "t")
	require.NoError(t, err)
	require.Len(t, versions, writers+1)
}

// TestCatalogRestart: the catalog is in the engine; a restart finds it.
func TestCatalogRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	e := enginetest.Start(t, enginetest.WithDir(dir))
	c := newCatalog(t, e)
	_, err := c.CreateDatabase(ctx, catalog.Database{Name: "shop"})
	require.NoError(t, err)
	_, err = c.CreateTable(ctx, table(t, "shop", "t", "a long"))
	require.NoError(t, err)
	_, err = c.UpdateTable(ctx, table(t, "shop", "t", "a long, b string"), catalog.UpdateOptions{})
	require.NoError(t, err)
	c.Close()
	require.NoError(t, e.Close())

	e2 := enginetest.Start(t, enginetest.WithDir(dir))
	c2 := newCatalog(t, e2)
	versions, err := c2.TableVersions(ctx, "shop", "t")
	require.NoError(t, err)
	require.Len(t, versions, 2)
}

func TestCatalogApplyDocuments(t *testing.T) {
	ctx := context.Background()
	c := newCatalog(t, enginetest.Start(t))
	b := []byte(`kind: catalog_database
name: shop
---
kind: catalog_table
database: shop
name: clicks
location: {stream: clicks}
columns: [{name: a, type: long}]
`)
	docs, err := catalog.DecodeDocuments(b, "x.yaml")
	require.NoError(t, err)
	var actions []string
	for _, d := range docs {
		res, err := c.ApplyDocument(ctx, d)
		require.NoError(t, err)
		actions = append(actions, res.Kind+" "+res.Name+" "+res.Action)
	}
	require.Equal(t, []string{"catalog_database shop created", "catalog_table shop.clicks created"}, actions)
	actions = nil
	for _, d := range docs {
		res, err := c.ApplyDocument(ctx, d)
		require.NoError(t, err)
		actions = append(actions, res.Action)
	}
	require.Equal(t, []string{"unchanged", "unchanged"}, actions)
	docs, err = catalog.DecodeDocuments([]byte(`{"kind":"catalog_table","database":"shop","name":"clicks","location":{"stream":"clicks"},"columns":[{"name":"a","type":"long"},{"name":"b","type":"string"}]}`), "x.json")
	require.NoError(t, err)
	res, err := c.ApplyDocument(ctx, docs[0])
	require.NoError(t, err)
	require.Equal(t, &catalog.ApplyResult{Kind: "catalog_table", Name: "shop.clicks", Action: "updated", Version: 2}, res)
}
