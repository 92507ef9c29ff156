package api_test

import (
	"context"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
)

// startModels runs a server with the registry and the endpoints.
func startModels(t *testing.T) (string, *client.Client) {
	t.Helper()
	e := enginetest.Start(t)
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	models, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, models, model.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Models: models, Endpoints: eps, Registerer: reg})
	require.NoError(t, err)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(func() {
		hc.CloseIdleConnections()
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
		require.NoError(t, eps.Close())
	})
	url := "http://" + srv.Addr().String()
	return url, client.New(url, client.WithHTTPClient(hc))
}

func TestAPIModelsAndEndpoints(t *testing.T) {
	url, c := startModels(t)
	ctx := context.Background()
	xgb, err := os.ReadFile("../model/testdata/xgb_bench.json")
	require.NoError(t, err)
	lin := []byte(`{"type":"linear","features":["a","b"],"coefficients":[1,2],"intercept":1}`)

	v, err := c.RegisterModel(ctx, "pricing", api.ModelRegistration{Artifact: xgb, Metrics: map[string]float64{"rmse": 0.3}})
	require.NoError(t, err)
	require.Equal(t, 1, v.Version)
	require.Equal(t, model.PendingManualApproval, v.Status)
	_, err = c.RegisterModel(ctx, "lin", api.ModelRegistration{Artifact: lin, Status: "Approved"})
	require.NoError(t, err)

	pkgs, err := c.ListModels(ctx)
	require.NoError(t, err)
	require.Len(t, pkgs, 2)
	info, err := c.DescribeModel(ctx, "pricing")
	require.NoError(t, err)
	require.Len(t, info.Versions, 1)

	// Stable error codes for each kind of refusal.
	_, err = c.RegisterModel(ctx, "pricing", api.ModelRegistration{Artifact: []byte("tree\nversion=v4\n")})
	requireCode(t, err, 400, "invalid_model")
	_, err = c.RegisterModel(ctx, "pricing", api.ModelRegistration{Artifact: []byte("hello")})
	requireCode(t, err, 400, "unknown_format")
	_, err = c.RegisterModel(ctx, "pricing", api.ModelRegistration{Artifact: []byte(`{"learner":{"learner_model_param":{"num_class":"3","num_feature":"1","base_score":"0.5"},"objective":{"name":"multi:softprob"},"gradient_booster":{"name":"gbtree","model":{"trees":[],"tree_info":[]}}},"version":[1,7,4]}`)})
	requireCode(t, err, 400, "unsupported_model")
	_, err = c.RegisterModel(ctx, "bad_name", api.ModelRegistration{Artifact: lin})
	requireCode(t, err, 400, "invalid_argument")
	_, err = c.ModelVersion(ctx, "pricing", 7)
	requireCode(t, err, 404, "not_found")
	_, err = c.SetModelStatus(ctx, "pricing", 1, "Maybe")
	requireCode(t, err, 400, "invalid_argument")
	_, err = c.CreateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "pricing"}}}})
	requireCode(t, err, 409, "not_approved")
	ep, err := c.CreateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "pricing"}}}, Force: true})
	require.NoError(t, err)
	require.Equal(t, model.StatusInService, ep.Status)
	_, err = c.CreateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "pricing"}}}, Force: true})
	requireCode(t, err, 409, "already_exists")
	_, err = c.UpdateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "e", Variants: []model.VariantConfig{{Model: "lin"}}}})
	require.NoError(t, err, "an update may change the features")
	_, err = c.UpdateEndpoint(ctx, api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "nope", Variants: []model.VariantConfig{{Model: "lin"}}}})
	requireCode(t, err, 404, "not_found")
	eps, err := c.ListEndpoints(ctx)
	require.NoError(t, err)
	require.Len(t, eps, 1)
	require.NoError(t, c.DeleteEndpoint(ctx, "e"))
	requireCode(t, c.DeleteEndpoint(ctx, "e"), 404, "not_found")

	// Malformed bodies and parameters.
	for _, tc := range []struct{ method, path, body, code string }{
		{"POST", "/v1/models/pricing/versions", `{"artifact": "not base64!"}`, "malformed_request"},
		{"POST", "/v1/models/pricing/versions", `{"artifact": "", "colour": 1}`, "malformed_request"},
		{"GET", "/v1/models/pricing/versions/one", ``, "invalid_argument"},
		{"PATCH", "/v1/models/pricing/versions/1", `{"status": 1}`, "malformed_request"},
		{"POST", "/v1/endpoints", `{"name": "x", "variants": "all"}`, "malformed_request"},
		{"PUT", "/v1/endpoints/x", `{"name": "y", "variants": [{"model": "lin"}]}`, "invalid_argument"},
	} {
		req, err := http.NewRequest(tc.method, url+tc.path, strings.NewReader(tc.body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, 400, resp.StatusCode, "%s %s %s", tc.method, tc.path, tc.body)
	}
}
