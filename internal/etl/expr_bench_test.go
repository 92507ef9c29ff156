package etl

import (
	"context"
	"testing"

	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/record"
)

// BenchmarkETLExprRate evaluates click-features' view rate, a ternary over
// max and the seconds between two timestamps, on the fast path and in the
// expression VM (which calls Seconds through reflection).
func BenchmarkETLExprRate(b *testing.B) {
	s, err := record.NewSchema(
		record.Column{Name: "views", Type: record.TypeLong, Nullable: true},
		record.Column{Name: "first_event_time", Type: record.TypeTime, Nullable: true},
		record.Column{Name: "last_event_time", Type: record.TypeTime, Nullable: true},
	)
	if err != nil {
		b.Fatal(err)
	}
	r := record.New(3)
	r.Append("views", record.LongValue(12))
	r.Append("first_event_time", record.TimestampNanos(1569888000*1e9))
	r.Append("last_event_time", record.TimestampNanos(1569888042*1e9))
	const src = `views > 2 ? (views - 2) / max(3.0, (last_event_time - first_event_time).Seconds()) : 0.0`
	e, err := compileExpr(src, s, wantAny)
	if err != nil {
		b.Fatal(err)
	}
	if e.fast == nil {
		b.Fatal("not on the fast path")
	}
	vm := *e
	vm.fast, vm.typed = nil, typedFn{}
	for _, bc := range []struct {
		name string
		e    *Expr
	}{{"path=fast", e}, {"path=vm", &vm}} {
		b.Run(bc.name, func(b *testing.B) {
			var ev exprEval
			b.ReportAllocs()
			for b.Loop() {
				if _, err := ev.Value(bc.e, r, r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkETLStatus reads a running job's status, as the lag check does
// every second and a metrics scrape does each time.
func BenchmarkETLStatus(b *testing.B) {
	e := newTestEnv(b, enginetest.Start(b))
	ctx := context.Background()
	e.clicksAndFeatures(b, 1)
	m := startCounts(b, e)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := m.Status(ctx, "counts"); err != nil {
			b.Fatal(err)
		}
	}
}
