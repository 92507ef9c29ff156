package catalog_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/catalog"
)

// FuzzDecodeDocuments feeds the definition decoder arbitrary documents,
// seeded with the golden files: it never panics, refuses with ErrInvalid,
// and what it accepts is valid and survives its JSON form.
func FuzzDecodeDocuments(f *testing.F) {
	files, err := filepath.Glob("testdata/definitions/*")
	require.NoError(f, err)
	for _, p := range files {
		b, err := os.ReadFile(p)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte(`{"kind":"catalog_table","database":"d","name":"t","location":{"stream":"s"},"columns":[{"name":"a","type":"struct<b:array<map<string,choice<long,string>>>>"}]}`))
	f.Add([]byte("kind: catalog_table\ncolumns: &a [*a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		docs, err := catalog.DecodeDocuments(data, "fuzz.yaml")
		if err != nil {
			require.ErrorIs(t, err, catalog.ErrInvalid)
			return
		}
		for _, d := range docs {
			if d.Table == nil {
				require.NoError(t, d.Database.Validate())
				continue
			}
			require.NoError(t, d.Table.Validate())
			b, err := json.Marshal(d.Table)
			require.NoError(t, err)
			back, err := catalog.ParseTable(b)
			require.NoError(t, err, "%s", b)
			require.True(t, back.Schema.Equal(d.Table.Schema), "%s", b)
		}
	})
}
