package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/stream"
)

// Predictor predicts one row. The pricing function consumes it; an
// [*Endpoint] satisfies it in-process and a remote client (package
// model/remote) over HTTP.
//
// Predict is safe for concurrent use. It does not keep or modify
// f.Row after it returns. Its errors: an [*InputError] (test with
// errors.Is(err, ErrInvalidInput)) when the request itself is wrong (a row
// of the wrong length, an unknown variant), which retrying cannot fix;
// ErrNotFound when the endpoint does not exist; others when the model could
// not be reached or failed.
type Predictor interface {
	Predict(ctx context.Context, f Features) (Prediction, error)
}

var _ Predictor = (*Endpoint)(nil)

// Features is one row to predict and how to route it.
type Features struct {
	// Row holds the values in the endpoint's feature order; NaN marks a
	// missing value.
	Row []float64
	// Variant, when set, sends the row to that production variant
	// instead of choosing one by weight (SageMaker's TargetVariant).
	Variant string
	// InferenceID is recorded with the data capture, to join predictions
	// with what happened later.
	InferenceID string
}

// Prediction is the answer to one row.
type Prediction struct {
	// Value is the model's prediction.
	Value float64
	// Variant is the production variant that answered, and Model and
	// Version the model version it runs.
	Variant string
	Model   string
	Version int
	// Fallback is true when the value is a configured fallback answer,
	// given because the model could not be reached.
	Fallback bool
}

// EndpointConfig defines an endpoint: its production variants, an optional
// shadow variant and optional data capture.
type EndpointConfig struct {
	Name string `json:"name"`
	// Variants share production traffic by weight.
	Variants []VariantConfig `json:"variants"`
	// Shadow, when set, gets a copy of a share of the traffic; its answers
	// are recorded (metrics, data capture), never returned.
	Shadow *VariantConfig `json:"shadow,omitempty"`
	// Capture, when set, writes a share of requests and answers to a
	// stream.
	Capture *CaptureConfig `json:"capture,omitempty"`
	// Created and Updated are set by the endpoint store.
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

// VariantConfig is one variant of an endpoint: a model version and its
// share of the traffic.
type VariantConfig struct {
	// Name names the variant (default AllTraffic for the first production
	// variant, Variant2 ... for the others, Shadow for a shadow).
	Name string `json:"name"`
	// Model and Version pick the model version; Version 0 means the
	// newest Approved version at the time of the change (the newest of
	// any status when the change is forced). The stored definition always
	// holds the resolved number.
	Model   string `json:"model"`
	Version int    `json:"version"`
	// Weight is the variant's share of production traffic relative to the
	// others (default 1; 0 takes traffic only when asked for by name).
	// Ignored for a shadow.
	Weight *float64 `json:"weight,omitempty"`
	// SamplingPercentage is, for a shadow, the share of requests copied
	// to it (default 100).
	SamplingPercentage float64 `json:"sampling_percentage,omitempty"`
	// Tolerance is, for a shadow, the relative difference
	// (|a-b| > Tolerance·max(1,|a|)) above which its prediction counts as
	// a disagreement. Default 1e-6.
	Tolerance float64 `json:"tolerance,omitempty"`
}

// CaptureConfig turns on data capture.
type CaptureConfig struct {
	// Stream receives one JSON record per captured request.
	Stream string `json:"stream"`
	// SamplingPercentage is the share of requests captured (default 100).
	SamplingPercentage float64 `json:"sampling_percentage,omitempty"`
}

// Weight returns a pointer to w, for VariantConfig.Weight.
func Weight(w float64) *float64 { return &w }

func (v *VariantConfig) weight() float64 {
	if v.Weight == nil {
		return 1
	}
	return *v.Weight
}

// ParseModelRef reads "NAME" or "NAME:VERSION".
func ParseModelRef(s string) (name string, version int, err error) {
	name, ver, ok := strings.Cut(s, ":")
	if err := ValidateName("model", name); err != nil {
		return "", 0, err
	}
	if ok {
		if version, err = strconv.Atoi(ver); err != nil || version < 1 {
			return "", 0, fmt.Errorf("%w: model %q: version must be a number >= 1", ErrInvalidArgument, s)
		}
	}
	return name, version, nil
}

// normalize fills defaults and checks what can be checked without the
// registry, reporting every problem at once.
func (c *EndpointConfig) normalize() error {
	var errs []error
	if err := ValidateName("endpoint", c.Name); err != nil {
		errs = append(errs, err)
	}
	if len(c.Variants) == 0 {
		errs = append(errs, fmt.Errorf("%w: an endpoint needs at least one production variant", ErrInvalidArgument))
	}
	if len(c.Variants) > 10 {
		errs = append(errs, fmt.Errorf("%w: at most 10 production variants, got %d", ErrInvalidArgument, len(c.Variants)))
	}
	seen := map[string]bool{}
	var total float64
	check := func(path string, v *VariantConfig) {
		if err := ValidateName("variant", v.Name); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		if seen[v.Name] {
			errs = append(errs, fmt.Errorf("%w: %s: variant name %q is used twice", ErrInvalidArgument, path, v.Name))
		}
		seen[v.Name] = true
		if err := ValidateName("model", v.Model); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", path, err))
		}
		if v.Version < 0 {
			errs = append(errs, fmt.Errorf("%w: %s.version: must be >= 1 (or 0 for the newest Approved)", ErrInvalidArgument, path))
		}
	}
	for i := range c.Variants {
		v := &c.Variants[i]
		if v.Name == "" {
			v.Name = "AllTraffic"
			if i > 0 {
				v.Name = "Variant" + strconv.Itoa(i+1)
			}
		}
		path := fmt.Sprintf("variants[%d]", i)
		check(path, v)
		if w := v.weight(); w < 0 || math.IsNaN(w) || math.IsInf(w, 0) {
			errs = append(errs, fmt.Errorf("%w: %s.weight: must be >= 0, got %v", ErrInvalidArgument, path, w))
		} else {
			total += w
		}
		if v.SamplingPercentage != 0 || v.Tolerance != 0 {
			errs = append(errs, fmt.Errorf("%w: %s: sampling_percentage and tolerance apply to a shadow only", ErrInvalidArgument, path))
		}
	}
	if len(c.Variants) > 0 && total <= 0 {
		errs = append(errs, fmt.Errorf("%w: the production variants' weights add up to 0; at least one must take traffic", ErrInvalidArgument))
	}
	if s := c.Shadow; s != nil {
		if s.Name == "" {
			s.Name = "Shadow"
		}
		check("shadow", s)
		s.Weight = nil
		if s.SamplingPercentage == 0 {
			s.SamplingPercentage = 100
		}
		if s.SamplingPercentage < 0 || s.SamplingPercentage > 100 {
			errs = append(errs, fmt.Errorf("%w: shadow.sampling_percentage: must be in (0, 100], got %v", ErrInvalidArgument, s.SamplingPercentage))
		}
		if s.Tolerance == 0 {
			s.Tolerance = 1e-6
		}
		if s.Tolerance < 0 || math.IsNaN(s.Tolerance) {
			errs = append(errs, fmt.Errorf("%w: shadow.tolerance: must be >= 0", ErrInvalidArgument))
		}
	}
	if c.Capture != nil {
		if err := stream.ValidateName(c.Capture.Stream); err != nil {
			errs = append(errs, fmt.Errorf("capture.stream: %w", err))
		}
		if c.Capture.SamplingPercentage == 0 {
			c.Capture.SamplingPercentage = 100
		}
		if c.Capture.SamplingPercentage < 0 || c.Capture.SamplingPercentage > 100 {
			errs = append(errs, fmt.Errorf("%w: capture.sampling_percentage: must be in (0, 100], got %v", ErrInvalidArgument, c.Capture.SamplingPercentage))
		}
	}
	return errors.Join(errs...)
}

// Endpoint serves predictions for one named endpoint. It holds the
// endpoint's current routing table and swaps it atomically when the
// definition changes: a request uses the table it started with, so an
// update (new weights, new versions) never drops or mixes a request.
//
// After the endpoint is deleted, Predict returns ErrNotFound; if an
// endpoint of the same name is created again, the same Endpoint serves it.
//
// An Endpoint is safe for concurrent use.
type Endpoint struct {
	name  string
	async *asyncQueue // nil for a static endpoint
	route atomic.Pointer[Routing]
	fail  atomic.Pointer[string] // why the newest definition could not be applied
}

// Name returns the endpoint's name.
func (e *Endpoint) Name() string { return e.name }

// Features returns the endpoint's inputs in row order (the order of
// Features.Row), or nil if the endpoint was deleted. The slice is shared:
// the caller must not modify it. A caller that builds rows by name should
// rebuild its mapping when an update changes the features.
func (e *Endpoint) Features() []Feature {
	if r := e.route.Load(); r != nil {
		return r.features
	}
	return nil
}

// Routing returns the routing table requests use now; ErrNotFound if the
// endpoint was deleted.
func (e *Endpoint) Routing() (*Routing, error) {
	r := e.route.Load()
	if r == nil {
		return nil, fmt.Errorf("%w: endpoint %q", ErrNotFound, e.name)
	}
	return r, nil
}

// Predict predicts one row in-process: it picks a variant (by weight, or
// f.Variant), evaluates the row without copying it, and hands a copy to
// the shadow variant and the data capture only when they sample this
// request. See [Predictor] for the errors.
func (e *Endpoint) Predict(ctx context.Context, f Features) (Prediction, error) {
	r := e.route.Load()
	if r == nil {
		return Prediction{}, fmt.Errorf("%w: endpoint %q", ErrNotFound, e.name)
	}
	return r.Predict(ctx, f)
}

// PredictAlong predicts one row at many values of one feature in-process;
// see [Routing.PredictAlong].
func (e *Endpoint) PredictAlong(ctx context.Context, a Along, out []float64) (BatchResult, error) {
	r := e.route.Load()
	if r == nil {
		return BatchResult{}, fmt.Errorf("%w: endpoint %q", ErrNotFound, e.name)
	}
	return r.PredictAlong(ctx, a, out)
}

// Routing is an immutable routing table of an endpoint: its variants with
// their loaded models and cumulative weights, the shadow and the capture.
type Routing struct {
	endpoint *Endpoint
	def      EndpointConfig
	revision uint64
	features []Feature
	variants []*variant
	cum      []float64 // cumulative weights of variants
	shadow   *variant
	shadowP  float64 // probability that a request is copied to the shadow
	capture  *stream.Stream
	captureP float64
	unrouted prometheus.Counter // errors before a variant is chosen
}

type variant struct {
	name    string
	model   string
	version int
	rt      Runtime
	tol     float64
	m       variantMetrics
}

// Features returns the endpoint's inputs in row order. The slice is shared:
// the caller must not modify it.
func (r *Routing) Features() []Feature { return r.features }

// Config returns the definition the table was built from.
func (r *Routing) Config() EndpointConfig { return r.def }

// Revision returns the definition's revision in the endpoint store (0 for
// a static endpoint).
func (r *Routing) Revision() uint64 { return r.revision }

// pick chooses the variant of a request.
func (r *Routing) pick(name string) (*variant, error) {
	if name != "" {
		for _, v := range r.variants {
			if v.name == name {
				return v, nil
			}
		}
		names := make([]string, len(r.variants))
		for i, v := range r.variants {
			names[i] = v.name
		}
		if r.unrouted != nil {
			r.unrouted.Inc()
		}
		return nil, inputErrorf("%w: endpoint %s has no production variant %q (it has %s)", ErrUnknownVariant, r.endpoint.name, name, strings.Join(names, ", "))
	}
	if len(r.variants) == 1 {
		return r.variants[0], nil
	}
	x := rand.Float64() * r.cum[len(r.cum)-1]
	for i, c := range r.cum {
		if x < c {
			return r.variants[i], nil
		}
	}
	return r.variants[len(r.variants)-1], nil
}

// Predict predicts one row with this table; see [Endpoint.Predict].
func (r *Routing) Predict(_ context.Context, f Features) (Prediction, error) {
	v, err := r.pick(f.Variant)
	if err != nil {
		return Prediction{}, err
	}
	if len(f.Row) != len(r.features) {
		v.m.errors.Inc()
		return Prediction{}, &InputError{Err: fmt.Errorf("%w: row has %d values, endpoint %s expects %d", ErrFeatureCount, len(f.Row), r.endpoint.name, len(r.features))}
	}
	start := time.Now()
	p := v.rt.Predict(f.Row)
	v.m.latency.Observe(time.Since(start).Seconds())
	v.m.invocations.Inc()
	v.m.rows.Inc()
	if r.shadow != nil || r.capture != nil {
		r.after(v, [][]float64{f.Row}, []float64{p}, f.InferenceID, "")
	}
	return Prediction{Value: p, Variant: v.name, Model: v.model, Version: v.version}, nil
}

// Batch is a request of several rows.
type Batch struct {
	// Rows hold the values in the endpoint's feature order (see
	// [Routing.Features]); NaN marks a missing value.
	Rows [][]float64
	// Variant and InferenceID are as in [Features].
	Variant     string
	InferenceID string
	// ContentType is recorded with the data capture: the payload format
	// the rows came in.
	ContentType string
}

// BatchResult says who answered a batch.
type BatchResult struct {
	Variant string
	Model   string
	Version int
}

// PredictBatch writes the prediction of b.Rows[i] to out[i]. Every row
// must have len(Features()) values; otherwise nothing is predicted and
// the *InputError names the first bad row. It panics if out is shorter
// than b.Rows.
func (r *Routing) PredictBatch(_ context.Context, b Batch, out []float64) (BatchResult, error) {
	v, err := r.pick(b.Variant)
	if err != nil {
		return BatchResult{}, err
	}
	if len(b.Rows) == 0 {
		v.m.errors.Inc()
		return BatchResult{}, inputErrorf("model: no rows to predict")
	}
	n := len(r.features)
	for i, row := range b.Rows {
		if len(row) != n {
			v.m.errors.Inc()
			return BatchResult{}, &InputError{Err: fmt.Errorf("%w: row %d has %d values, endpoint %s expects %d", ErrFeatureCount, i+1, len(row), r.endpoint.name, n)}
		}
	}
	out = out[:len(b.Rows)]
	start := time.Now()
	v.rt.PredictBatch(b.Rows, out)
	v.m.latency.Observe(time.Since(start).Seconds())
	v.m.invocations.Inc()
	v.m.rows.Add(float64(len(b.Rows)))
	if r.shadow != nil || r.capture != nil {
		r.after(v, b.Rows, out, b.InferenceID, b.ContentType)
	}
	return BatchResult{Variant: v.name, Model: v.model, Version: v.version}, nil
}

// Along is a request for one row at many values of one of its features:
// a policy's candidate prices for one product.
type Along struct {
	// Row holds the values in the endpoint's feature order (see
	// [Routing.Features]); NaN marks a missing value.
	Row []float64
	// Feature is the index in Row of the feature that takes Values.
	Feature int
	// Values are the feature's values to predict at; NaN marks missing.
	Values []float64
	// Variant and InferenceID are as in [Features].
	Variant     string
	InferenceID string
}

// PredictAlong writes to out[i] the prediction for a.Row with its feature
// a.Feature set to a.Values[i], equal to what Predict answers for that
// row; one variant answers them all, in one invocation of len(a.Values)
// rows (the metrics count them as PredictBatch's). A tree model walks each
// tree once for all the values (see [AlongPredictor]). The shadow and the
// capture, when they sample the request, get its rows spelled out. Neither
// a.Row nor a.Values is kept or modified.
//
// A row of the wrong length, a feature index outside it or no values is an
// *InputError, and nothing is predicted. It panics if out is shorter than
// a.Values.
func (r *Routing) PredictAlong(_ context.Context, a Along, out []float64) (BatchResult, error) {
	v, err := r.pick(a.Variant)
	if err != nil {
		return BatchResult{}, err
	}
	switch n := len(r.features); {
	case len(a.Row) != n:
		v.m.errors.Inc()
		return BatchResult{}, &InputError{Err: fmt.Errorf("%w: row has %d values, endpoint %s expects %d", ErrFeatureCount, len(a.Row), r.endpoint.name, n)}
	case a.Feature < 0 || a.Feature >= n:
		v.m.errors.Inc()
		return BatchResult{}, inputErrorf("model: feature index %d is outside endpoint %s's %d features", a.Feature, r.endpoint.name, n)
	case len(a.Values) == 0:
		v.m.errors.Inc()
		return BatchResult{}, inputErrorf("model: no values to predict at")
	}
	out = out[:len(a.Values)]
	start := time.Now()
	PredictAlong(v.rt, a.Row, a.Feature, a.Values, out)
	v.m.latency.Observe(time.Since(start).Seconds())
	v.m.invocations.Inc()
	v.m.rows.Add(float64(len(a.Values)))
	if r.shadow != nil || r.capture != nil {
		r.afterAlong(v, a, out)
	}
	return BatchResult{Variant: v.name, Model: v.model, Version: v.version}, nil
}

// VariantNames returns the production variants' names.
func (r *Routing) VariantNames() []string {
	out := make([]string, len(r.variants))
	for i, v := range r.variants {
		out[i] = v.name
	}
	return out
}

// after hands a copy of a request to the async queue if the shadow or the
// capture samples it. It never blocks.
func (r *Routing) after(v *variant, rows [][]float64, out []float64, inferenceID, contentType string) {
	j := r.sample(v, inferenceID, contentType)
	if j == nil {
		return
	}
	j.rows, j.out = cloneRows(rows), slices.Clone(out)
	r.endpoint.async.submit(j)
}

// afterAlong is after for a PredictAlong request: its rows are spelled
// out only when sampled.
func (r *Routing) afterAlong(v *variant, a Along, out []float64) {
	j := r.sample(v, a.InferenceID, "")
	if j == nil {
		return
	}
	n := len(a.Row)
	flat := make([]float64, 0, n*len(a.Values))
	j.rows = make([][]float64, len(a.Values))
	for i, x := range a.Values {
		flat = append(flat, a.Row...)
		flat[len(flat)-n+a.Feature] = x
		j.rows[i] = flat[len(flat)-n : len(flat) : len(flat)]
	}
	j.out = slices.Clone(out)
	r.endpoint.async.submit(j)
}

// sample returns the job of a request that the shadow or the capture
// samples, without its rows and predictions; nil when neither does.
func (r *Routing) sample(v *variant, inferenceID, contentType string) *asyncJob {
	if r.endpoint.async == nil {
		return nil
	}
	shadow := r.shadow != nil && (r.shadowP >= 1 || rand.Float64() < r.shadowP)
	capture := r.capture != nil && (r.captureP >= 1 || rand.Float64() < r.captureP)
	if !shadow && !capture {
		return nil
	}
	return &asyncJob{routing: r, variant: v, shadow: shadow, capture: capture, inferenceID: inferenceID, contentType: contentType, time: time.Now()}
}

func cloneRows(rows [][]float64) [][]float64 {
	n := 0
	for _, r := range rows {
		n += len(r)
	}
	flat := make([]float64, 0, n)
	out := make([][]float64, len(rows))
	for i, r := range rows {
		flat = append(flat, r...)
		out[i] = flat[len(flat)-len(r) : len(flat) : len(flat)]
	}
	return out
}

// NewStaticEndpoint returns an endpoint with one production variant
// (AllTraffic) that serves rt, outside any endpoint store: no shadow, no
// capture, no metrics. `pricestream model serve` serves such endpoints.
// Empty features mean the names rt carries, else f0, f1 ...
//
// The name may be any non-empty string without '/' (a model file's name).
func NewStaticEndpoint(name string, rt Runtime, features []Feature) (*Endpoint, error) {
	if name == "" || strings.ContainsRune(name, '/') {
		return nil, fmt.Errorf("%w: endpoint name %q: want a non-empty name without '/'", ErrInvalidArgument, name)
	}
	if features == nil {
		var err error
		if features, err = resolveFeatures(rt, Registration{}); err != nil {
			return nil, err
		}
	}
	if len(features) != rt.NumFeatures() {
		return nil, fmt.Errorf("%w: %d features for a model of %d", ErrInvalidArgument, len(features), rt.NumFeatures())
	}
	e := &Endpoint{name: name}
	m := newMetrics(nil)
	v := &variant{name: "AllTraffic", model: name, rt: rt, m: m.variant(name, "AllTraffic")}
	e.route.Store(&Routing{
		endpoint: e, features: features, variants: []*variant{v}, cum: []float64{1},
		def: EndpointConfig{Name: name, Variants: []VariantConfig{{Name: "AllTraffic", Model: name}}},
	})
	return e, nil
}
