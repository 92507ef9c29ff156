package api

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/pricestream/pricestream/internal/auth"
	"github.com/pricestream/pricestream/internal/stream"
)

// Defaults of the limits.
const (
	DefaultMaxConcurrentRequests = 256
	DefaultIngestRateLimit       = 1_000_000
	DefaultTableWriteRateLimit   = 100_000
	DefaultIngestMaxLagRecords   = 1_000_000
	DefaultLagCheckInterval      = time.Second
	// maxRateKeys bounds the per-key rate limiters kept in memory.
	maxRateKeys = 10_000
)

// Refusal reasons, the values of the reason label of
// pricestream_http_refused_total.
const (
	refusedConcurrency = "concurrency"
	refusedRate        = "rate"
	refusedLag         = "lag"
	refusedTableRate   = "table_rate"
)

// limits holds the server's admission control: a bound on requests served
// at once, token buckets per client of records put and of table items
// written, and the streams whose consumers are too far behind to take
// more. It is safe for concurrent use.
type limits struct {
	sem     chan struct{} // nil: no bound
	ingest  buckets       // records put per client
	writes  buckets       // table items written per client (the DynamoDB API)
	maxLag  int64
	refused *prometheus.CounterVec
	// lagged maps a stream name to why ingest into it is refused; the
	// lag watcher replaces the whole map.
	lagged atomic.Pointer[map[string]string]
}

// buckets are token buckets, one per client, of one rate and burst.
type buckets struct {
	rate  rate.Limit // per second per client; 0: no limit
	burst int

	mu struct {
		sync.Mutex
		keys map[string]*keyLimiter
	}
}

type keyLimiter struct {
	lim  *rate.Limiter
	last atomic.Int64 // unix nanos of the last use
}

func newLimits(cfg Config, reg prometheus.Registerer) *limits {
	l := &limits{maxLag: cfg.IngestMaxLagRecords}
	if cfg.MaxConcurrentRequests > 0 {
		l.sem = make(chan struct{}, cfg.MaxConcurrentRequests)
	}
	if cfg.IngestRateLimit > 0 {
		l.ingest.rate, l.ingest.burst = rate.Limit(cfg.IngestRateLimit), cfg.IngestRateBurst
	}
	if cfg.TableWriteRateLimit > 0 {
		l.writes.rate, l.writes.burst = rate.Limit(cfg.TableWriteRateLimit), cfg.TableWriteRateBurst
	}
	l.ingest.mu.keys = make(map[string]*keyLimiter)
	l.writes.mu.keys = make(map[string]*keyLimiter)
	l.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "pricestream_http_refused_total",
		Help: "Requests refused by admission control, by reason: concurrency (too many requests at once), rate (a client over its ingest rate), lag (a consumer of the stream too far behind), table_rate (a client over its rate of table items written through the DynamoDB API).",
	}, []string{"reason"})
	for _, r := range []string{refusedConcurrency, refusedRate, refusedLag, refusedTableRate} {
		l.refused.WithLabelValues(r)
	}
	reg.MustRegister(l.refused)
	return l
}

// acquire takes a request slot without waiting; false means the server is
// at its bound of concurrent requests.
func (l *limits) acquire() bool {
	if l.sem == nil {
		return true
	}
	select {
	case l.sem <- struct{}{}:
		return true
	default:
		l.refused.WithLabelValues(refusedConcurrency).Inc()
		return false
	}
}

func (l *limits) release() {
	if l.sem != nil {
		<-l.sem
	}
}

// unbounded reports whether a path is served outside the bound on
// concurrent requests: probes (the Open Inference Protocol's too),
// metrics and profiles must answer under overload.
func unbounded(path string) bool {
	return path == "/healthz" || path == "/readyz" || path == "/metrics" || strings.HasPrefix(path, "/v2/health/") ||
		strings.HasPrefix(path, "/debug/pprof/")
}

// writeOverloaded answers a request refused for the bound on concurrent
// requests, in the form of its protocol.
func writeOverloaded(w http.ResponseWriter, r *http.Request, limit int) {
	w.Header().Set("Retry-After", "1")
	msg := fmt.Sprintf("too many requests at once (limit %d); retry later", limit)
	if isAWSRequest(r) {
		typ := "ThrottlingException"
		if strings.HasPrefix(r.Header.Get("X-Amz-Target"), "Kinesis_") {
			typ = "ProvisionedThroughputExceededException"
		}
		WriteAWSError(w, typ, http.StatusBadRequest, msg)
		return
	}
	writeJSON(w, http.StatusTooManyRequests, errorBody{Error: errorDetail{Code: "overloaded", Message: msg}})
}

type clientAddrKey struct{}

// withClientAddr records the client's address (without port) in ctx: it
// names the client for rate limits when authentication is off.
func withClientAddr(ctx context.Context, remote string) context.Context {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	return context.WithValue(ctx, clientAddrKey{}, host)
}

// clientKey names the client of a request for its rate limit: its
// principal when authentication is on, else its address (which
// authenticate records only then).
func clientKey(ctx context.Context) string {
	if p := auth.FromContext(ctx); p != nil && !p.Unrestricted {
		return p.Name
	}
	addr, _ := ctx.Value(clientAddrKey{}).(string)
	return "addr:" + addr
}

// admitPut decides whether a put of n records into a stream may go on. Its
// error wraps stream.ErrThrottled (HTTP 429, ProvisionedThroughputExceeded
// on the Kinesis API) and says why.
func (l *limits) admitPut(ctx context.Context, streamName string, n int) error {
	if err := l.admitLag(streamName); err != nil {
		return err
	}
	return l.admitRate(ctx, n)
}

// admitLag refuses a put into a stream one of whose consumers is too far
// behind; it needs no body, so the native API calls it before reading one.
func (l *limits) admitLag(streamName string) error {
	if m := l.lagged.Load(); m != nil {
		if why, ok := (*m)[streamName]; ok {
			l.refused.WithLabelValues(refusedLag).Inc()
			return fmt.Errorf("%w: stream %q: %s; retry later", stream.ErrThrottled, streamName, why)
		}
	}
	return nil
}

// admitRate takes n records from the client's token bucket.
func (l *limits) admitRate(ctx context.Context, n int) error {
	if l.ingest.rate == 0 {
		return nil
	}
	key := clientKey(ctx)
	if !l.ingest.limiter(key).lim.AllowN(time.Now(), max(n, 1)) {
		l.refused.WithLabelValues(refusedRate).Inc()
		return fmt.Errorf("%w: %s is over its ingest rate limit of %d records/s (burst %d); retry later", stream.ErrThrottled, key, int(l.ingest.rate), l.ingest.burst)
	}
	return nil
}

// AdmitTableWrite decides whether a client (the principal of ctx, or its
// address with authentication off) may write n table items through the
// DynamoDB API or the native one now, taking them from its token bucket of
// http.table_write_rate_limit items a second. Its error wraps
// stream.ErrThrottled and says why; the DynamoDB API answers it with
// ProvisionedThroughputExceededException, which the AWS SDKs retry with
// backoff.
func (s *Server) AdmitTableWrite(ctx context.Context, n int) error {
	l := s.limits
	if l.writes.rate == 0 {
		return nil
	}
	key := clientKey(ctx)
	// A write larger than the burst takes the whole bucket rather than
	// never passing.
	if !l.writes.limiter(key).lim.AllowN(time.Now(), min(max(n, 1), l.writes.burst)) {
		l.refused.WithLabelValues(refusedTableRate).Inc()
		return fmt.Errorf("%w: %s is over its table write rate limit of %d items/s (burst %d); retry later", stream.ErrThrottled, key, int(l.writes.rate), l.writes.burst)
	}
	return nil
}

// limiter returns the token bucket of a client. The map is bounded: when
// full, buckets idle for a minute are dropped, and if that is not enough
// all are (their clients start again with a full bucket).
func (b *buckets) limiter(key string) *keyLimiter {
	now := time.Now()
	b.mu.Lock()
	defer b.mu.Unlock()
	kl := b.mu.keys[key]
	if kl == nil {
		if len(b.mu.keys) >= maxRateKeys {
			idle := now.Add(-time.Minute).UnixNano()
			for k, v := range b.mu.keys {
				if v.last.Load() < idle {
					delete(b.mu.keys, k)
				}
			}
			if len(b.mu.keys) >= maxRateKeys {
				clear(b.mu.keys)
			}
		}
		kl = &keyLimiter{lim: rate.NewLimiter(b.rate, b.burst)}
		b.mu.keys[key] = kl
	}
	kl.last.Store(now.UnixNano())
	return kl
}

// ConsumerLag is how far one consumer (an ETL job or a trigger) of a
// stream is behind, as the lag watcher reports it to [Server.SetLag].
type ConsumerLag struct {
	Stream   string // the stream consumed
	Consumer string // for example `job "click-features"` or `trigger "reprice"`
	Records  uint64 // records stored but not yet processed
}

// SetLag tells the server how far the consumers of streams are behind.
// Ingest into a stream one of whose consumers is more than
// http.ingest_max_lag_records behind is refused with 429 until a later
// SetLag shows it caught up. Each call replaces the previous report.
func (s *Server) SetLag(lags []ConsumerLag) {
	if s.limits.maxLag <= 0 {
		return
	}
	m := make(map[string]string)
	for _, lag := range lags {
		if int64(lag.Records) > s.limits.maxLag {
			if _, ok := m[lag.Stream]; !ok {
				m[lag.Stream] = fmt.Sprintf("%s is %d records behind (limit %d)", lag.Consumer, lag.Records, s.limits.maxLag)
			}
		}
	}
	s.limits.lagged.Store(&m)
}

// MaxLag returns the lag in records beyond which ingest is refused, or 0
// when lag does not limit ingest.
func (s *Server) MaxLag() int64 { return max(s.limits.maxLag, 0) }

// LagCheckInterval returns how often the consumers' lag should be checked.
func (s *Server) LagCheckInterval() time.Duration { return s.cfg.LagCheckInterval }

// limitBodyRead sets a read deadline on the connection for reading the
// request's body, and clears it when the body has been read to its end or
// closed: a slow sender gets an error (the handler answers 400) instead of
// holding a request slot. Requests without a body (a tail, a long poll)
// get no deadline.
func limitBodyRead(w http.ResponseWriter, r *http.Request, d time.Duration) {
	if r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0 {
		return
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(d)) != nil {
		return // the writer cannot set deadlines (tests, HTTP/2 without support)
	}
	r.Body = &deadlineBody{ReadCloser: r.Body, clear: func() { _ = rc.SetReadDeadline(time.Time{}) }}
}

// deadlineBody clears its connection's read deadline at the body's end.
type deadlineBody struct {
	io.ReadCloser
	clear   func()
	cleared bool
}

func (b *deadlineBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.cleared {
		b.cleared = true
		b.clear()
	}
	return n, err
}

func (b *deadlineBody) Close() error {
	if !b.cleared {
		b.cleared = true
		b.clear()
	}
	return b.ReadCloser.Close()
}
