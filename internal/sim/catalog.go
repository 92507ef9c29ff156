package sim

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// Product is one sneaker of the simulated catalog. The exported fields are
// what the shop publishes in its products table; the unexported ones are
// the hidden ground truth of its demand, which only the simulator reads.
type Product struct {
	ID        string  `json:"product_id"`
	Name      string  `json:"name"`
	Brand     string  `json:"brand"`
	Category  string  `json:"category"`
	BasePrice float64 `json:"base_price"`
	MinPrice  float64 `json:"min_price"`
	MaxPrice  float64 `json:"max_price"`
	Inventory int     `json:"inventory"`

	// popularity is the product's share weight of the shop's traffic.
	popularity float64
	// wtp is the median willingness to pay of an interested visitor, as
	// a multiple of the base price; sigma is its log-normal spread. Both
	// fix the product's hidden price elasticity.
	wtp, sigma float64
}

var (
	brands     = []string{"Nike", "Adidas", "New Balance", "Asics", "Puma", "Reebok", "Vans", "Converse", "Saucony", "On"}
	categories = []string{"running", "basketball", "lifestyle", "skate", "trail", "tennis"}
	models     = []string{"Air", "Boost", "Gel", "Zoom", "Classic", "Retro", "Flux", "Wave", "Cloud", "Pro", "Runner", "Street"}
)

// NewCatalog returns n products, the same for the same seed.
func NewCatalog(seed uint64, n int) []Product {
	r := rand.New(rand.NewPCG(seed, 0xca7a106))
	out := make([]Product, n)
	for i := range out {
		base := math.Round(60+r.Float64()*160) - 0.01 // 59.99 … 219.99
		p := Product{
			ID:        fmt.Sprintf("p%05d", i+1),
			Brand:     brands[r.IntN(len(brands))],
			Category:  categories[r.IntN(len(categories))],
			BasePrice: base,
			MinPrice:  roundCents(base * 0.7),
			MaxPrice:  roundCents(base * 1.4),
			Inventory: 20000 + r.IntN(30000),
			// Popularity is long-tailed, as in any shop.
			popularity: math.Exp(r.NormFloat64() * 0.8),
			wtp:        1.2 + r.Float64()*0.35,
			sigma:      0.2 + r.Float64()*0.2,
		}
		p.Name = fmt.Sprintf("%s %s %d", p.Brand, models[r.IntN(len(models))], 1+r.IntN(99))
		out[i] = p
	}
	return out
}

func roundCents(v float64) float64 { return math.Round(v*100) / 100 }

// buyProbability is the hidden chance that a visitor with buying intent
// finds the price acceptable: P(willingness to pay ≥ price) under the
// product's log-normal willingness to pay, raised by hype.
func (p *Product) buyProbability(price, hype float64) float64 {
	m := p.BasePrice * p.wtp * hype
	z := math.Log(price/m) / p.sigma
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

// OptimalPrice is the revenue-maximising price of the product at a hype
// level, from the ground truth, within [MinPrice, MaxPrice]: what a
// perfect pricer would charge. Tests compare against it; the pricing
// path never sees it.
func (p *Product) OptimalPrice(hype float64) float64 {
	best, bestRev := p.MinPrice, 0.0
	for c := p.MinPrice; c <= p.MaxPrice; c += 0.01 * p.BasePrice {
		if rev := c * p.buyProbability(c, hype); rev > bestRev {
			best, bestRev = c, rev
		}
	}
	return roundCents(best)
}
