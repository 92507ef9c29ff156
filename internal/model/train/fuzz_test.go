package train_test

import (
	"bytes"
	"math"
	"os"
	"testing"

	"github.com/pricestream/pricestream/internal/model/train"
)

// FuzzTableRead: no input makes the reader panic, a file that fails leaves
// the table as it was, and a table that reads gives Data of consistent
// shape for every column as the label. Inputs found by earlier fuzzing
// are in testdata/fuzz.
func FuzzTableRead(f *testing.F) {
	for _, name := range []string{"features.csv", "features.jsonl"} {
		data, err := os.ReadFile("testdata/" + name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(name, data)
	}
	f.Add("x", []byte("a,b\n1,\"2\"\"\"\n"))
	f.Add("x.json", []byte(`{"a":{"b":[1,2]},"c":"3","d":null}`+"\n"))
	f.Fuzz(func(t *testing.T, name string, data []byte) {
		var tb train.Table
		if err := tb.Read("seed.csv", bytes.NewReader([]byte("s,a\n1,2\n"))); err != nil {
			t.Fatal(err)
		}
		if err := tb.Read(name, bytes.NewReader(data)); err != nil {
			if tb.Rows() != 1 || len(tb.Columns()) != 2 {
				t.Fatalf("a failed read changed the table: %d rows, columns %v", tb.Rows(), tb.Columns())
			}
			return
		}
		for _, label := range tb.Columns() {
			d, skipped, err := tb.Data(label, nil)
			if err != nil {
				continue
			}
			if len(d.Rows)+skipped != tb.Rows() || len(d.Labels) != len(d.Rows) {
				t.Fatalf("label %q: %d rows + %d skipped of %d", label, len(d.Rows), skipped, tb.Rows())
			}
			for i, row := range d.Rows {
				if len(row) != len(d.Features) {
					t.Fatalf("row %d: %d values for %d features", i, len(row), len(d.Features))
				}
				for _, v := range row {
					if math.IsInf(v, 0) {
						t.Fatalf("row %d: infinite value", i)
					}
				}
				if y := d.Labels[i]; math.IsNaN(y) || math.IsInf(y, 0) {
					t.Fatalf("row %d: label %v", i, y)
				}
			}
		}
	})
}
