package tree_test

import (
	"fmt"
	"math"
	"os"

	"github.com/pricestream/pricestream/internal/model/tree"
)

func ExampleLoadXGBoostJSON() {
	// A binary:logistic model saved by XGBoost 1.7 with save_model("m.json").
	data, err := os.ReadFile("../testdata/xgb_binary.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	e, err := tree.LoadXGBoostJSON(data)
	if err != nil {
		fmt.Println(err)
		return
	}
	info := e.Info()
	fmt.Println(info.Objective, info.NumTrees, "trees,", info.Output)
	fmt.Println(e.FeatureNames())

	// views, clicks, add_to_cart, purchases, price, price_ratio, inventory,
	// trend; NaN is missing. XGBoost 1.7 predicts 0.982344 for this row.
	row := []float64{40, 9, 3, 2, 59.9, 0.92, math.NaN(), 0.4}
	fmt.Printf("%.6f\n", e.Predict(row))
	// Output:
	// binary:logistic 20 trees, probability
	// [views clicks add_to_cart purchases price price_ratio inventory trend]
	// 0.982344
}
