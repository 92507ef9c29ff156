package train_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/pricestream/pricestream/internal/cputime"
	"github.com/pricestream/pricestream/internal/model/train"
)

// cpuTime returns the CPU time (user and system) the process has used: on
// a machine shared with other work, CPU per event is what a benchmark can
// still measure when wall time is inflated by waiting for a core.
var cpuTime = cputime.Process

// benchData is synth with five more noise features: 10 in all.
func benchData(n int) train.Data {
	d := synth(n, 1, 0.05, 12)
	rng := rand.New(rand.NewPCG(12, 12))
	d.Features = append(append([]string(nil), d.Features...), "clicks", "add_to_carts", "purchases", "inventory_days", "sales_units_1h")
	for i, row := range d.Rows {
		views := row[0]
		d.Rows[i] = append(row, float64(rng.IntN(int(views)+1)), float64(rng.IntN(20)), float64(rng.IntN(5)), 30*rng.Float64(), float64(rng.IntN(50)))
	}
	return d
}

// BenchmarkTrain: 100,000 rows of 10 features, 100 trees of depth 6, the
// pricing constraints, a fifth of the rows held out (the CLI's default).
func BenchmarkTrain(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  train.Config
	}{
		{"rows=100k/features=10/trees=100/depth=6", train.Config{Trees: 100, MaxDepth: 6, ValidationFraction: 0.2, Monotone: pricingMonotone}},
		{"rows=100k/features=10/trees=100/depth=6/subsample=0.8", train.Config{Trees: 100, MaxDepth: 6, ValidationFraction: 0.2, Subsample: 0.8, Monotone: pricingMonotone}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := benchData(100000)
			b.ReportAllocs()
			var rep *train.Report
			cpu0 := cpuTime()
			for b.Loop() {
				var err error
				if _, rep, err = train.Train(context.Background(), d, bc.cfg); err != nil {
					b.Fatal(err)
				}
			}
			s := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(s, "s/model")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				s = cpu.Seconds() / float64(b.N)
				b.ReportMetric(s, "cpu-s/model")
			}
			b.ReportMetric(s*1e9/float64(rep.TrainRows*rep.TreesKept), "ns/row/tree")
			b.ReportMetric(rep.Validation.RMSE, "valid-rmse")
		})
	}
}
