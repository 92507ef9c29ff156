package api

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/model"
	"github.com/pricestream/pricestream/internal/pricing"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
	"github.com/pricestream/pricestream/internal/trigger"
)

// Config configures the HTTP server. A zero field means its default.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:8080".
	Addr string `yaml:"addr" json:"addr"`
	// MaxBodyBytes bounds a request body. Default 16 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes" json:"max_body_bytes"`
	// ReadHeaderTimeout bounds reading request headers. Default 10s.
	ReadHeaderTimeout time.Duration `yaml:"read_header_timeout" json:"read_header_timeout"`
	// IdleTimeout closes idle keep-alive connections. Default 2m.
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout"`
	// BodyReadTimeout bounds reading a request's body, so that a client
	// sending it slowly cannot hold one of MaxConcurrentRequests for long.
	// Default 1m.
	BodyReadTimeout time.Duration `yaml:"body_read_timeout" json:"body_read_timeout"`
	// TLSCertFile and TLSKeyFile, when set, make the listener serve HTTPS
	// with this certificate; they are read again on SIGHUP.
	TLSCertFile string `yaml:"tls_cert_file" json:"tls_cert_file"`
	TLSKeyFile  string `yaml:"tls_key_file" json:"tls_key_file"`
	// Insecure lets serve listen on a non-loopback address with
	// authentication off.
	Insecure bool `yaml:"insecure" json:"insecure"`
	// MaxConcurrentRequests bounds the requests served at once (/healthz,
	// /readyz and /metrics aside); a request beyond it is refused at once
	// with 429 and Retry-After, not queued. Default 256; negative: no bound.
	MaxConcurrentRequests int `yaml:"max_concurrent_requests" json:"max_concurrent_requests"`
	// IngestRateLimit is the records per second each client may put (a
	// token bucket per API key or AWS access key id, or per client address
	// when authentication is off); beyond it puts get 429. Default
	// 1000000; negative: no limit.
	IngestRateLimit int `yaml:"ingest_rate_limit" json:"ingest_rate_limit"`
	// IngestRateBurst is the size of each client's bucket, in records.
	// Default: the rate limit, and at least MaxPutRecords.
	IngestRateBurst int `yaml:"ingest_rate_burst" json:"ingest_rate_burst"`
	// TableWriteRateLimit is the table items per second each client may
	// write through the DynamoDB API or the native one (a token bucket per
	// client, as for IngestRateLimit; a batch or transaction counts its
	// items); beyond it writes get ProvisionedThroughputExceededException
	// (which the AWS SDKs retry with backoff) or 429. Default 100000;
	// negative: no limit.
	TableWriteRateLimit int `yaml:"table_write_rate_limit" json:"table_write_rate_limit"`
	// TableWriteRateBurst is the size of each client's bucket, in items.
	// Default: the rate limit, and at least 100 (the items of the largest
	// transaction).
	TableWriteRateBurst int `yaml:"table_write_rate_burst" json:"table_write_rate_burst"`
	// IngestMaxLagRecords refuses ingest into a stream (429) while an ETL
	// job or a trigger reading it is more than this many records behind.
	// Default 1000000; negative: lag does not limit ingest.
	IngestMaxLagRecords int64 `yaml:"ingest_max_lag_records" json:"ingest_max_lag_records"`
	// LagCheckInterval is how often the consumers' lag is measured for
	// IngestMaxLagRecords. Default 1s.
	LagCheckInterval time.Duration `yaml:"lag_check_interval" json:"lag_check_interval"`
	// Pprof serves the Go runtime's profiles (heap, CPU, goroutines,
	// execution trace …) under /debug/pprof/, for `go tool pprof`. With
	// authentication on they need the admin scope. Default off.
	Pprof bool `yaml:"pprof" json:"pprof"`
}

// Defaults.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 16 << 20
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.ReadHeaderTimeout == 0 {
		c.ReadHeaderTimeout = 10 * time.Second
	}
	if c.IdleTimeout == 0 {
		c.IdleTimeout = 2 * time.Minute
	}
	if c.BodyReadTimeout == 0 {
		c.BodyReadTimeout = time.Minute
	}
	if c.MaxConcurrentRequests == 0 {
		c.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if c.IngestRateLimit == 0 {
		c.IngestRateLimit = DefaultIngestRateLimit
	}
	if c.IngestRateBurst == 0 {
		c.IngestRateBurst = max(c.IngestRateLimit, stream.MaxPutRecords)
	}
	if c.TableWriteRateLimit == 0 {
		c.TableWriteRateLimit = DefaultTableWriteRateLimit
	}
	if c.TableWriteRateBurst == 0 {
		c.TableWriteRateBurst = max(c.TableWriteRateLimit, table.MaxTransactItems)
	}
	if c.IngestMaxLagRecords == 0 {
		c.IngestMaxLagRecords = DefaultIngestMaxLagRecords
	}
	if c.LagCheckInterval == 0 {
		c.LagCheckInterval = DefaultLagCheckInterval
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			errs = append(errs, fmt.Errorf("%s.addr: %v", prefix, err))
		}
	}
	if c.MaxBodyBytes < 0 || (c.MaxBodyBytes > 0 && c.MaxBodyBytes < 6<<20) {
		errs = append(errs, fmt.Errorf("%s.max_body_bytes: must be at least 6 MiB (a 5 MiB put), got %d", prefix, c.MaxBodyBytes))
	}
	if (c.TLSCertFile == "") != (c.TLSKeyFile == "") {
		errs = append(errs, fmt.Errorf("%s.tls_cert_file, %s.tls_key_file: set both or neither", prefix, prefix))
	}
	if c.ReadHeaderTimeout < 0 || c.IdleTimeout < 0 || c.BodyReadTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s: timeouts must be > 0", prefix))
	}
	if c.IngestRateBurst < 0 || (c.IngestRateBurst > 0 && c.IngestRateBurst < stream.MaxPutRecords) {
		errs = append(errs, fmt.Errorf("%s.ingest_rate_burst: must be at least %d (the records of one put), got %d", prefix, stream.MaxPutRecords, c.IngestRateBurst))
	}
	if c.TableWriteRateBurst < 0 || (c.TableWriteRateBurst > 0 && c.TableWriteRateBurst < table.MaxTransactItems) {
		errs = append(errs, fmt.Errorf("%s.table_write_rate_burst: must be at least %d (the items of one transaction), got %d", prefix, table.MaxTransactItems, c.TableWriteRateBurst))
	}
	if c.LagCheckInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.lag_check_interval: must be > 0", prefix))
	}
	return errors.Join(errs...)
}

// Deps are the server's dependencies.
type Deps struct {
	Streams *stream.Manager
	// Catalog, if set, serves /v1/catalog and checks the puts of bound
	// streams.
	Catalog *catalog.Catalog
	// Tables serves /v1/tables when set.
	Tables *table.Manager
	// Triggers serves /v1/triggers when set.
	Triggers *trigger.Manager
	// Auth authenticates requests; nil leaves every request unrestricted.
	Auth *auth.Authenticator
	// Models and Endpoints serve /v1/models and /v1/endpoints; nil leaves
	// those routes out.
	Models *model.Registry
	// Pricing serves /v1/pricing (the kill switch and freezes) when set.
	Pricing    *pricing.Controls
	Endpoints  *model.Endpoints
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Gatherer serves /metrics; usually the same registry as Registerer.
	Gatherer prometheus.Gatherer
}

// ReadyCheck reports nil when a part is ready to serve.
type ReadyCheck func(ctx context.Context) error

// Server is the HTTP server.
type Server struct {
	cfg       Config
	streams   *stream.Manager
	catalog   *catalog.Catalog
	tables    *table.Manager
	triggers  *trigger.Manager
	logger    *slog.Logger
	mux       *routeMux
	auth      *auth.Authenticator
	tls       *certReloader
	srv       *http.Server
	ln        net.Listener
	metrics   *httpMetrics
	limits    *limits
	models    *model.Registry
	pricing   *pricing.Controls
	endpoints *model.Endpoints

	mu struct {
		sync.Mutex
		targets map[string]http.Handler
		ready   map[string]ReadyCheck
	}
}

// New builds the server and its routes. It does not listen until
// [Server.Listen].
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate("http"); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	s := &Server{
		cfg:       cfg,
		streams:   deps.Streams,
		catalog:   deps.Catalog,
		tables:    deps.Tables,
		triggers:  deps.Triggers,
		logger:    logger.With("component", "api"),
		auth:      deps.Auth,
		models:    deps.Models,
		pricing:   deps.Pricing,
		endpoints: deps.Endpoints,
		metrics:   newHTTPMetrics(reg),
	}
	s.limits = newLimits(cfg, reg)
	s.mux = &routeMux{ServeMux: http.NewServeMux(), s: s}
	if cfg.TLSCertFile != "" {
		var err error
		if s.tls, err = newCertReloader(cfg.TLSCertFile, cfg.TLSKeyFile); err != nil {
			return nil, err
		}
	}
	s.mu.targets = make(map[string]http.Handler)
	s.mu.ready = make(map[string]ReadyCheck)
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	s.mux.HandleFunc("GET /readyz", s.readyz)
	if deps.Gatherer != nil {
		s.mux.Handle("GET /metrics", promhttp.HandlerFor(deps.Gatherer, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn)}))
	}
	s.mux.HandleFunc("POST /{$}", s.awsTarget)
	if cfg.Pprof {
		s.routePprof()
	}
	if s.streams != nil {
		s.routeStreams()
	}
	if s.tables != nil {
		s.routeTables()
	}
	if s.triggers != nil {
		s.routeTriggers()
	}
	if s.auth != nil && s.auth.Keys != nil {
		s.routeAuth()
	}
	if s.models != nil {
		s.routeModels()
	}
	if s.pricing != nil {
		s.routePricing()
	}
	if s.endpoints != nil {
		s.routeEndpoints()
	}
	if s.catalog != nil {
		s.routeCatalog()
	}
	s.srv = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelDebug),
	}
	return s, nil
}

// Handle adds a route (a net/http ServeMux pattern such as "GET /v1/x").
func (s *Server) Handle(pattern string, h http.Handler) { s.mux.Handle(pattern, h) }

// HandleTarget routes POST / requests whose X-Amz-Target starts with
// prefix + "." (for example "Kinesis_20131202") to h.
func (s *Server) HandleTarget(prefix string, h http.Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.targets[prefix] = h
}

// RegisterOnShutdown registers f to be called when [Server.Shutdown]
// starts, so that long-lived responses (the dashboard's event stream)
// end and let the shutdown finish.
func (s *Server) RegisterOnShutdown(f func()) { s.srv.RegisterOnShutdown(f) }

// AddReadyCheck makes /readyz answer 503 while check fails.
func (s *Server) AddReadyCheck(name string, check ReadyCheck) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mu.ready[name] = check
}

// Handler returns the server's root handler, with panic recovery and
// metrics.
func (s *Server) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.logger.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", p, "stack", string(debug.Stack()))
				if !sw.wrote {
					WriteError(sw, r, s.logger, fmt.Errorf("internal error"))
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			s.metrics.observe(route, sw.status, time.Since(start))
		}()
		if !unbounded(r.URL.Path) {
			if !s.limits.acquire() {
				writeOverloaded(sw, r, s.cfg.MaxConcurrentRequests)
				return
			}
			defer s.limits.release()
		}
		limitBodyRead(sw, r, s.cfg.BodyReadTimeout)
		ar := s.authenticate(sw, r)
		if ar == nil {
			return
		}
		s.mux.ServeHTTP(sw, ar)
		r.Pattern = ar.Pattern
	})
}

func (s *Server) awsTarget(w http.ResponseWriter, r *http.Request) {
	target := r.Header.Get("X-Amz-Target")
	prefix, _, ok := strings.Cut(target, ".")
	s.mu.Lock()
	h := s.mu.targets[prefix]
	s.mu.Unlock()
	if !ok || h == nil {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.Header().Set("X-Amzn-ErrorType", "UnknownOperationException")
		w.WriteHeader(http.StatusBadRequest)
		msg := fmt.Sprintf("unknown X-Amz-Target %q", target)
		b, _ := jsonMarshal(map[string]string{"__type": "UnknownOperationException", "message": msg})
		_, _ = w.Write(b)
		return
	}
	h.ServeHTTP(w, r)
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	checks := make(map[string]ReadyCheck, len(s.mu.ready))
	for k, v := range s.mu.ready {
		checks[k] = v
	}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	failed := map[string]string{}
	for name, check := range checks {
		if err := check(ctx); err != nil {
			failed[name] = err.Error()
		}
	}
	if len(failed) > 0 {
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"ready": false, "failed": failed})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"ready": true})
}

// Listen binds the listen address. After it, [Server.Addr] is known.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("api: listen: %w", err)
	}
	if s.tls != nil {
		ln = tls.NewListener(ln, &tls.Config{GetCertificate: s.tls.get, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	return nil
}

// ReloadTLS reads the certificate and key files again (on SIGHUP); new
// connections use the new certificate. It does nothing without TLS.
func (s *Server) ReloadTLS() error {
	if s.tls == nil {
		return nil
	}
	return s.tls.load()
}

// TLS reports whether the server serves HTTPS.
func (s *Server) TLS() bool { return s.tls != nil }

// Authenticated reports whether requests must carry credentials.
func (s *Server) Authenticated() bool { return s.auth != nil }

// IsLoopback reports whether the listen address only accepts local clients.
func IsLoopback(addr string) bool { return isLoopback(addr) }

// Addr returns the bound address (after Listen).
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves on the listener bound by Listen until Shutdown; it returns
// nil after a clean Shutdown.
func (s *Server) Serve() error {
	s.logger.Info("http listening", "addr", s.ln.Addr().String())
	if err := s.srv.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api: serve: %w", err)
	}
	return nil
}

// Shutdown stops accepting connections and waits, until ctx is done, for
// in-flight requests to finish; then it closes the rest.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	return err
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the wrapper.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

type httpMetrics struct {
	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) *httpMetrics {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"route", "code"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"route"}),
	}
	reg.MustRegister(m.requests, m.seconds)
	return m
}

func (m *httpMetrics) observe(route string, status int, d time.Duration) {
	m.requests.WithLabelValues(route, statusText(status)).Inc()
	m.seconds.WithLabelValues(route).Observe(d.Seconds())
}

func statusText(code int) string {
	switch code {
	case 200:
		return "200"
	case 201:
		return "201"
	case 204:
		return "204"
	case 400:
		return "400"
	case 404:
		return "404"
	case 429:
		return "429"
	case 500:
		return "500"
	case 503:
		return "503"
	}
	return fmt.Sprint(code)
}
