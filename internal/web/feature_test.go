package web

import (
	"math"
	"testing"

	gojson "github.com/goccy/go-json"
	"github.com/stretchr/testify/require"
)

func TestWebFeatureNumber(t *testing.T) {
	for _, c := range []struct {
		raw  string
		name string
		want float64
		ok   bool
	}{
		{`{"views":12,"view_rate":0.25}`, "view_rate", 0.25, true},
		{`{"views":12,"view_rate":0.25}`, "views", 12, true},
		{`{"views":12,"view_rate":0.25}`, "view", 0, false},
		{` { "a" : 1 , "views" : -3.5e2 } `, "views", -350, true},
		{`{"views":1,"views":2}`, "views", 2, true}, // the last counts, as in a map
		{`{"views":null}`, "views", 0, true},
		{`{"vi\u0065ws":7}`, "views", 7, true},
		{`{"a\"b":7,"views":8}`, "views", 8, true},
		{`{}`, "views", 0, false},
		{``, "views", 0, false},
		{`null`, "views", 0, false},
		{`[1]`, "views", 0, false},
		{`{"views":"12"}`, "views", 0, false},
		{`{"views":12`, "views", 0, false},
		{`{"views":}`, "views", 0, false},
		{`{"views"12}`, "views", 0, false},
		{`{"views":1e999}`, "views", 0, false},
	} {
		got, ok := featureNumber([]byte(c.raw), c.name)
		require.Equal(t, c.ok, ok, "%s[%q]", c.raw, c.name)
		require.Equal(t, c.want, got, "%s[%q]", c.raw, c.name)
	}
}

// The scanner reads what decoding the object into a map reads, for every
// name in it and for one not in it; on other input it only must not fail.
func FuzzFeatureNumber(f *testing.F) {
	f.Add([]byte(`{"views":12,"clicks":3,"view_rate":0.25,"trend":1.5e-3}`), "view_rate")
	f.Add([]byte(`{"views":1,"views":2}`), "views")
	f.Add([]byte(`{"a\"b":7, "views" : null}`), "a\"b")
	f.Add([]byte(`{"\u00e9t\u00e9":-0.0}`), "été")
	f.Fuzz(func(t *testing.T, raw []byte, name string) {
		got, ok := featureNumber(raw, name)
		var m map[string]float64
		if gojson.Unmarshal(raw, &m) != nil || m == nil {
			return
		}
		want, has := m[name]
		if ok != has || (ok && got != want && !(math.IsNaN(got) && math.IsNaN(want))) {
			t.Fatalf("%q[%q] = %v, %v; the map has %v, %v", raw, name, got, ok, want, has)
		}
		for k, v := range m {
			if got, ok := featureNumber(raw, k); !ok || got != v {
				t.Fatalf("%q[%q] = %v, %v; the map has %v", raw, k, got, ok, v)
			}
		}
	})
}
