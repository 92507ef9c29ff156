package train_test

import (
	"context"
	"fmt"
	"math"
	"strings"

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

// Read recorded features and outcomes, and pick the label and features.
func ExampleTable() {
	var tb train.Table
	err := tb.Read("features.csv", strings.NewReader(`product_id,views,price,price_ratio,brand,units
p1,120,89.5,0.895,Nike,3
p2,80,120,1.2,Puma,
p3,300,95,0.95,Nike,7
`))
	if err != nil {
		panic(err)
	}
	features, ignored := tb.DefaultFeatures("units")
	fmt.Println(features)
	for _, ig := range ignored {
		fmt.Println("ignored", ig.Column+":", ig.Reason)
	}
	d, skipped, err := tb.Data("units", nil)
	if err != nil {
		panic(err)
	}
	fmt.Println(len(d.Rows), "rows,", skipped, "without a label:", d.Rows[1], d.Labels[1])
	_, _, err = tb.Data("units", []string{"price", "brand"})
	fmt.Println(err)
	// Output:
	// [views price price_ratio]
	// ignored product_id: named like an id or a time
	// ignored brand: not numeric: features.csv: line 2: "Nike"
	// 2 rows, 1 without a label: [300 95 0.95] 7
	// train: feature "brand" is not numeric: features.csv: line 2: "Nike"
}
