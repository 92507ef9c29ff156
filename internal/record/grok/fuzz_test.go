package grok_test

import (
	"testing"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/grok"
)

// FuzzGrokDecode feeds log lines to the access-log pattern and patterns to
// the compiler: neither panics, and a decoded line yields only the
// pattern's fields.
func FuzzGrokDecode(f *testing.F) {
	f.Add(accessLine, "%{COMMONAPACHELOG}")
	f.Add("2019-10-01 00:00:01 WARN x", "%{TIMESTAMP_ISO8601:t} %{LOGLEVEL:l} %{GREEDYDATA:m}")
	f.Add("", "%{WORD:a")
	f.Add("a b", "%{WORD:a} (?P<x>")
	access, err := grok.New(grok.Options{Pattern: "%{COMMONAPACHELOG}"})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, line, pattern string) {
		var r record.Record
		if err := access.Decode([]byte(line), &r); err == nil {
			for name := range r.All() {
				found := false
				for _, f := range access.Fields() {
					found = found || f == name
				}
				if !found {
					t.Fatalf("field %q is not the pattern's", name)
				}
			}
		}
		if len(pattern) > 200 {
			return
		}
		if c, err := grok.New(grok.Options{Pattern: pattern}); err == nil {
			_ = c.Decode([]byte(line), &r)
		}
	})
}
