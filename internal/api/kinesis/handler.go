package kinesis

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-json"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/stream"
)

// Target is the X-Amz-Target prefix of the Kinesis API.
const Target = "Kinesis_20131202"

// Config configures the handler. A zero field means its default.
type Config struct {
	// Region names the region in ARNs when a request is not signed for one.
	// Default "us-east-1".
	Region string `yaml:"region" json:"region"`
	// AccountID is the account in ARNs and messages. Default "000000000000".
	AccountID string `yaml:"account_id" json:"account_id"`
	// IteratorTTL is how long a shard iterator stays valid. Default 5m, as
	// in Kinesis.
	IteratorTTL time.Duration `yaml:"iterator_ttl" json:"iterator_ttl"`
	// MaxBodyBytes bounds a request body. Default 16 MiB.
	MaxBodyBytes int64 `yaml:"-" json:"-"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Region == "" {
		c.Region = "us-east-1"
	}
	if c.AccountID == "" {
		c.AccountID = "000000000000"
	}
	if c.IteratorTTL == 0 {
		c.IteratorTTL = 5 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 20
	}
	return c
}

// Deps are the handler's dependencies.
type Deps struct {
	Streams *stream.Manager
	// IteratorKey signs shard iterators; every process of an installation
	// must use the same key (engine.Secret gives one).
	IteratorKey []byte
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
	// Check, if set, runs on the records of every put after they are
	// decoded and before they are stored: the schema check of streams bound
	// to catalog tables (api.Server.CheckPut).
	Check PutCheck
}

// PutCheck checks the records of a put to a stream. It returns the entries
// to store and, if it set some records aside (to a dead-letter stream), a
// function from the stored entries' results to the results of all the
// put's records in order; an error refuses the whole put as a
// ValidationException. It is called concurrently.
type PutCheck func(ctx context.Context, stream string, entries []stream.Entry) ([]stream.Entry, func([]stream.Result) []stream.Result, error)

// Handler serves the Kinesis API.
type Handler struct {
	cfg     Config
	streams *stream.Manager
	check   PutCheck
	key     []byte
	logger  *slog.Logger
	ops     map[string]func(context.Context, *request) (any, *Error)
	now     func() time.Time

	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// New returns a handler; mount it with api.Server.HandleTarget(Target, h).
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Streams == nil {
		return nil, errors.New("kinesis: no stream manager")
	}
	if len(deps.IteratorKey) < 16 {
		return nil, errors.New("kinesis: iterator key must be at least 16 bytes")
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
	h := &Handler{
		cfg: cfg, streams: deps.Streams, check: deps.Check, key: deps.IteratorKey, logger: logger.With("component", "kinesis"), now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_kinesis_requests_total", Help: "Kinesis API requests by operation and error type (empty when it succeeded).",
		}, []string{"operation", "error"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_kinesis_request_seconds", Help: "Kinesis API request latency by operation.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
	}
	reg.MustRegister(h.requests, h.seconds)
	h.ops = map[string]func(context.Context, *request) (any, *Error){
		"CreateStream":          h.createStream,
		"DeleteStream":          h.deleteStream,
		"DescribeStream":        h.describeStream,
		"DescribeStreamSummary": h.describeStreamSummary,
		"ListStreams":           h.listStreams,
		"ListShards":            h.listShards,
		"PutRecord":             h.putRecord,
		"PutRecords":            h.putRecords,
		"GetShardIterator":      h.getShardIterator,
		"GetRecords":            h.getRecords,
	}
	return h, nil
}

// request is one decoded call.
type request struct {
	body   []byte
	region string
	raw    bool // the handler wrote the response itself
	w      http.ResponseWriter
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target := r.Header.Get("X-Amz-Target")
	op := strings.TrimPrefix(target, Target+".")
	fn := h.ops[op]
	if fn == nil || !strings.HasPrefix(target, Target+".") {
		h.writeError(w, errorf("UnknownOperationException", http.StatusBadRequest, "operation %q is not supported", target))
		h.requests.WithLabelValues("unknown", "UnknownOperationException").Inc()
		return
	}
	body, release, err := readBody(r, h.cfg.MaxBodyBytes)
	if err != nil {
		h.writeError(w, err)
		h.requests.WithLabelValues(op, err.Type).Inc()
		return
	}
	req := &request{body: body, region: regionOf(r, h.cfg.Region), w: w}
	out, kerr := fn(r.Context(), req)
	if kerr == nil || kerr.Type != "RequestCanceled" {
		release() // after fn returns no writer refers to the body, unless the client went away
	}
	if kerr != nil {
		if kerr.Status >= 500 {
			h.logger.Error("kinesis request failed", "operation", op, "err", kerr.Message)
		}
		h.writeError(w, kerr)
		h.requests.WithLabelValues(op, kerr.Type).Inc()
		return
	}
	if !req.raw {
		b, err := json.Marshal(out)
		if err != nil {
			h.writeError(w, errorf("InternalFailure", http.StatusInternalServerError, "encode response: %v", err))
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = w.Write(b)
	}
	h.requests.WithLabelValues(op, "").Inc()
	h.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (h *Handler) writeError(w http.ResponseWriter, e *Error) {
	if e.Type == "ProvisionedThroughputExceededException" {
		w.Header().Set("Retry-After", "1")
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	status := e.Status
	if status == 499 {
		status = http.StatusBadRequest
	}
	w.WriteHeader(status)
	b, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{e.Type, e.Message})
	_, _ = w.Write(b)
}

// regionOf reads the region from a SigV4 Authorization header's credential
// scope (Credential=AKID/DATE/REGION/SERVICE/aws4_request).
func regionOf(r *http.Request, def string) string {
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return def
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) >= 5 && parts[2] != "" {
		return parts[2]
	}
	return def
}

func readBody(r *http.Request, limit int64) ([]byte, func(), *Error) {
	body, release, err := readPooled(r, limit)
	if err != nil {
		return nil, nil, validation("%v", err)
	}
	return body, release, nil
}

func decode(req *request, v any) *Error {
	if len(req.body) == 0 {
		return errorf("SerializationException", http.StatusBadRequest, "empty request body")
	}
	if err := json.UnmarshalNoEscape(req.body, v); err != nil {
		return errorf("SerializationException", http.StatusBadRequest, "malformed JSON request: %v", err)
	}
	return nil
}

// streamRef is the StreamName/StreamARN pair of most requests.
type streamRef struct {
	StreamName string `json:"StreamName"`
	StreamARN  string `json:"StreamARN"`
}

func (h *Handler) streamName(ref streamRef) (string, *Error) {
	if ref.StreamName != "" {
		return ref.StreamName, nil
	}
	if ref.StreamARN != "" {
		// arn:aws:kinesis:REGION:ACCOUNT:stream/NAME
		parts := strings.SplitN(ref.StreamARN, ":", 6)
		if len(parts) == 6 && parts[0] == "arn" && parts[2] == "kinesis" && strings.HasPrefix(parts[5], "stream/") {
			return strings.TrimPrefix(parts[5], "stream/"), nil
		}
		return "", invalidArgument("StreamARN %q is not a Kinesis stream ARN", ref.StreamARN)
	}
	return "", validation("either StreamName or StreamARN must be provided")
}

func (h *Handler) arn(region, name string) string {
	return "arn:aws:kinesis:" + region + ":" + h.cfg.AccountID + ":stream/" + name
}

// ShardID returns the Kinesis shard id of a partition.
func ShardID(partition int) string { return fmt.Sprintf("shardId-%012d", partition) }

// ParseShardID returns the partition of a Kinesis shard id.
func ParseShardID(s string) (int, error) {
	rest, ok := strings.CutPrefix(s, "shardId-")
	if !ok || rest == "" || len(rest) > 12 {
		return 0, fmt.Errorf("shard id %q: want shardId-NNNNNNNNNNNN", s)
	}
	n, err := strconv.Atoi(rest)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("shard id %q: want shardId-NNNNNNNNNNNN", s)
	}
	return n, nil
}

// epoch is a time in the epoch seconds (with fraction) of AWS JSON.
type epoch float64

func toEpoch(t time.Time) epoch { return epoch(float64(t.UnixMilli()) / 1000) }

func (e epoch) time() time.Time {
	sec, frac := math.Modf(float64(e))
	return time.Unix(int64(sec), int64(frac*1e9))
}
