package remote_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/pricestream/pricestream/internal/api"
	"github.com/pricestream/pricestream/internal/api/oip"
	"github.com/pricestream/pricestream/internal/api/sagemaker"
	"github.com/pricestream/pricestream/internal/engine/enginetest"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/modeltest"
	"github.com/pricestream/pricestream/internal/model/remote"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, enginetest.LeakOptions()...)
}

const testdata = "../testdata/"

// serve runs h on a loopback port until the test ends.
func serve(t testing.TB, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Shutdown(context.Background()))
		require.ErrorIs(t, <-done, http.ErrServerClosed)
	})
	return "http://" + ln.Addr().String()
}

func client(t testing.TB, cfg remote.Config) *remote.Client {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	c, err := remote.New(cfg, remote.Deps{HTTPClient: hc})
	require.NoError(t, err)
	return c
}

// setup serves endpoint "pricing" (the 100-tree benchmark model as
// variants blue and green) with SageMaker's and the Open Inference
// Protocol's routes on a loopback port; it returns the URL, the in-process
// endpoint and the model file.
func setup(t testing.TB) (string, *model.Endpoint, []byte) {
	t.Helper()
	e := enginetest.Start(t)
	ctx := context.Background()
	reg, err := model.NewRegistry(ctx, model.Config{}, model.Deps{Engine: e})
	require.NoError(t, err)
	eps, err := model.NewEndpoints(ctx, model.Config{}, reg, model.Deps{Engine: e})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, eps.Close()) })
	data, err := os.ReadFile(testdata + "xgb_bench.json")
	require.NoError(t, err)
	for range 2 {
		_, err = reg.Register(ctx, model.Registration{Model: "pricing", Artifact: data, Status: model.Approved})
		require.NoError(t, err)
	}
	_, err = eps.Create(ctx, model.EndpointConfig{Name: "pricing", Variants: []model.VariantConfig{
		{Name: "blue", Model: "pricing", Version: 1}, {Name: "green", Model: "pricing", Version: 2},
	}}, false)
	require.NoError(t, err)
	srv, err := api.New(api.Config{Addr: "127.0.0.1:0"}, api.Deps{})
	require.NoError(t, err)
	sm, err := sagemaker.New(sagemaker.Config{}, eps.Endpoint, nil)
	require.NoError(t, err)
	sm.Mount(srv)
	oh, err := oip.New(oip.Config{}, eps.Endpoint, nil)
	require.NoError(t, err)
	oh.Mount(srv)
	ep, err := eps.Endpoint("pricing")
	require.NoError(t, err)
	return serve(t, srv.Handler()), ep, data
}

// TestPredictorConformance runs the same cases against the in-process
// endpoint and against remote clients of each protocol talking to a real
// loopback server over the same endpoint, and to a bare container.
func TestPredictorConformance(t *testing.T) {
	url, ep, data := setup(t)
	rt, err := model.Load("", data)
	require.NoError(t, err)
	static, err := model.NewStaticEndpoint("xgb", rt, nil)
	require.NoError(t, err)
	container := http.NewServeMux()
	csm, err := sagemaker.New(sagemaker.Config{}, func(string) (*model.Endpoint, error) { return static, nil }, nil)
	require.NoError(t, err)
	csm.MountContainer(container, "xgb")
	containerURL := serve(t, container)

	c := modeltest.PredictorCases{
		Cases:    modeltest.ReadCases(t, testdata+"xgb_bench.input.csv", testdata+"xgb_bench.expected.csv"),
		Variants: []string{"blue", "green"},
	}
	c.Rows, c.Want = c.Rows[:200], c.Want[:200]
	t.Run("in-process", func(t *testing.T) { modeltest.Predictor(t, ep, c) })
	t.Run("sagemaker", func(t *testing.T) {
		modeltest.Predictor(t, client(t, remote.Config{URL: url, Endpoint: "pricing"}), c)
	})
	t.Run("oip", func(t *testing.T) {
		modeltest.Predictor(t, client(t, remote.Config{URL: url, Protocol: remote.OIP, Endpoint: "pricing"}), c)
	})
	t.Run("container", func(t *testing.T) {
		cc := c
		cc.Variants = []string{"AllTraffic"}
		modeltest.Predictor(t, client(t, remote.Config{URL: containerURL}), cc)
	})
}

// flaky answers with the statuses in script, one per request, then 200
// with the prediction 0.25; it counts the requests.
type flaky struct {
	mu     sync.Mutex
	script []int
	calls  atomic.Int64
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.calls.Add(1)
	f.mu.Lock()
	status := http.StatusOK
	if len(f.script) > 0 {
		status, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	switch status {
	case http.StatusOK:
		w.Header().Set("Content-Type", "text/csv")
		w.Header().Set("X-Amzn-Invoked-Production-Variant", "AllTraffic")
		_, _ = w.Write([]byte("0.25\n"))
	case 0: // hang until the client gives up
		// The server notices a closed connection only once the body is read.
		_, _ = io.Copy(io.Discard, r.Body)
		<-r.Context().Done()
	default:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"message":"scripted failure"}`))
	}
}

func (f *flaky) set(script ...int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.script = script
	f.calls.Store(0)
}

func TestRemoteRetriesTransientFailures(t *testing.T) {
	f := &flaky{}
	c := client(t, remote.Config{URL: serve(t, f), Backoff: time.Millisecond})
	ctx := context.Background()
	row := model.Features{Row: []float64{1}}

	f.set(503, 500)
	p, err := c.Predict(ctx, row)
	require.NoError(t, err)
	require.Equal(t, model.Prediction{Value: 0.25, Variant: "AllTraffic"}, p)
	require.Equal(t, int64(3), f.calls.Load(), "two retries")

	f.set(400)
	_, err = c.Predict(ctx, row)
	require.ErrorIs(t, err, model.ErrInvalidInput)
	require.ErrorContains(t, err, "refused the request (400): scripted failure")
	require.Equal(t, int64(1), f.calls.Load(), "a refusal for the input is not retried")

	f.set(429, 429, 429)
	_, err = c.Predict(ctx, row)
	require.ErrorIs(t, err, remote.ErrUnavailable)
	require.ErrorContains(t, err, "answered 429: scripted failure")
	require.Equal(t, int64(3), f.calls.Load())
}

func TestRemoteTimeout(t *testing.T) {
	f := &flaky{}
	c := client(t, remote.Config{URL: serve(t, f), Timeout: 50 * time.Millisecond, Retries: -1})
	f.set(0)
	start := time.Now()
	_, err := c.Predict(context.Background(), model.Features{Row: []float64{1}})
	require.ErrorIs(t, err, remote.ErrUnavailable)
	require.ErrorContains(t, err, "context deadline exceeded")
	require.Less(t, time.Since(start), 5*time.Second)
}

func TestRemoteCircuitBreakerAndFallback(t *testing.T) {
	f := &flaky{}
	c := client(t, remote.Config{URL: serve(t, f), Retries: -1, BreakerFailures: 2, BreakerOpenFor: time.Minute})
	now := time.Now()
	var clock atomic.Int64
	c.SetClock(func() time.Time { return now.Add(time.Duration(clock.Load())) })
	ctx := context.Background()
	row := model.Features{Row: []float64{1}}

	f.set(500, 500, 500, 500)
	for range 2 {
		_, err := c.Predict(ctx, row)
		require.ErrorIs(t, err, remote.ErrUnavailable)
	}
	_, err := c.Predict(ctx, row)
	require.ErrorIs(t, err, remote.ErrCircuitOpen)
	require.Equal(t, int64(2), f.calls.Load(), "an open breaker sends nothing")

	clock.Store(int64(2 * time.Minute)) // the probe fails: open again
	_, err = c.Predict(ctx, row)
	require.ErrorIs(t, err, remote.ErrUnavailable)
	require.NotErrorIs(t, err, remote.ErrCircuitOpen)
	_, err = c.Predict(ctx, row)
	require.ErrorIs(t, err, remote.ErrCircuitOpen)

	clock.Store(int64(4 * time.Minute)) // the probe succeeds: closed
	f.set()
	p, err := c.Predict(ctx, row)
	require.NoError(t, err)
	require.Equal(t, 0.25, p.Value)
	f.set(500)
	_, err = c.Predict(ctx, row)
	require.ErrorIs(t, err, remote.ErrUnavailable, "one failure does not open a closed breaker")
	_, err = c.Predict(ctx, row)
	require.NoError(t, err)

	// With a fallback, an unavailable endpoint answers it; bad input still
	// gets the error.
	fb := client(t, remote.Config{URL: serve(t, f), Retries: -1, Fallback: new(1.5)})
	f.set(503)
	p, err = fb.Predict(ctx, row)
	require.NoError(t, err)
	require.Equal(t, model.Prediction{Value: 1.5, Fallback: true}, p)
	f.set(400)
	_, err = fb.Predict(ctx, row)
	require.ErrorIs(t, err, model.ErrInvalidInput)
}

func TestRemoteConfigErrors(t *testing.T) {
	for _, cfg := range []remote.Config{
		{URL: "127.0.0.1:8080"},
		{URL: "http://x", Protocol: "grpc"},
		{URL: "http://x", Protocol: remote.OIP},
	} {
		_, err := remote.New(cfg, remote.Deps{})
		require.Error(t, err, "%+v", cfg)
	}
}
