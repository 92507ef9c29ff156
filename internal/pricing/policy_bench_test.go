package pricing

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/table/item"
)

// BenchmarkPricingDecide: one decision's model work on the shipped Fast
// Sneakers model, from features row to Decision (the row's inputs read,
// every candidate price predicted, the best chosen): "along" asks the
// in-process endpoint once per phase, as the pricing function does; "each"
// asks it once per candidate price, as it did before (the baseline). The
// rows are those of settled prices, where most decisions keep the price
// after the look-ahead: 2n+1 candidates.
func BenchmarkPricingDecide(b *testing.B) {
	ep := staticEndpoint(b, shippedModel(b))
	p := &Pricer{cfg: DefaultConfig()}
	g := Guardrails{MinPrice: 60, MaxPrice: 180, MaxStepPct: p.cfg.MaxStepPct}
	rows := []item.Item{}
	for _, trend := range []string{"0.8", "1", "1.1", "1.4"} {
		n, err := item.ParseNumber(trend)
		require.NoError(b, err)
		rows = append(rows, item.Item{"trend_now": item.NumberValue(n)})
	}
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		pred Predictor
	}{{"along", ep}, {"each", predictOnly{ep}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			var last model.Prediction
			i, kept := 0, 0
			for b.Loop() {
				row := rows[i%len(rows)]
				i++
				d, err := Decide(ctx, g, 120, p.cfg.Candidates, p.cfg.MinGainPct, p.demand(bc.pred, row, nil, 100, &last))
				if err != nil {
					b.Fatal(err)
				}
				if !d.Change {
					kept++
				}
			}
			b.ReportMetric(float64(kept)/float64(i), "kept/op")
		})
	}
}
