package oip_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/oip"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

const testdata = "../../model/testdata/"

// start serves the protocol over endpoint "pricing" (the 100-tree
// benchmark model as variants blue and green) on a loopback port.
func start(t testing.TB) (string, *http.Client) {
	t.Helper()
	e := enginetest.Start(t)
	ctx := context.Background()
	reg, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, model.Deps{Engine: e})
	require.NoError(t, err)
	data, err := os.ReadFile(testdata + "xgb_bench.json")
	require.NoError(t, err)
	for range 2 {
		_, err = reg.Register(ctx, model.Registration{Model: "pricing", Artifact: data, Status: model.Approved})
		require.NoError(t, err)
	}
	_, err = eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{
		{Name: "blue", Model: "pricing", Version: 1}, {Name: "green", Model: "pricing", Version: 2, Weight: model.Weight(0)},
	}}, false)
	require.NoError(t, err)
	h, err := oip.New(oip.Config{Ready: e.Ready, Version: "test"}, eps.Endpoint, nil)
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{})
	require.NoError(t, err)
	h.Mount(srv)
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
	return "http://" + srv.Addr().String(), hc
}

func call(t *testing.T, hc *http.Client, method, url, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.NewDecoder(bytes.NewReader(b)).Decode(&out), string(b))
	return resp.StatusCode, out
}

func TestOIPHealthAndMetadata(t *testing.T) {
	url, hc := start(t)
	status, out := call(t, hc, "GET", url+"/v2/health/live", "")
	require.Equal(t, 200, status)
	require.Equal(t, true, out["live"])
	status, out = call(t, hc, "GET", url+"/v2/health/ready", "")
	require.Equal(t, 200, status)
	require.Equal(t, true, out["ready"])
	status, out = call(t, hc, "GET", url+"/v2", "")
	require.Equal(t, 200, status)
	require.Equal(t, "pricestream", out["name"])

	status, out = call(t, hc, "GET", url+"/v2/models/pricing", "")
	require.Equal(t, 200, status)
	require.Equal(t, []any{"blue", "green"}, out["versions"])
	require.Equal(t, []any{float64(-1), float64(20)}, out["inputs"].([]any)[0].(map[string]any)["shape"])
	require.Equal(t, "f00", out["parameters"].(map[string]any)["feature_names"].([]any)[0])
	status, out = call(t, hc, "GET", url+"/v2/models/pricing/ready", "")
	require.Equal(t, 200, status)
	require.Equal(t, true, out["ready"])
	status, _ = call(t, hc, "GET", url+"/v2/models/pricing/versions/green/ready", "")
	require.Equal(t, 200, status)

	status, out = call(t, hc, "GET", url+"/v2/models/nope", "")
	require.Equal(t, 404, status)
	require.Equal(t, `model "nope" not found`, out["error"])
	status, out = call(t, hc, "GET", url+"/v2/models/pricing/versions/red/ready", "")
	require.Equal(t, 404, status)
	require.Contains(t, out["error"], `model "pricing" has no version "red"`)
}

func inferBody(rows [][]float64, datatype string) string {
	var data []string
	for _, row := range rows {
		for _, v := range row {
			if math.IsNaN(v) {
				data = append(data, "null")
			} else {
				data = append(data, fmt.Sprint(v))
			}
		}
	}
	return fmt.Sprintf(`{"id":"req-1","inputs":[{"name":"input-0","shape":[%d,%d],"datatype":%q,"data":[%s]}]}`, len(rows), len(rows[0]), datatype, strings.Join(data, ","))
}

func TestOIPInfer(t *testing.T) {
	url, hc := start(t)
	c := modeltest.ReadCases(t, testdata+"xgb_bench.input.csv", testdata+"xgb_bench.expected.csv")
	status, out := call(t, hc, "POST", url+"/v2/models/pricing/infer", inferBody(c.Rows[:50], "FP64"))
	require.Equal(t, 200, status, out)
	require.Equal(t, "pricing", out["model_name"])
	require.Equal(t, "blue", out["model_version"])
	require.Equal(t, "req-1", out["id"])
	o := out["outputs"].([]any)[0].(map[string]any)
	require.Equal(t, "predict", o["name"])
	require.Equal(t, "FP64", o["datatype"])
	require.Equal(t, []any{float64(50)}, o["shape"])
	for i, v := range o["data"].([]any) {
		require.Equal(t, c.Want[i], v, "row %d: bit-exact with XGBoost", i)
	}

	// FP32 rounds the inputs to float32, which XGBoost compares in anyway.
	status, out = call(t, hc, "POST", url+"/v2/models/pricing/versions/green/infer", inferBody(c.Rows[:5], "FP32"))
	require.Equal(t, 200, status, out)
	require.Equal(t, "green", out["model_version"])
	for i, v := range out["outputs"].([]any)[0].(map[string]any)["data"].([]any) {
		require.Equal(t, c.Want[i], v, "row %d", i)
	}

	// One tensor per feature.
	status, out = call(t, hc, "POST", url+"/v2/models/pricing/infer", `{"inputs":[{"name":"f00","shape":[2],"datatype":"FP64","data":[0.5,1]}]}`)
	require.Equal(t, 200, status, out)
	require.Len(t, out["outputs"].([]any)[0].(map[string]any)["data"], 2)

	tests := []struct {
		name, path, body string
		status           int
		msg              string
	}{
		{"unknown model", "/v2/models/nope/infer", inferBody(c.Rows[:1], "FP64"), 404, `model "nope" not found`},
		{"unknown version", "/v2/models/pricing/versions/red/infer", inferBody(c.Rows[:1], "FP64"), 404, `no version "red"`},
		{"wrong width", "/v2/models/pricing/infer", `{"inputs":[{"name":"x","shape":[1,3],"datatype":"FP64","data":[1,2,3]}]}`, 400, "rows of 3 values, the model expects 20"},
		{"malformed", "/v2/models/pricing/infer", `{"inputs":[`, 400, "malformed inference request"},
		{"bytes", "/v2/models/pricing/infer", `{"inputs":[{"name":"f00","shape":[1],"datatype":"BYTES","data":["a"]}]}`, 400, "BYTES is not supported"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, out := call(t, hc, "POST", url+tt.path, tt.body)
			require.Equal(t, tt.status, status)
			require.Contains(t, out["error"], tt.msg)
		})
	}
}
