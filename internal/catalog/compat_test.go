package catalog_test

import (
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
)

// TestCompatibility runs the scripts in testdata/compat. Each "check
// mode=M" takes lines "previous: COLUMNS" (oldest first) and one
// "new: COLUMNS", with columns written as "name type [not null], …", and
// prints ok or the refusal.
func TestCompatibility(t *testing.T) {
	datadriven.Walk(t, "testdata/compat", func(t *testing.T, path string) {
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			if d.Cmd != "check" {
				d.Fatalf(t, "unknown command %q", d.Cmd)
			}
			var mode string
			d.ScanArgs(t, "mode", &mode)
			var previous []*record.Schema
			var next *record.Schema
			for _, line := range strings.Split(d.Input, "\n") {
				kind, cols, ok := strings.Cut(line, ":")
				if !ok {
					d.Fatalf(t, "want previous: or new:, got %q", line)
				}
				typ, err := record.ParseType("struct<" + strings.TrimSpace(cols) + ">")
				if err != nil {
					d.Fatalf(t, "%v", err)
				}
				s := record.MustSchema(typ.Fields...)
				switch kind {
				case "previous":
					previous = append(previous, s)
				case "new":
					next = s
				default:
					d.Fatalf(t, "want previous: or new:, got %q", line)
				}
			}
			if err := catalog.CheckCompatibility(catalog.Compatibility(mode), next, previous...); err != nil {
				return err.Error() + "\n"
			}
			return "ok\n"
		})
	})
}
