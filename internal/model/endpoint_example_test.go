package model_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/model"
)

func ExampleNewStaticEndpoint() {
	rt, err := model.Load("", []byte(`{"type":"linear","features":["views","price"],"coefficients":[0.5,-2],"intercept":10}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ep, err := model.NewStaticEndpoint("pricing", rt, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	var p model.Predictor = ep // what the pricing function consumes
	got, err := p.Predict(context.Background(), model.Features{Row: []float64{4, 1.5}})
	fmt.Println(got.Value, got.Variant, err)

	_, err = p.Predict(context.Background(), model.Features{Row: []float64{4}})
	fmt.Println(errors.Is(err, model.ErrInvalidInput), err)
	// Output:
	// 9 AllTraffic <nil>
	// true model: wrong number of features: row has 1 values, endpoint pricing expects 2
}
