package train_test

import (
	"context"
	"fmt"
	"math"

	"github.com/pricestream/pricestream/internal/model/train"
	"github.com/pricestream/pricestream/internal/model/tree"
)

// Fit a demand model that falls with price, save it as XGBoost JSON and
// load it as the registry does.
func ExampleTrain() {
	d := train.Data{Features: []string{"views", "price"}}
	for i := range 1000 {
		views, price := float64(i%50), 10+float64(i%37)
		d.Rows = append(d.Rows, []float64{views, price})
		d.Labels = append(d.Labels, views*math.Exp(-price/20))
	}
	m, rep, err := train.Train(context.Background(), d, train.Config{
		Trees:    50,
		Monotone: map[string]int{"price": -1},
		Seed:     1,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("%d trees, train RMSE %.2f (predicting the mean: %.2f)\n", rep.TreesKept, rep.Train.RMSE, rep.Train.BaselineRMSE)

	e, err := tree.LoadXGBoostJSON(m.XGBoostJSON()) // what os.WriteFile would store
	if err != nil {
		panic(err)
	}
	fmt.Println(e.FeatureNames())
	fmt.Printf("30 views at 15: %.1f units, at 30: %.1f\n", e.Predict([]float64{30, 15}), e.Predict([]float64{30, 30}))
	// Output:
	// 50 trees, train RMSE 0.11 (predicting the mean: 5.86)
	// [views price]
	// 30 views at 15: 14.0 units, at 30: 6.8
}
