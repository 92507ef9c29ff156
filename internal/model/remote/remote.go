package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/model/payload"
)

// Protocol is the wire protocol of a remote endpoint.
type Protocol string

// The protocols.
const (
	// SageMaker is the SageMaker runtime's InvokeEndpoint (POST
	// /endpoints/{name}/invocations), or with an empty Endpoint the
	// container contract (POST /invocations).
	SageMaker Protocol = "sagemaker"
	// OIP is the Open Inference Protocol v2 (POST /v2/models/{name}/infer).
	OIP Protocol = "oip"
)

// ErrUnavailable means the remote endpoint could not answer: it failed,
// timed out, or the circuit breaker is open. Test with errors.Is; with a
// fallback configured, Predict answers the fallback instead.
var ErrUnavailable = errors.New("remote: endpoint unavailable")

// ErrCircuitOpen means the circuit breaker is open: recent requests failed,
// so this one was not sent. It wraps ErrUnavailable.
var ErrCircuitOpen = fmt.Errorf("%w: circuit breaker open", ErrUnavailable)

// Config configures a Client. A zero field means its default.
type Config struct {
	// URL is the server's base URL, such as "http://127.0.0.1:8080".
	URL string
	// Protocol is SageMaker (the default) or OIP.
	Protocol Protocol
	// Endpoint is the endpoint (SageMaker) or model (OIP) name. Empty
	// with SageMaker means a bare container: POST {URL}/invocations.
	Endpoint string
	// Timeout bounds one attempt. Default 1s.
	Timeout time.Duration
	// Retries is the number of extra attempts after a failure that may be
	// transient (a network error, a timeout, 429, 5xx). Default 2; -1
	// means none.
	Retries int
	// Backoff is the wait before the first retry, doubled for each next
	// one, with jitter. Default 5ms.
	Backoff time.Duration
	// BreakerFailures is the number of failed requests in a row that opens
	// the circuit breaker. Default 5; -1 disables the breaker.
	BreakerFailures int
	// BreakerOpenFor is how long an open breaker refuses requests before
	// letting one through to probe. Default 5s.
	BreakerOpenFor time.Duration
	// Fallback, when set, is the answer Predict gives (with
	// Prediction.Fallback true and no error) when the endpoint is
	// unavailable. A request refused for its input gets the error, never
	// the fallback.
	Fallback *float64
}

func (c Config) withDefaults() Config {
	if c.Protocol == "" {
		c.Protocol = SageMaker
	}
	if c.Timeout == 0 {
		c.Timeout = time.Second
	}
	if c.Retries == 0 {
		c.Retries = 2
	}
	if c.Retries < 0 {
		c.Retries = 0
	}
	if c.Backoff == 0 {
		c.Backoff = 5 * time.Millisecond
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerOpenFor == 0 {
		c.BreakerOpenFor = 5 * time.Second
	}
	return c
}

// Deps are a Client's dependencies; all optional.
type Deps struct {
	// HTTPClient sends the requests; default a client with keep-alive
	// connections to the one host.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Registerer receives the client's metrics; nil means none.
	Registerer prometheus.Registerer
}

// Client is a [model.Predictor] for a remote endpoint. It is safe for
// concurrent use and starts no goroutines.
type Client struct {
	cfg     Config
	hc      *http.Client
	target  string // the URL requests go to, without a variant
	logger  *slog.Logger
	breaker breaker
	metrics *metrics
}

var _ model.Predictor = (*Client)(nil)

// New returns a client of the remote endpoint cfg names.
func New(cfg Config, deps Deps) (*Client, error) {
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("remote: url %q: want http://HOST:PORT or https://…", cfg.URL)
	}
	base := strings.TrimRight(cfg.URL, "/")
	var target string
	switch cfg.Protocol {
	case SageMaker:
		target = base + "/invocations"
		if cfg.Endpoint != "" {
			target = base + "/endpoints/" + url.PathEscape(cfg.Endpoint) + "/invocations"
		}
	case OIP:
		if cfg.Endpoint == "" {
			return nil, errors.New("remote: the Open Inference Protocol needs a model name (Endpoint)")
		}
		target = base + "/v2/models/" + url.PathEscape(cfg.Endpoint)
	default:
		return nil, fmt.Errorf("remote: protocol %q: want %s or %s", cfg.Protocol, SageMaker, OIP)
	}
	hc := deps.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}}
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	name := cfg.Endpoint
	if name == "" {
		name = "container"
	}
	c := &Client{cfg: cfg, hc: hc, target: target, logger: logger.With("component", "model-remote", "endpoint", name), metrics: newMetrics(deps.Registerer, name)}
	c.breaker.failures, c.breaker.openFor, c.breaker.now = cfg.BreakerFailures, cfg.BreakerOpenFor, time.Now
	return c, nil
}

// SetClock makes the breaker read time from now (for tests).
func (c *Client) SetClock(now func() time.Time) {
	c.breaker.mu.Lock()
	defer c.breaker.mu.Unlock()
	c.breaker.now = now
}

// Predict sends one row to the remote endpoint. See [model.Predictor]:
// a request the remote refuses for its input (4xx) is an
// *model.InputError and is not retried; a failure that may be transient is
// retried up to Retries times within ctx, then gives an error wrapping
// ErrUnavailable — or the fallback answer if one is configured.
func (c *Client) Predict(ctx context.Context, f model.Features) (model.Prediction, error) {
	start := time.Now()
	p, err := c.predict(ctx, f)
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, model.ErrInvalidInput):
		result = "invalid_input"
	case errors.Is(err, ErrCircuitOpen):
		result = "circuit_open"
	default:
		result = "error"
	}
	if err != nil && result != "invalid_input" && c.cfg.Fallback != nil && ctx.Err() == nil {
		c.metrics.requests.WithLabelValues("fallback").Inc()
		return model.Prediction{Value: *c.cfg.Fallback, Fallback: true}, nil
	}
	c.metrics.requests.WithLabelValues(result).Inc()
	if err == nil {
		c.metrics.latency.Observe(time.Since(start).Seconds())
	}
	return p, err
}

func (c *Client) predict(ctx context.Context, f model.Features) (model.Prediction, error) {
	if !c.breaker.allow() {
		return model.Prediction{}, ErrCircuitOpen
	}
	body, ct, target := c.encode(f)
	var last error
	for attempt := 0; attempt <= c.cfg.Retries; attempt++ {
		if attempt > 0 {
			d := c.cfg.Backoff << (attempt - 1)
			d += time.Duration(rand.Int64N(int64(d)/2 + 1))
			t := time.NewTimer(d)
			select {
			case <-ctx.Done():
				t.Stop()
				c.breaker.done(false)
				return model.Prediction{}, fmt.Errorf("%w: %v (after %v)", ErrUnavailable, ctx.Err(), last)
			case <-t.C:
			}
		}
		p, retry, err := c.attempt(ctx, f, body, ct, target)
		if err == nil || !retry {
			// A refusal for the input means the model is up.
			c.breaker.done(true)
			return p, err
		}
		last = err
		if ctx.Err() != nil {
			break
		}
	}
	c.breaker.done(false)
	c.metrics.open.Set(b2f(c.breaker.isOpen()))
	return model.Prediction{}, fmt.Errorf("%w: %v", ErrUnavailable, last)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// encode builds the request body of a row.
func (c *Client) encode(f model.Features) (body []byte, contentType, target string) {
	if c.cfg.Protocol == OIP {
		b := make([]byte, 0, 96+24*len(f.Row))
		b = append(b, `{`...)
		if f.InferenceID != "" {
			id, _ := json.Marshal(f.InferenceID)
			b = append(b, `"id":`...)
			b = append(b, id...)
			b = append(b, ',')
		}
		b = append(b, `"inputs":[{"name":"input-0","datatype":"FP64","shape":[1,`...)
		b = strconv.AppendInt(b, int64(len(f.Row)), 10)
		b = append(b, `],"data":[`...)
		for i, v := range f.Row {
			if i > 0 {
				b = append(b, ',')
			}
			b = model.AppendJSONFloat(b, v)
		}
		b = append(b, "]}]}"...)
		target = c.target + "/infer"
		if f.Variant != "" {
			target = c.target + "/versions/" + url.PathEscape(f.Variant) + "/infer"
		}
		return b, payload.JSON, target
	}
	b := make([]byte, 0, 24*len(f.Row)+1)
	for i, v := range f.Row {
		if i > 0 {
			b = append(b, ',')
		}
		if !math.IsNaN(v) {
			b = strconv.AppendFloat(b, v, 'g', -1, 64)
		}
	}
	return append(b, '\n'), payload.CSV, c.target
}

// attempt sends one request. retry says whether a failure may be
// transient.
func (c *Client) attempt(ctx context.Context, f model.Features, body []byte, ct, target string) (p model.Prediction, retry bool, err error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(actx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return p, false, err
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", ct)
	if c.cfg.Protocol == SageMaker {
		if f.Variant != "" {
			req.Header.Set("X-Amzn-SageMaker-Target-Variant", f.Variant)
		}
		if f.InferenceID != "" {
			req.Header.Set("X-Amzn-SageMaker-Inference-Id", f.InferenceID)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return p, true, fmt.Errorf("%s: %w", target, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return p, true, fmt.Errorf("%s: read answer: %w", target, err)
	}
	if resp.StatusCode >= 300 {
		msg := errorMessage(b)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
			return p, true, fmt.Errorf("%s answered %d: %s", target, resp.StatusCode, msg)
		case resp.StatusCode == http.StatusNotFound && c.cfg.Protocol == OIP && f.Variant != "":
			// The Open Inference Protocol answers 404 for a model version
			// (variant) that does not exist.
			return p, false, &model.InputError{Err: fmt.Errorf("%w: remote: %s answered 404: %s", model.ErrUnknownVariant, target, msg)}
		case resp.StatusCode == http.StatusNotFound:
			return p, false, fmt.Errorf("%w: %s answered %d: %s", model.ErrNotFound, target, resp.StatusCode, msg)
		default:
			return p, false, &model.InputError{Err: fmt.Errorf("remote: %s refused the request (%d): %s", target, resp.StatusCode, msg)}
		}
	}
	var preds []float64
	if c.cfg.Protocol == OIP {
		var r *payload.InferResponse
		r, preds, err = payload.ParseInferResponse(b)
		if err == nil {
			p.Variant = r.ModelVersion
		}
	} else {
		if payload.MediaType(resp.Header.Get("Content-Type")) == payload.JSON {
			preds, err = payload.ParseJSONPredictions(b)
		} else {
			preds, err = payload.ParseCSVPredictions(b)
		}
		p.Variant = resp.Header.Get("X-Amzn-Invoked-Production-Variant")
	}
	if err == nil && len(preds) != 1 {
		err = fmt.Errorf("%d predictions for one row", len(preds))
	}
	if err != nil {
		return model.Prediction{}, false, fmt.Errorf("%s: %w", target, err)
	}
	p.Value = preds[0]
	return p, false, nil
}

// errorMessage takes the message out of an error answer of either
// protocol (or gives the body).
func errorMessage(b []byte) string {
	var e struct {
		Message         string `json:"message"`
		Message2        string `json:"Message"`
		OriginalMessage string `json:"OriginalMessage"`
		Error           string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil {
		for _, m := range []string{e.OriginalMessage, e.Message, e.Message2, e.Error} {
			if m != "" {
				return m
			}
		}
	}
	s := strings.TrimSpace(string(b))
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}

// breaker is a consecutive-failure circuit breaker: closed, it lets every
// request through and counts failures in a row; at `failures` it opens and
// refuses requests for openFor; then it lets one request through (half
// open) and closes if it succeeds, or opens again.
type breaker struct {
	failures int
	openFor  time.Duration
	mu       sync.Mutex
	now      func() time.Time
	fails    int
	openTill time.Time
	probing  bool
}

func (b *breaker) allow() bool {
	if b.failures < 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.fails < b.failures {
		return true
	}
	if b.now().Before(b.openTill) || b.probing {
		return false
	}
	b.probing = true // half open: this request probes
	return true
}

func (b *breaker) done(ok bool) {
	if b.failures < 0 {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.fails = 0
		return
	}
	b.fails++
	if b.fails >= b.failures {
		b.openTill = b.now().Add(b.openFor)
	}
}

func (b *breaker) isOpen() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= 0 && b.fails >= b.failures
}

type metrics struct {
	requests *prometheus.CounterVec
	latency  prometheus.Observer
	open     prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer, endpoint string) *metrics {
	labels := prometheus.Labels{"endpoint": endpoint}
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pricestream_model_remote_requests_total", Help: "Predictions asked of a remote endpoint, by result (ok, invalid_input, error, circuit_open, fallback).", ConstLabels: labels,
	}, []string{"result"})
	latency := prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "pricestream_model_remote_latency_seconds", Help: "Time to a remote endpoint's answer, retries included.", ConstLabels: labels,
		Buckets: []float64{1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1, 2.5},
	})
	open := prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "pricestream_model_remote_breaker_open", Help: "1 while the circuit breaker of a remote endpoint is open.", ConstLabels: labels,
	})
	if reg != nil {
		reg.MustRegister(requests, latency, open)
	}
	return &metrics{requests: requests, latency: latency, open: open}
}
