package dynamodb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/table"
)

// Target and StreamsTarget are the X-Amz-Target prefixes of the DynamoDB
// and DynamoDB Streams APIs.
const (
	Target        = "DynamoDB_20120810"
	StreamsTarget = "DynamoDBStreams_20120810"
)

// Config configures the handler. A zero field means its default.
type Config struct {
	// Region names the region in ARNs when a request is not signed for one.
	// Default "us-east-1".
	Region string `yaml:"region" json:"region"`
	// AccountID is the account in ARNs. Default "000000000000".
	AccountID string `yaml:"account_id" json:"account_id"`
	// IteratorTTL is how long a DynamoDB Streams shard iterator stays
	// valid. Default 15m, as in DynamoDB Streams.
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
		c.IteratorTTL = 15 * time.Minute
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 16 << 20
	}
	return c
}

// Deps are the handler's dependencies.
type Deps struct {
	Tables *table.Manager
	// IteratorKey signs shard iterators; every process of an installation
	// must use the same key (engine.Secret gives one).
	IteratorKey []byte
	// Admit, when set, is asked before each write request with the items
	// it writes (1 for PutItem, UpdateItem and DeleteItem; a batch's or
	// transaction's count): an error refuses the request with
	// ProvisionedThroughputExceededException, its message saying why, and
	// the AWS SDKs retry it with backoff. api.Server.AdmitTableWrite is
	// one, a token bucket per client.
	Admit      func(ctx context.Context, items int) error
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

type opFunc func(ctx context.Context, req *request) (any, *Error)

// Handler serves the DynamoDB and DynamoDB Streams APIs.
type Handler struct {
	cfg    Config
	tables *table.Manager
	key    []byte
	admit  func(ctx context.Context, items int) error
	logger *slog.Logger
	ops    map[string]opFunc
	now    func() time.Time

	requests *prometheus.CounterVec
	seconds  *prometheus.HistogramVec
}

// New returns a handler; mount it with api.Server.HandleTarget for both
// Target and StreamsTarget.
func New(cfg Config, deps Deps) (*Handler, error) {
	if deps.Tables == nil {
		return nil, errors.New("dynamodb: no table manager")
	}
	if len(deps.IteratorKey) < 16 {
		return nil, errors.New("dynamodb: iterator key must be at least 16 bytes")
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
		cfg: cfg, tables: deps.Tables, key: deps.IteratorKey, admit: deps.Admit, logger: logger.With("component", "dynamodb"), now: time.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "pricestream_dynamodb_requests_total", Help: "DynamoDB and DynamoDB Streams API requests by operation and error type (empty when it succeeded).",
		}, []string{"operation", "error"}),
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "pricestream_dynamodb_request_seconds", Help: "DynamoDB API request latency by operation.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"operation"}),
	}
	reg.MustRegister(h.requests, h.seconds)
	h.ops = map[string]opFunc{
		Target + ".CreateTable":             h.createTable,
		Target + ".DescribeTable":           h.describeTable,
		Target + ".ListTables":              h.listTables,
		Target + ".DeleteTable":             h.deleteTable,
		Target + ".UpdateTimeToLive":        h.updateTimeToLive,
		Target + ".DescribeTimeToLive":      h.describeTimeToLive,
		Target + ".PutItem":                 h.putItem,
		Target + ".GetItem":                 h.getItem,
		Target + ".UpdateItem":              h.updateItem,
		Target + ".DeleteItem":              h.deleteItem,
		Target + ".Query":                   h.query,
		Target + ".Scan":                    h.scan,
		Target + ".BatchGetItem":            h.batchGetItem,
		Target + ".BatchWriteItem":          h.batchWriteItem,
		Target + ".TransactWriteItems":      h.transactWriteItems,
		StreamsTarget + ".ListStreams":      h.listStreams,
		StreamsTarget + ".DescribeStream":   h.describeStream,
		StreamsTarget + ".GetShardIterator": h.getShardIterator,
		StreamsTarget + ".GetRecords":       h.getRecords,
	}
	return h, nil
}

// admitWrite asks Deps.Admit whether a write of n items may go on.
func (h *Handler) admitWrite(ctx context.Context, n int) *Error {
	if h.admit == nil {
		return nil
	}
	if err := h.admit(ctx, n); err != nil {
		return errorf("ProvisionedThroughputExceededException", http.StatusBadRequest, "%v", err)
	}
	return nil
}

// request is one decoded call.
type request struct {
	body   []byte
	region string
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	target := r.Header.Get("X-Amz-Target")
	_, op, _ := strings.Cut(target, ".")
	fn := h.ops[target]
	if fn == nil {
		h.writeError(w, errorf("UnknownOperationException", http.StatusBadRequest, "operation %q is not supported", target))
		h.requests.WithLabelValues("unknown", "UnknownOperationException").Inc()
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, h.cfg.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > h.cfg.MaxBodyBytes {
		e := validation("request body larger than %d bytes", h.cfg.MaxBodyBytes)
		if err != nil {
			e = errorf("SerializationException", http.StatusBadRequest, "read body: %v", err)
		}
		h.writeError(w, e)
		h.requests.WithLabelValues(op, e.Type).Inc()
		return
	}
	out, derr := fn(r.Context(), &request{body: body, region: regionOf(r, h.cfg.Region)})
	if derr != nil {
		if derr.Status >= 500 {
			h.logger.Error("dynamodb request failed", "operation", op, "err", derr.Message)
		}
		h.writeError(w, derr)
		h.requests.WithLabelValues(op, derr.Type).Inc()
		return
	}
	b, err := json.Marshal(out)
	if err != nil {
		h.writeError(w, errorf("InternalServerError", http.StatusInternalServerError, "encode response: %v", err))
		return
	}
	writeBody(w, http.StatusOK, b)
	h.requests.WithLabelValues(op, "").Inc()
	h.seconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

// writeBody sends a JSON 1.0 body with the CRC32 the AWS SDKs check.
func writeBody(w http.ResponseWriter, status int, b []byte) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(b)), 10))
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

func (h *Handler) writeError(w http.ResponseWriter, e *Error) {
	w.Header().Set("X-Amzn-ErrorType", e.Type)
	status := e.Status
	if status == 499 {
		status = http.StatusBadRequest
	}
	body := map[string]any{"__type": e.namespace() + "#" + e.Type, "message": e.Message}
	if e.Item != nil {
		body["Item"] = e.Item
	}
	if e.Reasons != nil {
		body["CancellationReasons"] = e.Reasons
	}
	b, _ := json.Marshal(body)
	writeBody(w, status, b)
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

// decode decodes a request body into v. Unknown parameters are ignored, as
// the service does for ones it does not need.
func decode(req *request, v any) *Error {
	if len(req.body) == 0 {
		return errorf("SerializationException", http.StatusBadRequest, "empty request body")
	}
	if err := json.Unmarshal(req.body, v); err != nil {
		return errorf("SerializationException", http.StatusBadRequest, "malformed JSON request: %v", err)
	}
	return nil
}

// epoch is a time in the epoch seconds (with fraction) of AWS JSON.
type epoch float64

func toEpoch(t time.Time) epoch { return epoch(float64(t.UnixMilli()) / 1000) }

func (h *Handler) tableARN(region, name string) string {
	return "arn:aws:dynamodb:" + region + ":" + h.cfg.AccountID + ":table/" + name
}

func fmtErr(format string, args ...any) string { return fmt.Sprintf(format, args...) }
