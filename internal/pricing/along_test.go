package pricing

import (
	"context"
	"fmt"
	"math"
	"os"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/table/item"
)

// predictOnly is an endpoint without PredictAlong (the method of that name
// here, taking nothing, hides the endpoint's): the pricing function then
// asks it one candidate price at a time.
type predictOnly struct{ *model.Endpoint }

func (p predictOnly) PredictAlong() {}

// countingAlong counts the requests that reach an endpoint.
type countingAlong struct {
	*model.Endpoint
	along, one int
}

func (c *countingAlong) Predict(ctx context.Context, f model.Features) (model.Prediction, error) {
	c.one++
	return c.Endpoint.Predict(ctx, f)
}

func (c *countingAlong) PredictAlong(ctx context.Context, a model.Along, out []float64) (model.BatchResult, error) {
	c.along++
	return c.Endpoint.PredictAlong(ctx, a, out)
}

// shippedModel is the Fast Sneakers model the example deploys.
func shippedModel(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile("../../examples/fastsneakers/model/pricing-model.json")
	require.NoError(t, err)
	return b
}

// staticEndpoint serves a model file in-process, as "pricing".
func staticEndpoint(t testing.TB, artifact []byte) *model.Endpoint {
	t.Helper()
	rt, err := model.Load("", artifact)
	require.NoError(t, err)
	ep, err := model.NewStaticEndpoint("pricing", rt, nil)
	require.NoError(t, err)
	return ep
}

// TestPricingDemandAlongDecidesAlike: with a model that takes the price or
// its ratio (the shipped Fast Sneakers model takes the ratio), an
// in-process endpoint answers all of a decision's candidates in one request, and
// the decisions, units and model recorded are those of one request per
// candidate price.
func TestPricingDemandAlongDecidesAlike(t *testing.T) {
	for _, tc := range []struct {
		name     string
		artifact []byte
		varied   string
	}{
		{"shipped trees, ratio", shippedModel(t), "price_ratio"},
		{"linear, price", []byte(`{"type":"linear","features":["views","price"],"coefficients":[0.02,-0.01],"intercept":2}`), "price"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ep := staticEndpoint(t, tc.artifact)
			p := &Pricer{cfg: DefaultConfig()}
			ctx := context.Background()
			count := &countingAlong{Endpoint: ep}
			decisions, changes := 0, 0
			for _, trend := range []float64{math.NaN(), 0, 0.5, 1, 1.3, 2, 4, 12} {
				for _, base := range []float64{0, 40, 100, 180} {
					for _, current := range []float64{35, 90, 100, 111.11, 150} {
						row := item.Item{}
						if !math.IsNaN(trend) { // else both inputs are missing
							row["trend_now"], row["views"] = priceValue(trend), item.IntValue(int64(trend*10))
						}
						g := Guardrails{MinPrice: 30, MaxPrice: 200, MaxStepPct: p.cfg.MaxStepPct}
						var lastEach, lastAlong model.Prediction
						want, err := Decide(ctx, g, current, p.cfg.Candidates, p.cfg.MinGainPct, p.demand(predictOnly{ep}, row, nil, base, &lastEach))
						require.NoError(t, err)
						before := count.along
						got, err := Decide(ctx, g, current, p.cfg.Candidates, p.cfg.MinGainPct, p.demand(count, row, nil, base, &lastAlong))
						require.NoError(t, err)
						at := fmt.Sprintf("trend %v base %v current %v", trend, base, current)
						require.Equal(t, want, got, at)
						lastEach.Value = 0 // a decision records who answered, not the last value
						require.Equal(t, lastEach, lastAlong, at)
						require.Equal(t, model.Prediction{Variant: "AllTraffic", Model: "pricing"}, lastAlong, at)
						require.Equal(t, 1, count.along-before, "%s: one request per decision", at)
						decisions++
						if got.Change {
							changes++
						}
					}
				}
			}
			require.Zero(t, count.one, "no request per candidate")
			require.NotZero(t, changes, "some decisions change the price")
			require.Less(t, changes, decisions, "some keep it")
		})
	}
}
