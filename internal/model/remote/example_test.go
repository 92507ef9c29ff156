package remote_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/remote"
)

func ExampleClient() {
	// A SageMaker-style container serving one linear model, as
	// `pricestream model serve` runs it.
	rt, _ := model.Load("", []byte(`{"type":"linear","features":["views","price"],"coefficients":[0.5,-2],"intercept":10}`))
	ep, _ := model.NewStaticEndpoint("pricing", rt, nil)
	h, _ := sagemaker.New(sagemaker.Config{}, func(string) (*model.Endpoint, error) { return ep, nil }, nil)
	mux := http.NewServeMux()
	h.MountContainer(mux, "pricing")
	srv := httptest.NewServer(mux)
	defer srv.Close()

	fallback := 1.0
	c, err := remote.New(remote.Config{URL: srv.URL, Fallback: &fallback}, remote.Deps{HTTPClient: srv.Client()})
	if err != nil {
		fmt.Println(err)
		return
	}
	var p model.Predictor = c
	got, err := p.Predict(context.Background(), model.Features{Row: []float64{4, 1.5}})
	fmt.Println(got.Value, got.Variant, got.Fallback, err)

	srv.Close() // the model goes away: the fallback answers
	got, err = p.Predict(context.Background(), model.Features{Row: []float64{4, 1.5}})
	fmt.Println(got.Value, got.Fallback, err)
	// Output:
	// 9 AllTraffic false <nil>
	// 1 true <nil>
}
