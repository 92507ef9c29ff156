package train_test

import (
	"math"
	"math/rand/v2"

	"github.com/pricestream/pricestream/internal/model/train"
)

// synthFeatures are the features of synth: those the pricing policy fills
// from a pricing_features row, and two that do not matter.
var synthFeatures = []string{"views", "price", "price_ratio", "inventory", "trend"}

// synth returns n rows of a demand with a known form: units =
// 20·exp(−2·(price_ratio−1))·views/100 + N(0, noise²). Inventory and trend
// are noise features; a share missing of their values is NaN.
func synth(n int, noise, missing float64, seed uint64) train.Data {
	rng := rand.New(rand.NewPCG(seed, 1))
	d := train.Data{Features: synthFeatures}
	for range n {
		views := float64(rng.IntN(400))
		base := 50 + 100*rng.Float64()
		ratio := 0.6 + 0.8*rng.Float64()
		row := []float64{views, math.Round(base*ratio*100) / 100, ratio, float64(rng.IntN(1000)), rng.NormFloat64()}
		for _, j := range []int{3, 4} {
			if rng.Float64() < missing {
				row[j] = math.NaN()
			}
		}
		d.Rows = append(d.Rows, row)
		d.Labels = append(d.Labels, demand(views, ratio)+noise*rng.NormFloat64())
	}
	return d
}

func demand(views, ratio float64) float64 { return 20 * math.Exp(-2*(ratio-1)) * views / 100 }
