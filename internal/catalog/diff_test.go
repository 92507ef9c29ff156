package catalog_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
)

func TestDiffColumns(t *testing.T) {
	for _, c := range []struct {
		name     string
		from, to string
		want     []catalog.ColumnChange
	}{
		{name: "same", from: "a long, b string", to: "a long, b string", want: []catalog.ColumnChange{}},
		{name: "added and removed", from: "a long, b string", to: "a long, c double not null",
			want: []catalog.ColumnChange{
				{Column: "b", Kind: catalog.ColumnRemoved, Old: "string"},
				{Column: "c", Kind: catalog.ColumnAdded, New: "double not null"},
			}},
		{name: "type and nullability", from: "a long not null, b string", to: "a double, b string comment 'brand'",
			want: []catalog.ColumnChange{
				{Column: "a", Kind: catalog.ColumnTypeChanged, Old: "long", New: "double"},
				{Column: "a", Kind: catalog.ColumnNullability, Old: "not null", New: "nullable"},
				{Column: "b", Kind: catalog.ColumnComment, Old: "", New: "brand"},
			}},
		{name: "nested", from: "billing struct<city:string,zip:string>, items array<struct<sku:string>>",
			to: "billing struct<city:string not null,country:string>, items array<struct<sku:long>>",
			want: []catalog.ColumnChange{
				{Column: "billing.zip", Kind: catalog.ColumnRemoved, Old: "string"},
				{Column: "billing.city", Kind: catalog.ColumnNullability, Old: "nullable", New: "not null"},
				{Column: "billing.country", Kind: catalog.ColumnAdded, New: "string"},
				{Column: "items[].sku", Kind: catalog.ColumnTypeChanged, Old: "string", New: "long"},
			}},
		{name: "moved", from: "a long, b long, c long", to: "a long, c long, b long",
			want: []catalog.ColumnChange{
				{Column: "c", Kind: catalog.ColumnMoved, Old: "after b", New: "after a"},
				{Column: "b", Kind: catalog.ColumnMoved, Old: "after a", New: "after c"},
			}},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := catalog.DiffTables(table(t, "shop", "t", c.from), table(t, "shop", "t", c.to))
			require.Equal(t, c.want, d.Columns)
			require.Empty(t, d.Fields)
		})
	}
}

func TestDiffFields(t *testing.T) {
	a := table(t, "shop", "t", "a long, gone string")
	a.Version = 1
	b := a.Clone()
	b.Version = 2
	b.Description = "events"
	b.Location = catalog.Location{Path: "/data"}
	b.Format = catalog.Format{Type: catalog.FormatCSV, Delimiter: "|"}
	b.PartitionKeys = []string{"a"}
	b.EventTime = &catalog.EventTime{Field: "a", Format: "unix_millis"}
	b.Compatibility = catalog.CompatFull
	b.Parameters = map[string]string{"owner": "de"}
	b.Deprecated = []string{"gone"}
	d := catalog.DiffTables(a, b)
	require.Equal(t, []catalog.ColumnChange{{Column: "gone", Kind: catalog.ColumnDeprecated}}, d.Columns)
	require.Equal(t, []catalog.FieldChange{
		{Field: "description", Old: "", New: "events"},
		{Field: "location", Old: "stream:t", New: "path:/data"},
		{Field: "format.type", Old: "json", New: "csv"},
		{Field: "format.delimiter", Old: "", New: "|"},
		{Field: "partition_keys", Old: "", New: "a"},
		{Field: "event_time", Old: "", New: "a (unix_millis)"},
		{Field: "compatibility", Old: "BACKWARD", New: "FULL"},
		{Field: "parameters.owner", Old: "", New: "de"},
	}, d.Fields)
	require.Equal(t, `shop.t: version 1 -> 2
  ~ gone: deprecated
  ~ description: (none) -> events
  ~ location: stream:t -> path:/data
  ~ format.type: json -> csv
  ~ format.delimiter: (none) -> |
  ~ partition_keys: (none) -> a
  ~ event_time: (none) -> a (unix_millis)
  ~ compatibility: BACKWARD -> FULL
  ~ parameters.owner: (none) -> de
`, d.String())
	back := catalog.DiffTables(b, a)
	require.Equal(t, []catalog.ColumnChange{{Column: "gone", Kind: catalog.ColumnRestored}}, back.Columns)
}
