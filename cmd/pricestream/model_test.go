package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/app"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/model"
)

const modelTestdata = "../../internal/model/testdata/"

func invokeCSV(t *testing.T, url, endpoint, body, variant string) (int, string, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/endpoints/"+endpoint+"/invocations", strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "text/csv")
	if variant != "" {
		req.Header.Set("X-Amzn-SageMaker-Target-Variant", variant)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b), resp.Header.Get("X-Amzn-Invoked-Production-Variant")
}

// TestCLIModelAndEndpoint registers, approves and deploys models with the
// CLI, shifts traffic and calls the endpoint over SageMaker's path.
func TestCLIModelAndEndpoint(t *testing.T) {
	url := startApp(t)
	dir := t.TempDir()
	lin1 := filepath.Join(dir, "v1.json")
	lin2 := filepath.Join(dir, "v2.json")
	require.NoError(t, os.WriteFile(lin1, []byte(`{"type":"linear","features":["a","b"],"coefficients":[1,2],"intercept":100}`), 0o644))
	require.NoError(t, os.WriteFile(lin2, []byte(`{"type":"linear","features":["a","b"],"coefficients":[1,2],"intercept":200}`), 0o644))
	corrupt := filepath.Join(dir, "corrupt.txt")
	require.NoError(t, os.WriteFile(corrupt, []byte("tree\nversion=v3\n"), 0o644))

	out, err := cli(t, "--server", url, "model", "register", "pricing", "--file", lin1, "--format", "linear-json", "--features", "a,b", "--metric", "rmse=0.5", "--tag", "team=pricing")
	require.NoError(t, err)
	require.Equal(t, "1\n", out, "prints the new version")
	out, err = cli(t, "--server", url, "model", "register", "pricing", "--file", lin2)
	require.NoError(t, err)
	require.Equal(t, "2\n", out)
	_, err = cli(t, "--server", url, "model", "register", "pricing", "--file", corrupt, "--format", "lightgbm")
	require.ErrorContains(t, err, `model: lightgbm: line 2: unexpected end of file in the header (no trees, no "end of trees") (400 invalid_model)`)
	out, err = cli(t, "--server", url, "model", "register", "xgb", "--file", modelTestdata+"xgb_bench.json", "--format", "xgboost-json", "--json")
	require.NoError(t, err)
	var xv model.Version
	require.NoError(t, json.Unmarshal([]byte(out), &xv))
	require.Equal(t, "f19", xv.Features[19].Name, "XGBoost JSON carries its feature names")

	_, err = cli(t, "--server", url, "endpoint", "create", "pricing", "--model", "pricing")
	require.ErrorContains(t, err, "not_approved")
	out, err = cli(t, "--server", url, "model", "approve", "pricing:1")
	require.NoError(t, err)
	require.Equal(t, "pricing:1 is Approved\n", out)
	out, err = cli(t, "--server", url, "model", "reject", "pricing:2")
	require.NoError(t, err)
	require.Equal(t, "pricing:2 is Rejected\n", out)

	out, err = cli(t, "--server", url, "model", "list")
	require.NoError(t, err)
	require.Contains(t, out, "pricing")
	out, err = cli(t, "--server", url, "model", "describe", "pricing:1")
	require.NoError(t, err)
	var v model.Version
	require.NoError(t, json.Unmarshal([]byte(out), &v))
	require.Equal(t, model.Approved, v.Status)
	require.Equal(t, 0.5, v.Metrics["rmse"])
	require.Equal(t, "pricing", v.Tags["team"])

	out, err = cli(t, "--server", url, "endpoint", "create", "pricing", "--model", "pricing")
	require.NoError(t, err)
	require.Equal(t, "created endpoint pricing (InService): AllTraffic=pricing:1@1\n", out)
	status, body, variant := invokeCSV(t, url, "pricing", "1,2\n3,\n", "")
	require.Equal(t, 200, status, body)
	require.Equal(t, "105\n103\n", body)
	require.Equal(t, "AllTraffic", variant)

	// A rejected version takes traffic only when forced.
	_, err = cli(t, "--server", url, "endpoint", "update", "pricing", "--variant", "blue=pricing:1@100", "--variant", "green=pricing:2@0")
	require.ErrorContains(t, err, "pricing:2 is Rejected")
	out, err = cli(t, "--server", url, "endpoint", "update", "pricing", "--variant", "blue=pricing:1@100", "--variant", "green=pricing:2@0", "--force")
	require.NoError(t, err)
	require.Equal(t, "updated endpoint pricing (InService): blue=pricing:1@100 green=pricing:2@0\n", out)
	out, err = cli(t, "--server", url, "endpoint", "update", "pricing", "--weight", "blue=0", "--weight", "green=1", "--force")
	require.NoError(t, err)
	require.Equal(t, "updated endpoint pricing (InService): blue=pricing:1@0 green=pricing:2@1\n", out)
	status, body, variant = invokeCSV(t, url, "pricing", "1,2\n", "")
	require.Equal(t, 200, status)
	require.Equal(t, "205\n", body)
	require.Equal(t, "green", variant)
	status, body, variant = invokeCSV(t, url, "pricing", "1,2\n", "blue")
	require.Equal(t, 200, status)
	require.Equal(t, "105\n", body)
	require.Equal(t, "blue", variant)

	out, err = cli(t, "--server", url, "endpoint", "invoke", "pricing", "--body", "1,2\n0,0\n", "--variant", "blue")
	require.NoError(t, err)
	require.Equal(t, "105\n100\n", out)
	out, err = cli(t, "--server", url, "endpoint", "invoke", "pricing", "--content-type", "application/json", "--body", `{"instances":[{"a":1,"b":2}]}`)
	require.NoError(t, err)
	require.Equal(t, `{"predictions":[205]}`, out)
	_, err = cli(t, "--server", url, "endpoint", "invoke", "pricing", "--body", "1,2,3\n")
	require.ErrorContains(t, err, "payload: csv line 1 has more than 2 values; the model expects 2 (424 ModelError)")

	out, err = cli(t, "--server", url, "endpoint", "list")
	require.NoError(t, err)
	require.Contains(t, out, "blue=pricing:1@0 green=pricing:2@1")
	out, err = cli(t, "--server", url, "endpoint", "describe", "pricing")
	require.NoError(t, err)
	var info model.EndpointInfo
	require.NoError(t, json.Unmarshal([]byte(out), &info))
	require.Equal(t, model.StatusInService, info.Status)
	require.Len(t, info.Features, 2)

	// The native API through the client.
	c := client.New(url)
	_, err = c.CreateEndpoint(context.Background(), api.EndpointSpec{EndpointConfig: model.EndpointConfig{Name: "x", Variants: []model.VariantConfig{{Model: "nope"}}}})
	require.True(t, client.IsCode(err, "not_found"), err)
	_, err = c.ModelVersion(context.Background(), "pricing", 9)
	require.True(t, client.IsCode(err, "not_found"), err)
	art, err := c.ModelArtifact(context.Background(), "pricing", 2)
	require.NoError(t, err)
	require.Contains(t, string(art), `"intercept":200`)

	out, err = cli(t, "--server", url, "endpoint", "delete", "pricing")
	require.NoError(t, err)
	require.Equal(t, "deleted endpoint pricing\n", out)
	status, body, _ = invokeCSV(t, url, "pricing", "1,2\n", "")
	require.Equal(t, 400, status)
	require.Contains(t, body, "Endpoint pricing of account 000000000000 not found.")
}

// TestCLIModelServe runs `model serve` on a directory holding one model
// file and calls it as SageMaker calls a container.
func TestCLIModelServe(t *testing.T) {
	dir := t.TempDir()
	data, err := os.ReadFile(modelTestdata + "xgb_bench.json")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "xgboost-model.json"), data, 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "README"), []byte("not a model"), 0o644))
	s, err := app.NewModelServer(app.ModelServerConfig{Dir: dir, Addr: "127.0.0.1:0"}, nil)
	require.NoError(t, err)
	require.Equal(t, []string{"xgboost-model"}, s.Models())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	url := "http://" + s.Addr()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	// The listener is bound before Run: the first request waits for Serve.
	resp, err := hc.Get(url + "/ping")
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	in, err := os.ReadFile(modelTestdata + "xgb_bench.input.csv")
	require.NoError(t, err)
	row := strings.Split(string(in), "\n")[1]
	resp, err = hc.Post(url+"/invocations", "text/csv", strings.NewReader(row+"\n"))
	require.NoError(t, err)
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, 200, resp.StatusCode, string(b))
	want, err := os.ReadFile(modelTestdata + "xgb_bench.expected.csv")
	require.NoError(t, err)
	require.Equal(t, strings.Split(string(want), "\n")[1]+"\n", string(b))

	resp, err = hc.Post(url+"/v2/models/xgboost-model/infer", "application/json", strings.NewReader(`{"inputs":[{"name":"x","shape":[1,20],"datatype":"FP64","data":[`+row+`]}]}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	// A corrupt model file stops the server from starting, naming it.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "other.txt"), []byte("tree\nversion=v4\n"), 0o644))
	_, err = app.NewModelServer(app.ModelServerConfig{Dir: dir, Addr: "127.0.0.1:0"}, nil)
	require.ErrorContains(t, err, "model serve: other.txt: model: lightgbm: line 2")
	_, err = app.NewModelServer(app.ModelServerConfig{Dir: t.TempDir(), Addr: "127.0.0.1:0"}, nil)
	require.ErrorContains(t, err, "model serve: no model file")
}
