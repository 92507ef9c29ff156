package payload

import (
	"encoding/json"
	"math"
	"testing"
)

// FuzzParseFlat checks the fast array parser against encoding/json: what
// it accepts, encoding/json reads as the same numbers and nulls.
func FuzzParseFlat(f *testing.F) {
	for _, s := range []string{`[1.5,null,-2e3]`, `[]`, `[ 1 , 2 ]`, `[1,]`, `[01]`, `[1e999]`, `["1"]`, `[[1]]`, `[-]`, `[1.]`, `[.5]`, `[1e]`, `[+1]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := parseFlat(data, nil)
		if !ok {
			return
		}
		var want []*float64
		if err := json.Unmarshal(data, &want); err != nil {
			for _, v := range got {
				if math.IsInf(v, 0) {
					return // beyond float64: encoding/json refuses, we keep ±Inf
				}
			}
			t.Fatalf("parseFlat accepted %q, encoding/json: %v", data, err)
		}
		if len(want) != len(got) {
			t.Fatalf("%q: %d values, encoding/json %d", data, len(got), len(want))
		}
		for i, w := range want {
			if (w == nil) != math.IsNaN(got[i]) || (w != nil && *w != got[i]) {
				t.Fatalf("%q: value %d is %v", data, i, got[i])
			}
		}
	})
}
