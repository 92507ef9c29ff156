package app

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/goccy/go-yaml"
)

// FuzzConfigLoad feeds YAML to the configuration loader: neither the strict
// decoder nor the one that reports every problem may panic, and the loader
// finds problems exactly when the strict decoder refuses the file.
// Seeded with the golden files; crashers stay in testdata/fuzz.
func FuzzConfigLoad(f *testing.F) {
	files, err := filepath.Glob("testdata/*.yaml")
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte("engine: &a {data_dir: x}\nhttp: *a\n"))
	f.Add([]byte("http: !!map {addr: ':1'}\n---\nlog: {}\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		cfg := DefaultConfig()
		strictErr := yaml.UnmarshalWithOptions(b, &cfg, yaml.Strict())
		all := DefaultConfig()
		errs := decodeAll(b, &all)
		if (strictErr == nil) != (len(errs) == 0) {
			t.Fatalf("%q: strict decoding says %v, decodeAll %v", b, strictErr, errs)
		}
		_ = decodeLenient(b, new(Config))
		_ = all.Validate()
	})
}
