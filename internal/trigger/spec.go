package trigger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Spec is a trigger definition: the stand-in for a Lambda event source
// mapping. It is written in YAML or JSON (see docs/triggers.md); a zero
// field means its default.
type Spec struct {
	// Name is 1-64 of a-z, A-Z, 0-9, '_', '-'.
	Name string `json:"name" yaml:"name"`
	// Description is free text, at most 1024 characters.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Source is "stream:NAME" (a data stream) or "table:NAME" (a table's
	// change stream).
	Source string `json:"source" yaml:"source"`
	// StartingPosition is where a partition without a checkpoint starts:
	// trim_horizon (the default), latest or at_timestamp.
	StartingPosition string `json:"starting_position,omitempty" yaml:"starting_position,omitempty"`
	// StartingPositionTimestamp is the time for at_timestamp (RFC 3339).
	StartingPositionTimestamp *time.Time `json:"starting_position_timestamp,omitempty" yaml:"starting_position_timestamp,omitempty"`
	// Function is "go:NAME" (registered in the binary), "http:URL" (or the
	// URL itself) or "wasm:FILE".
	Function string `json:"function" yaml:"function"`
	// FunctionTimeout bounds one invocation (HTTP and wasm functions; Go
	// functions get it as their context deadline). Default 30s, at most 15m.
	FunctionTimeout Duration `json:"function_timeout,omitempty" yaml:"function_timeout,omitempty"`
	// BatchSize is the most records in one invocation: 1-10,000, default 100.
	BatchSize int `json:"batch_size,omitempty" yaml:"batch_size,omitempty"`
	// BatchingWindow is how long to gather records before invoking with
	// fewer than BatchSize: 0 (the default) delivers at once; at most 300s.
	BatchingWindow Duration `json:"batching_window,omitempty" yaml:"batching_window,omitempty"`
	// Filters are up to 5 patterns; a record is delivered when any matches
	// (all records when there are none). Records that match none are
	// counted as filtered and checkpointed past.
	Filters []Filter `json:"filters,omitempty" yaml:"filters,omitempty"`
	// Parallelism is the number of concurrent invocations per partition,
	// 1-10 (default 1); records of one key keep their order.
	Parallelism int `json:"parallelism,omitempty" yaml:"parallelism,omitempty"`
	// MaxRetryAttempts is how often a failed invocation is retried before
	// its records go to the destination: 0-10,000, default 3. Infinite
	// retries are refused on purpose: one poison record must not stall a
	// partition.
	MaxRetryAttempts *int `json:"max_retry_attempts,omitempty" yaml:"max_retry_attempts,omitempty"`
	// MaxRecordAge sends records older than this (since they arrived) to
	// the destination instead of the function: 0 (the default) means no
	// limit; else 1s-168h.
	MaxRecordAge Duration `json:"max_record_age,omitempty" yaml:"max_record_age,omitempty"`
	// BisectBatchOnError splits a failed batch in two and invokes the
	// halves, first before second, until the failing record is alone.
	BisectBatchOnError bool `json:"bisect_batch_on_error,omitempty" yaml:"bisect_batch_on_error,omitempty"`
	// ReportBatchItemFailures lets the function answer with
	// {"batchItemFailures": [{"itemIdentifier": SEQ}]}; the runner then
	// retries from the lowest failed record.
	ReportBatchItemFailures bool `json:"report_batch_item_failures,omitempty" yaml:"report_batch_item_failures,omitempty"`
	// Destination names a data stream ("stream:NAME" or NAME) that receives
	// the records that failed past the retry policy or were too old, each
	// with the error, attempts, source, partition and sequence number.
	Destination string `json:"destination,omitempty" yaml:"destination,omitempty"`
	// Enabled says whether the trigger runs; default true.
	Enabled *bool `json:"enabled,omitempty" yaml:"enabled,omitempty"`
}

// Filter is one filter pattern, in the syntax of Lambda's event filtering
// (EventBridge patterns). In YAML it is a mapping; a JSON string holding
// the pattern is accepted too, as Lambda's API takes it.
type Filter struct {
	Pattern json.RawMessage `json:"pattern" yaml:"pattern"`
}

// Limits and defaults of a spec, after Lambda's where it has one.
const (
	DefaultBatchSize        = 100
	MaxBatchSize            = 10_000
	MaxBatchingWindow       = 300 * time.Second
	MaxFilters              = 5
	MaxParallelism          = 10
	DefaultMaxRetryAttempts = 3
	MaxRetryAttemptsLimit   = 10_000
	MinRecordAge            = time.Second
	MaxRecordAgeLimit       = 7 * 24 * time.Hour
	DefaultFunctionTimeout  = 30 * time.Second
	MaxFunctionTimeout      = 15 * time.Minute
)

// Starting positions.
const (
	StartTrimHorizon = "trim_horizon"
	StartLatest      = "latest"
	StartAtTimestamp = "at_timestamp"
)

// Duration is a time.Duration written as a Go duration ("250ms", "5m")
// or a number of seconds.
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// UnmarshalJSON reads a Go duration string or a number of seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("duration %q: want a Go duration such as 500ms or 2m", s)
		}
		*d = Duration(v)
		return nil
	}
	var secs float64
	if err := json.Unmarshal(b, &secs); err != nil {
		return fmt.Errorf("duration %s: want a Go duration such as \"500ms\" or a number of seconds", b)
	}
	*d = Duration(secs * float64(time.Second))
	return nil
}

// MarshalYAML writes the duration as a Go duration string.
func (d Duration) MarshalYAML() (any, error) { return time.Duration(d).String(), nil }

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidateName checks a trigger name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: trigger name %q: want 1-64 characters of a-z, A-Z, 0-9, '_', '-'", ErrInvalidArgument, name)
	}
	return nil
}

// FunctionRef is a parsed Spec.Function.
type FunctionRef struct {
	Kind string // "go", "http" or "wasm"
	Name string // the Go function's name, the URL, or the wasm file
}

// String returns the canonical form: the URL for HTTP, KIND:NAME else.
func (f FunctionRef) String() string {
	if f.Kind == "http" {
		return f.Name
	}
	return f.Kind + ":" + f.Name
}

// ParseFunction parses "go:NAME", "http:URL", a bare http(s) URL or
// "wasm:FILE".
func ParseFunction(s string) (FunctionRef, error) {
	kind, rest, ok := strings.Cut(s, ":")
	if !ok {
		return FunctionRef{}, fmt.Errorf("want go:NAME, http:URL or wasm:FILE, got %q", s)
	}
	switch kind {
	case "go":
		if !nameRE.MatchString(rest) {
			return FunctionRef{}, fmt.Errorf("go function name %q: want 1-64 characters of a-z, A-Z, 0-9, '_', '-'", rest)
		}
		return FunctionRef{Kind: "go", Name: rest}, nil
	case "http", "https":
		u := s
		if kind == "http" && (strings.HasPrefix(rest, "http://") || strings.HasPrefix(rest, "https://")) {
			u = rest
		}
		pu, err := url.Parse(u)
		if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return FunctionRef{}, fmt.Errorf("http function URL %q: want http://HOST/PATH or https://HOST/PATH", u)
		}
		return FunctionRef{Kind: "http", Name: u}, nil
	case "wasm":
		if rest == "" || !strings.HasSuffix(rest, ".wasm") {
			return FunctionRef{}, fmt.Errorf("wasm function %q: want the path of a .wasm file", rest)
		}
		return FunctionRef{Kind: "wasm", Name: rest}, nil
	}
	return FunctionRef{}, fmt.Errorf("function kind %q: want go:NAME, http:URL or wasm:FILE", kind)
}

// SourceRef is a parsed Spec.Source.
type SourceRef struct {
	Kind string // "stream" or "table"
	Name string
}

// String returns KIND:NAME.
func (s SourceRef) String() string { return s.Kind + ":" + s.Name }

var sourceNameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,255}$`)

// ParseSource parses "stream:NAME" or "table:NAME".
func ParseSource(s string) (SourceRef, error) {
	kind, name, ok := strings.Cut(s, ":")
	if !ok || (kind != "stream" && kind != "table") {
		return SourceRef{}, fmt.Errorf("want stream:NAME or table:NAME, got %q", s)
	}
	if !sourceNameRE.MatchString(name) {
		return SourceRef{}, fmt.Errorf("%s name %q: want 1-255 characters of a-z, A-Z, 0-9, '_', '.', '-'", kind, name)
	}
	return SourceRef{Kind: kind, Name: name}, nil
}

// ParseSpec decodes a YAML or JSON spec (JSON is YAML) and validates it,
// reporting every problem at once. Unknown fields are errors. The result
// has its defaults filled in.
func ParseSpec(data []byte) (*Spec, error) {
	specs, err := ParseSpecs(data)
	if err != nil {
		return nil, err
	}
	if len(specs) != 1 {
		return nil, fmt.Errorf("%w: want one trigger, the document holds %d", ErrInvalidArgument, len(specs))
	}
	return specs[0], nil
}

// ParseSpecs decodes one or more specs: YAML documents separated by
// "---", or a JSON object. Each is validated; errors name the document.
func ParseSpecs(data []byte) ([]*Spec, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrInvalidArgument)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data), yaml.Strict())
	var out []*Spec
	var errs []error
	for i := 0; ; i++ {
		var raw yamlSpec
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		prefix := ""
		if i > 0 || len(out) > 0 {
			prefix = fmt.Sprintf("document %d: ", i+1)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: %s%s", ErrInvalidArgument, prefix, yaml.FormatError(err, false, false)))
			break
		}
		s, err := raw.spec()
		if err == nil {
			err = s.Validate()
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s%w", prefix, err))
			continue
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: no trigger in the document", ErrInvalidArgument)
	}
	return out, nil
}

// yamlSpec is a Spec as decoded: patterns and durations in any form.
type yamlSpec struct {
	Name                      string      `yaml:"name"`
	Description               string      `yaml:"description"`
	Source                    string      `yaml:"source"`
	StartingPosition          string      `yaml:"starting_position"`
	StartingPositionTimestamp string      `yaml:"starting_position_timestamp"`
	Function                  string      `yaml:"function"`
	FunctionTimeout           any         `yaml:"function_timeout"`
	BatchSize                 int         `yaml:"batch_size"`
	BatchingWindow            any         `yaml:"batching_window"`
	Filters                   []yamlFiler `yaml:"filters"`
	Parallelism               int         `yaml:"parallelism"`
	MaxRetryAttempts          *int        `yaml:"max_retry_attempts"`
	MaxRecordAge              any         `yaml:"max_record_age"`
	BisectBatchOnError        bool        `yaml:"bisect_batch_on_error"`
	ReportBatchItemFailures   bool        `yaml:"report_batch_item_failures"`
	Destination               string      `yaml:"destination"`
	Enabled                   *bool       `yaml:"enabled"`
}

type yamlFiler struct {
	Pattern any `yaml:"pattern"`
}

func yamlDuration(path string, v any, errs *[]error) Duration {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		d, err := time.ParseDuration(x)
		if err != nil {
			*errs = append(*errs, fmt.Errorf("%w: %s: %q is not a duration such as 500ms or 2m", ErrInvalidArgument, path, x))
		}
		return Duration(d)
	case uint64:
		return Duration(time.Duration(x) * time.Second)
	case int64:
		return Duration(time.Duration(x) * time.Second)
	case int:
		return Duration(time.Duration(x) * time.Second)
	case float64:
		return Duration(x * float64(time.Second))
	}
	*errs = append(*errs, fmt.Errorf("%w: %s: want a duration such as 500ms or a number of seconds", ErrInvalidArgument, path))
	return 0
}

func (y *yamlSpec) spec() (*Spec, error) {
	var errs []error
	s := &Spec{
		Name: y.Name, Description: y.Description, Source: y.Source, StartingPosition: y.StartingPosition,
		Function: y.Function, BatchSize: y.BatchSize, Parallelism: y.Parallelism, MaxRetryAttempts: y.MaxRetryAttempts,
		BisectBatchOnError: y.BisectBatchOnError, ReportBatchItemFailures: y.ReportBatchItemFailures,
		Destination: y.Destination, Enabled: y.Enabled,
	}
	s.FunctionTimeout = yamlDuration("function_timeout", y.FunctionTimeout, &errs)
	s.BatchingWindow = yamlDuration("batching_window", y.BatchingWindow, &errs)
	s.MaxRecordAge = yamlDuration("max_record_age", y.MaxRecordAge, &errs)
	if y.StartingPositionTimestamp != "" {
		t, err := time.Parse(time.RFC3339Nano, y.StartingPositionTimestamp)
		if err != nil {
			errs = append(errs, fmt.Errorf("%w: starting_position_timestamp: %q is not an RFC 3339 time", ErrInvalidArgument, y.StartingPositionTimestamp))
		} else {
			s.StartingPositionTimestamp = &t
		}
	}
	for i, f := range y.Filters {
		var raw json.RawMessage
		switch p := f.Pattern.(type) {
		case nil:
			errs = append(errs, fmt.Errorf("%w: filters[%d].pattern: missing", ErrInvalidArgument, i))
			continue
		case string:
			raw = json.RawMessage(p)
		default:
			b, err := json.Marshal(jsonable(p))
			if err != nil {
				errs = append(errs, fmt.Errorf("%w: filters[%d].pattern: %v", ErrInvalidArgument, i, err))
				continue
			}
			raw = b
		}
		s.Filters = append(s.Filters, Filter{Pattern: normalizeJSON(raw)})
	}
	return s, errors.Join(errs...)
}

// normalizeJSON returns b compact with object keys sorted, so that a
// pattern reads back as it was stored; b is returned as is when it is not
// JSON (validation reports that).
func normalizeJSON(b []byte) json.RawMessage {
	v, err := decodeJSON(b)
	if err != nil {
		return b
	}
	out, err := json.Marshal(v)
	if err != nil {
		return b
	}
	return out
}

// jsonable turns YAML maps with non-string keys into JSON-encodable ones.
func jsonable(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonable(e)
		}
		return x
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case []any:
		for i, e := range x {
			x[i] = jsonable(e)
		}
		return x
	}
	return v
}

// Validate fills in defaults and reports every problem at once, each
// naming its field. The errors wrap ErrInvalidArgument.
func (s *Spec) Validate() error {
	var errs []error
	bad := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidArgument, path, fmt.Sprintf(format, args...)))
	}
	if !nameRE.MatchString(s.Name) {
		bad("name", "want 1-64 characters of a-z, A-Z, 0-9, '_', '-', got %q", s.Name)
	}
	if len(s.Description) > 1024 {
		bad("description", "at most 1024 characters")
	}
	if s.Source == "" {
		bad("source", "missing: want stream:NAME or table:NAME")
	} else if _, err := ParseSource(s.Source); err != nil {
		bad("source", "%v", err)
	}
	switch strings.ToLower(s.StartingPosition) {
	case "":
		s.StartingPosition = StartTrimHorizon
	case StartTrimHorizon, StartLatest:
		s.StartingPosition = strings.ToLower(s.StartingPosition)
	case StartAtTimestamp:
		s.StartingPosition = StartAtTimestamp
		if s.StartingPositionTimestamp == nil {
			bad("starting_position_timestamp", "required with at_timestamp")
		}
	default:
		bad("starting_position", "want trim_horizon, latest or at_timestamp, got %q", s.StartingPosition)
	}
	if s.StartingPosition == StartAtTimestamp && strings.HasPrefix(s.Source, "table:") {
		bad("starting_position", "at_timestamp works with data streams only (as Lambda's AT_TIMESTAMP is Kinesis-only)")
	}
	if s.StartingPositionTimestamp != nil && s.StartingPosition != StartAtTimestamp {
		bad("starting_position_timestamp", "only with starting_position at_timestamp")
	}
	if s.Function == "" {
		bad("function", "missing: want go:NAME, http:URL or wasm:FILE")
	} else if ref, err := ParseFunction(s.Function); err != nil {
		bad("function", "%v", err)
	} else {
		s.Function = ref.String() // "http:URL" is stored as the URL
	}
	if s.FunctionTimeout == 0 {
		s.FunctionTimeout = Duration(DefaultFunctionTimeout)
	}
	if s.FunctionTimeout < 0 || s.FunctionTimeout.D() > MaxFunctionTimeout {
		bad("function_timeout", "must be 1ns-%s, got %s", MaxFunctionTimeout, s.FunctionTimeout.D())
	}
	if s.BatchSize == 0 {
		s.BatchSize = DefaultBatchSize
	}
	if s.BatchSize < 1 || s.BatchSize > MaxBatchSize {
		bad("batch_size", "must be 1-%d, got %d", MaxBatchSize, s.BatchSize)
	}
	if s.BatchingWindow < 0 || s.BatchingWindow.D() > MaxBatchingWindow {
		bad("batching_window", "must be 0-%s, got %s", MaxBatchingWindow, s.BatchingWindow.D())
	}
	if len(s.Filters) > MaxFilters {
		bad("filters", "at most %d patterns, got %d", MaxFilters, len(s.Filters))
	}
	for i, f := range s.Filters {
		if _, err := ParsePattern(f.Pattern); err != nil {
			bad(fmt.Sprintf("filters[%d].pattern", i), "%v", err)
		}
	}
	if s.Parallelism == 0 {
		s.Parallelism = 1
	}
	if s.Parallelism < 1 || s.Parallelism > MaxParallelism {
		bad("parallelism", "must be 1-%d, got %d", MaxParallelism, s.Parallelism)
	}
	if s.MaxRetryAttempts == nil {
		n := DefaultMaxRetryAttempts
		s.MaxRetryAttempts = &n
	}
	if n := *s.MaxRetryAttempts; n < 0 || n > MaxRetryAttemptsLimit {
		bad("max_retry_attempts", "must be 0-%d (infinite retries would let one poison record stall a partition), got %d", MaxRetryAttemptsLimit, n)
	}
	if a := s.MaxRecordAge.D(); a != 0 && (a < MinRecordAge || a > MaxRecordAgeLimit) {
		bad("max_record_age", "must be 0 (no limit) or %s-%s, got %s", MinRecordAge, MaxRecordAgeLimit, a)
	}
	if s.Destination != "" {
		d := strings.TrimPrefix(s.Destination, "stream:")
		if !sourceNameRE.MatchString(d) {
			bad("destination", "want a stream name or stream:NAME, got %q", s.Destination)
		} else {
			s.Destination = "stream:" + d
			if s.Destination == s.Source {
				bad("destination", "must not be the source")
			}
		}
	}
	if s.Enabled == nil {
		t := true
		s.Enabled = &t
	}
	return errors.Join(errs...)
}

// IsEnabled reports whether the trigger runs.
func (s *Spec) IsEnabled() bool { return s.Enabled == nil || *s.Enabled }

// Retries returns MaxRetryAttempts with its default.
func (s *Spec) Retries() int {
	if s.MaxRetryAttempts == nil {
		return DefaultMaxRetryAttempts
	}
	return *s.MaxRetryAttempts
}

// Clone returns a deep copy.
func (s *Spec) Clone() *Spec {
	c := *s
	c.Filters = append([]Filter(nil), s.Filters...)
	if s.MaxRetryAttempts != nil {
		n := *s.MaxRetryAttempts
		c.MaxRetryAttempts = &n
	}
	if s.Enabled != nil {
		e := *s.Enabled
		c.Enabled = &e
	}
	if s.StartingPositionTimestamp != nil {
		t := *s.StartingPositionTimestamp
		c.StartingPositionTimestamp = &t
	}
	return &c
}
