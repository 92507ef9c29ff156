package apply

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestApplyParse(t *testing.T) {
	docs, err := Parse([]byte("kind: stream\nname: a\npartitions: 2\n---\n# only a comment\n---\nkind: trigger\nname: t\nsource: stream:a\nfunction: go:f\nbatching_window: 0s\n"), "x.yaml")
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, "stream", docs[0].Kind)
	require.JSONEq(t, `{"name":"a","partitions":2}`, string(docs[0].Body))
	require.Equal(t, "x.yaml#3", docs[1].Where)
	require.JSONEq(t, `{"name":"t","source":"stream:a","function":"go:f","batching_window":"0s"}`, string(docs[1].Body))

	for src, want := range map[string]string{
		"name: a\n":                 `kind "": want one of stream, table, catalog_database, catalog_table, model, endpoint, job, trigger`,
		"kind: widget\nname: a\n":   `kind "widget"`,
		"kind: stream\n":            "a stream needs a name",
		"kind: stream\nname: [\n":   "x.yaml#1",
		"kind: table\nname: a\n\tb": "x.yaml#1",
	} {
		_, err := Parse([]byte(src), "x.yaml")
		require.ErrorContains(t, err, want, src)
	}
}

func TestApplyReadDir(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "b.yaml"), []byte("kind: table\nname: t1\npartition_key: {name: id, type: S}\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "a.json"), []byte(`{"kind":"stream","name":"s1"}`), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("ignored"), 0o644))
	docs, err := Read(dir)
	require.NoError(t, err)
	require.Len(t, docs, 2)
	require.Equal(t, "s1", docs[0].Name, "files in name order")
	require.Equal(t, dir, docs[0].Dir)
	_, err = Read(filepath.Join(dir, "missing"))
	require.Error(t, err)
}
