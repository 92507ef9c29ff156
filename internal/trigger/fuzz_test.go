package trigger

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzSpec feeds the spec decoder arbitrary documents: it must return a
// spec that validates, or an error, and never panic.
func FuzzSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	json, _ := filepath.Glob("testdata/*.json")
	for _, p := range append(files, json...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("name: a\nsource: stream:s\nfunction: go:f\n---\nname: b\nsource: table:t\nfunction: wasm:x.wasm\n"))
	f.Add([]byte(`{"name":"a","source":"stream:s","function":"http://h/x","filters":[{"pattern":{"data":{"x":[{"numeric":[">",1]}]}}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		specs, err := ParseSpecs(data)
		if err != nil {
			return
		}
		for _, s := range specs {
			if err := s.Validate(); err != nil {
				t.Fatalf("a parsed spec does not validate again: %v", err)
			}
			if _, err := CompileFilters(s.Filters); err != nil {
				t.Fatalf("a parsed spec's filters do not compile: %v", err)
			}
		}
	})
}

// FuzzPattern feeds the pattern parser arbitrary JSON, and matches what
// parses against a fixed record: neither may panic.
func FuzzPattern(f *testing.F) {
	for _, s := range []string{
		`{"data": {"event_type": ["purchase"]}}`,
		`{"data": {"price": [{"numeric": [">", 100, "<=", 130]}], "brand": [{"prefix": "Ni"}]}}`,
		`{"data": {"x": [{"anything-but": {"prefix": "a"}}, {"exists": false}, null, true, 1.5]}}`,
		`{"eventName": ["MODIFY"], "dynamodb": {"NewImage": {"n": {"N": [{"numeric": ["=", 3]}]}}}}`,
		`{"a": [{"wildcard": "x*y*z"}, {"equals-ignore-case": "Q"}, {"suffix": "s"}]}`,
	} {
		f.Add([]byte(s))
	}
	doc, err := decodeJSON([]byte(`{"data": {"event_type": "purchase", "price": 129.99, "brand": "Nike", "tags": ["a", "b"], "user": {"id": 1}, "x": null},
		"eventName": "MODIFY", "dynamodb": {"NewImage": {"n": {"N": "3"}}}}`))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParsePattern(data)
		if err != nil {
			return
		}
		p.Match(doc.(map[string]any))
		p.Match(map[string]any{})
	})
}
