package etl

import (
	"context"
	"os"
	"testing"
)

// FuzzETLDecode feeds job documents to the decoder and the compiler: bad
// input is an error, never a panic.
func FuzzETLDecode(f *testing.F) {
	for _, p := range []string{"../../examples/fastsneakers/click-features.yaml", "../../examples/fastsneakers/sales.yaml"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(countJob))
	f.Add([]byte(`{"name":"j","source":{"stream":"s"},"sink":{"table":"t"},"dead_letter":"d"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			return
		}
		_, _ = Compile(context.Background(), s, nil)
		_ = s.JSON()
	})
}
