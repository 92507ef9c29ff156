package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/client"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/trigger"
)

// TestAPITriggers covers /v1/triggers: bodies in JSON and YAML, and the
// error codes. (Delivery is tested in package trigger and end to end by
// the CLI tests.)
func TestAPITriggers(t *testing.T) {
	e := enginetest.Start(t)
	reg := prometheus.NewRegistry()
	sm, err := stream.New(stream.Config{}, stream.Deps{Engine: e, Registerer: reg})
	require.NoError(t, err)
	defer sm.Close()
	fns := trigger.NewRegistry()
	require.NoError(t, fns.Register("noop", trigger.FunctionOf(func(context.Context, *trigger.Batch) (trigger.Response, error) {
		return trigger.Response{}, nil
	})))
	tm, err := trigger.New(trigger.Config{}, trigger.Deps{Engine: e, Sources: &trigger.Sources{Streams: sm, Region: "us-east-1", AccountID: "1"}, Streams: sm, Functions: fns, Registerer: reg})
	require.NoError(t, err)
	defer tm.Close()
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{Streams: sm, Triggers: tm, Registerer: reg, Gatherer: reg})
	require.NoError(t, err)
	require.NoError(t, srv.Listen())
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.NoError(t, <-done)
	}()
	url := "http://" + srv.Addr().String()
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	c := client.New(url, client.WithHTTPClient(hc))
	ctx := context.Background()
	_, err = c.CreateStream(ctx, api.StreamSpec{Name: "clicks", Partitions: 1})
	require.NoError(t, err)

	// YAML body.
	resp, err := hc.Post(url+"/v1/triggers", "application/yaml", strings.NewReader("name: t\nsource: stream:clicks\nfunction: go:noop\nbatch_size: 7\n"))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)

	spec, err := trigger.ParseSpec([]byte("name: t\nsource: stream:clicks\nfunction: go:noop\n"))
	require.NoError(t, err)
	_, err = c.CreateTrigger(ctx, spec)
	requireCode(t, err, http.StatusConflict, "already_exists")
	res, err := c.ApplyTrigger(ctx, spec)
	require.NoError(t, err)
	require.False(t, res.Created)
	require.Equal(t, 100, res.Spec.BatchSize)

	list, err := c.ListTriggers(ctx)
	require.NoError(t, err)
	require.Len(t, list, 1)
	st, err := c.DescribeTrigger(ctx, "t")
	require.NoError(t, err)
	require.Equal(t, "not_running", st.State) // no manager Run in this test
	require.Len(t, st.Partitions, 1)
	d, err := c.DisableTrigger(ctx, "t")
	require.NoError(t, err)
	require.False(t, d.Spec.IsEnabled())
	d, err = c.EnableTrigger(ctx, "t")
	require.NoError(t, err)
	require.True(t, d.Spec.IsEnabled())

	// Errors.
	resp, err = hc.Post(url+"/v1/triggers", "application/json", strings.NewReader(`{"name": "u", "source": "stream:clicks", "function": "go:noop", "bogus": 1}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	bad := spec.Clone()
	bad.Name = "other"
	req, err := http.NewRequest(http.MethodPut, url+"/v1/triggers/t", strings.NewReader(`{"name":"other","source":"stream:clicks","function":"go:noop"}`))
	require.NoError(t, err)
	resp, err = hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusBadRequest, resp.StatusCode)
	bad.Function = "go:missing"
	_, err = c.CreateTrigger(ctx, bad)
	requireCode(t, err, http.StatusBadRequest, "invalid_argument")
	_, err = c.DescribeTrigger(ctx, "nope")
	requireCode(t, err, http.StatusNotFound, "not_found")
	_, err = c.EnableTrigger(ctx, "nope")
	requireCode(t, err, http.StatusNotFound, "not_found")
	_, err = c.DescribeTrigger(ctx, "bad name!")
	requireCode(t, err, http.StatusBadRequest, "invalid_argument")

	require.NoError(t, c.DeleteTrigger(ctx, "t"))
	requireCode(t, c.DeleteTrigger(ctx, "t"), http.StatusNotFound, "not_found")
}
