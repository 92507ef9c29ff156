package model

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/stream"
)

// EndpointInfo describes an endpoint: its definition and whether this
// process serves it.
type EndpointInfo struct {
	EndpointConfig
	// Status is InService when this process serves the newest definition,
	// Updating while it loads it, Failed when it could not (the previous
	// definition, if any, keeps serving; FailureReason says why).
	Status        string `json:"status"`
	FailureReason string `json:"failure_reason,omitempty"`
	// Features are the endpoint's inputs in row order.
	Features []Feature `json:"features,omitempty"`
	// Revision is the definition's revision in the endpoint store.
	Revision uint64 `json:"revision"`
}

// Endpoint statuses.
const (
	StatusInService = "InService"
	StatusUpdating  = "Updating"
	StatusFailed    = "Failed"
)

// Endpoints keeps the endpoint definitions in the engine (a key-value
// bucket) and serves them: every process watches the bucket and swaps an
// endpoint's routing table when its definition changes, so a change made
// through any process takes effect in all of them without a restart.
//
// NewEndpoints starts two goroutines, the watcher and the async worker
// (shadow variants, data capture); [Endpoints.Close] stops them.
type Endpoints struct {
	cfg     Config
	eng     *engine.Engine
	reg     *Registry
	kv      jetstream.KeyValue
	streams *stream.Manager
	logger  *slog.Logger
	metrics *metrics
	async   *asyncQueue

	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu struct {
		sync.Mutex
		closed    bool
		endpoints map[string]*Endpoint
		revisions map[string]uint64 // revision each endpoint's table was built from
		changed   chan struct{}     // closed and replaced whenever the watcher applies a change
	}
}

// NewEndpoints opens the endpoint store, loads every endpoint defined in it
// and starts following changes; it returns when the endpoints defined now
// are served (or have failed to load, which is logged and shown in their
// status).
func NewEndpoints(ctx context.Context, cfg Config, reg *Registry, deps Deps) (*Endpoints, error) {
	if reg == nil {
		return nil, errors.New("model: no registry")
	}
	if err := cfg.Validate("models"); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	kv, err := deps.Engine.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      deps.Engine.Name("kv", "endpoints"),
		Description: "pricestream: endpoint definitions",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("model: endpoint bucket: %w", err)
	}
	logger := deps.logger().With("component", "model")
	m := newMetrics(deps.Registerer)
	s := &Endpoints{cfg: cfg, eng: deps.Engine, reg: reg, kv: kv, streams: deps.Streams, logger: logger, metrics: m, async: newAsyncQueue(cfg.AsyncQueue, m, logger)}
	s.mu.endpoints = make(map[string]*Endpoint)
	s.mu.revisions = make(map[string]uint64)
	s.mu.changed = make(chan struct{})

	wctx, cancel := context.WithCancel(context.Background())
	w, err := kv.WatchAll(wctx)
	if err != nil {
		cancel()
		return nil, fmt.Errorf("model: watch endpoints: %w", err)
	}
	// Apply the definitions that exist now before returning.
	for e := range w.Updates() {
		if e == nil {
			break
		}
		s.apply(wctx, e)
	}
	s.cancel = cancel
	s.async.start()
	s.wg.Go(func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(wctx, pprof.Labels("component", "model", "goroutine", "endpoint-watcher")))
		defer func() { _ = w.Stop() }()
		for {
			select {
			case <-wctx.Done():
				return
			case e, ok := <-w.Updates():
				if !ok {
					return
				}
				if e != nil {
					s.apply(wctx, e)
				}
			}
		}
	})
	return s, nil
}

// Close stops following changes, finishes the queued shadow and capture
// work and waits for both goroutines. It is idempotent; afterwards the
// endpoints keep answering with the tables they had, and changes return
// ErrClosed.
func (s *Endpoints) Close() error {
	s.mu.Lock()
	if s.mu.closed {
		s.mu.Unlock()
		return nil
	}
	s.mu.closed = true
	s.mu.Unlock()
	s.cancel()
	s.wg.Wait()
	s.async.stop()
	return nil
}

// apply builds and installs the routing table of one changed definition.
func (s *Endpoints) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	name := e.Key()
	if op := e.Operation(); op == jetstream.KeyValueDelete || op == jetstream.KeyValuePurge {
		// The Endpoint stays, unrouted: a caller holding it gets
		// ErrNotFound, and serves again if the endpoint is created anew.
		s.mu.Lock()
		ep := s.mu.endpoints[name]
		if ep != nil {
			ep.route.Store(nil)
			ep.fail.Store(nil)
		}
		delete(s.mu.revisions, name)
		s.notifyLocked()
		s.mu.Unlock()
		if ep != nil {
			s.metrics.forget(name)
			s.logger.Info("endpoint deleted", "endpoint", name)
		}
		return
	}
	var def EndpointConfig
	var r *Routing
	err := json.Unmarshal(e.Value(), &def)
	s.mu.Lock()
	ep := s.mu.endpoints[name]
	if ep == nil {
		ep = &Endpoint{name: name, async: s.async}
		s.mu.endpoints[name] = ep
	}
	s.mu.Unlock()
	if err == nil {
		lctx, cancel := context.WithTimeout(ctx, s.cfg.LoadTimeout)
		r, err = s.build(lctx, ep, def, e.Revision())
		cancel()
	}
	if err != nil {
		msg := err.Error()
		ep.fail.Store(&msg)
		s.logger.Error("endpoint definition not applied; the previous one, if any, keeps serving", "endpoint", name, "revision", e.Revision(), "err", err)
	} else {
		ep.route.Store(r)
		ep.fail.Store(nil)
		s.logger.Info("endpoint serving", "endpoint", name, "revision", e.Revision(), "variants", strings.Join(r.VariantNames(), ","))
	}
	s.mu.Lock()
	s.mu.revisions[name] = e.Revision()
	s.notifyLocked()
	s.mu.Unlock()
}

func (s *Endpoints) notifyLocked() {
	close(s.mu.changed)
	s.mu.changed = make(chan struct{})
}

// build loads the models of a definition into a routing table.
func (s *Endpoints) build(ctx context.Context, ep *Endpoint, def EndpointConfig, rev uint64) (*Routing, error) {
	r := &Routing{endpoint: ep, def: def, revision: rev, unrouted: s.metrics.errors.WithLabelValues(def.Name, "")}
	load := func(vc VariantConfig) (*variant, []Feature, error) {
		rt, ver, err := s.reg.Runtime(ctx, vc.Model, vc.Version)
		if err != nil {
			return nil, nil, fmt.Errorf("variant %s: %w", vc.Name, err)
		}
		return &variant{name: vc.Name, model: ver.Model, version: ver.Version, rt: rt, tol: vc.Tolerance, m: s.metrics.variant(def.Name, vc.Name)}, ver.Features, nil
	}
	var total float64
	for i, vc := range def.Variants {
		v, features, err := load(vc)
		if err != nil {
			return nil, err
		}
		if i == 0 {
			r.features = features
		} else if err := sameInputs(r.features, features); err != nil {
			return nil, fmt.Errorf("variant %s: %w", vc.Name, err)
		}
		total += vc.weight()
		r.variants = append(r.variants, v)
		r.cum = append(r.cum, total)
	}
	if def.Shadow != nil {
		v, features, err := load(*def.Shadow)
		if err != nil {
			return nil, err
		}
		if err := sameInputs(r.features, features); err != nil {
			return nil, fmt.Errorf("shadow %s: %w", def.Shadow.Name, err)
		}
		r.shadow, r.shadowP = v, def.Shadow.SamplingPercentage/100
	}
	if def.Capture != nil {
		// Capture is a side channel: without its stream the endpoint still
		// serves, and says why it does not capture.
		var st *stream.Stream
		err := errors.New("this process has no streams")
		if s.streams != nil {
			st, err = s.streams.Open(ctx, def.Capture.Stream)
		}
		if err != nil {
			s.logger.Warn("endpoint serves without data capture", "endpoint", def.Name, "stream", def.Capture.Stream, "err", err)
		} else {
			r.capture, r.captureP = st, def.Capture.SamplingPercentage/100
		}
	}
	return r, nil
}

// sameInputs checks that a variant reads rows as the endpoint does: one
// endpoint has one input schema, so that every variant (and the shadow)
// can answer every request.
func sameInputs(want, got []Feature) error {
	if len(want) != len(got) {
		return fmt.Errorf("%w: its model has %d features, the endpoint's first variant %d (all variants of an endpoint read the same rows)", ErrInvalidArgument, len(got), len(want))
	}
	for i := range want {
		if want[i].Name != got[i].Name {
			return fmt.Errorf("%w: its model's feature %d is %q, the endpoint's first variant's is %q (all variants of an endpoint read the same rows)", ErrInvalidArgument, i, got[i].Name, want[i].Name)
		}
	}
	return nil
}

// Endpoint returns the served endpoint of that name; ErrNotFound if this
// process serves none.
func (s *Endpoints) Endpoint(name string) (*Endpoint, error) {
	s.mu.Lock()
	ep := s.mu.endpoints[name]
	s.mu.Unlock()
	if ep == nil || ep.route.Load() == nil {
		return nil, fmt.Errorf("%w: endpoint %q", ErrNotFound, name)
	}
	return ep, nil
}

// resolve checks a definition against the registry: it fills in the
// newest Approved version where none is given, refuses versions that are
// not Approved for production traffic unless force (a shadow may run any
// version that is not Rejected), checks that every variant reads the same
// rows and that the capture stream exists.
func (s *Endpoints) resolve(ctx context.Context, def *EndpointConfig, force bool) error {
	if err := def.normalize(); err != nil {
		return err
	}
	var features []Feature
	check := func(path string, vc *VariantConfig, production bool) error {
		var v *Version
		var err error
		if vc.Version == 0 && !force {
			v, err = s.reg.LatestApproved(ctx, vc.Model)
		} else {
			v, err = s.reg.Version(ctx, vc.Model, vc.Version)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		vc.Version = v.Version
		if !force && production && v.Status != Approved {
			return fmt.Errorf("%w: %s: %s is %s; only Approved versions take production traffic (approve it, or force the deployment)", ErrNotApproved, path, v.Ref(), v.Status)
		}
		if !force && v.Status == Rejected {
			return fmt.Errorf("%w: %s: %s is Rejected (force the deployment to run it anyway)", ErrNotApproved, path, v.Ref())
		}
		if features == nil {
			features = v.Features
		} else if err := sameInputs(features, v.Features); err != nil {
			return fmt.Errorf("%s (%s): %w", path, v.Ref(), err)
		}
		// Load it now, so that a definition that cannot serve is refused
		// here rather than failing in every process.
		if _, _, err := s.reg.Runtime(ctx, v.Model, v.Version); err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		return nil
	}
	for i := range def.Variants {
		if err := check(fmt.Sprintf("variants[%d]", i), &def.Variants[i], true); err != nil {
			return err
		}
	}
	if def.Shadow != nil {
		if err := check("shadow", def.Shadow, false); err != nil {
			return err
		}
	}
	if def.Capture != nil {
		if s.streams == nil {
			return fmt.Errorf("%w: capture: data capture needs streams", ErrInvalidArgument)
		}
		if _, err := s.streams.Open(ctx, def.Capture.Stream); err != nil {
			if errors.Is(err, stream.ErrNotFound) {
				return fmt.Errorf("%w: capture.stream: stream %q does not exist (create it first)", ErrInvalidArgument, def.Capture.Stream)
			}
			return fmt.Errorf("capture.stream: %w", err)
		}
	}
	return nil
}

func (s *Endpoints) checkOpen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.mu.closed {
		return ErrClosed
	}
	return nil
}

// Create defines a new endpoint and returns when this process serves it.
// It returns ErrExists if one of that name exists, ErrNotApproved (see
// [Endpoints.resolve]) unless force, ErrNotFound for an unknown model
// version, ErrInvalidArgument for a bad definition.
func (s *Endpoints) Create(ctx context.Context, def EndpointConfig, force bool) (*EndpointInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.resolve(ctx, &def, force); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	def.Created, def.Updated = now, now
	b, _ := json.Marshal(def)
	rev, err := s.kv.Create(ctx, def.Name, b)
	if errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("%w: endpoint %q", ErrExists, def.Name)
	}
	if err != nil {
		return nil, fmt.Errorf("model: store endpoint: %w", err)
	}
	if err := s.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("model: store endpoint: %w", err)
	}
	s.logger.Info("endpoint created", "endpoint", def.Name, "revision", rev)
	return s.waitServed(ctx, def.Name, rev)
}

// Update replaces an endpoint's definition (variants, weights, versions,
// shadow, capture) and returns when this process serves it; requests in
// flight finish on the old table, new ones take the new. Errors as for
// Create, and ErrNotFound if the endpoint does not exist.
func (s *Endpoints) Update(ctx context.Context, def EndpointConfig, force bool) (*EndpointInfo, error) {
	if err := s.checkOpen(); err != nil {
		return nil, err
	}
	if err := s.resolve(ctx, &def, force); err != nil {
		return nil, err
	}
	for range 10 {
		cur, rev, err := s.get(ctx, def.Name)
		if err != nil {
			return nil, err
		}
		def.Created, def.Updated = cur.Created, time.Now().UTC()
		b, _ := json.Marshal(def)
		nrev, err := s.kv.Update(ctx, def.Name, b, rev)
		if errors.Is(err, jetstream.ErrKeyExists) {
			continue // a concurrent change; ours replaces it
		}
		if err != nil {
			return nil, fmt.Errorf("model: store endpoint: %w", err)
		}
		if err := s.eng.SyncAll(ctx); err != nil {
			return nil, fmt.Errorf("model: store endpoint: %w", err)
		}
		s.logger.Info("endpoint updated", "endpoint", def.Name, "revision", nrev)
		return s.waitServed(ctx, def.Name, nrev)
	}
	return nil, fmt.Errorf("model: endpoint %s: too many concurrent updates", def.Name)
}

// waitServed waits until the watcher has applied revision rev of an
// endpoint (or a later one).
func (s *Endpoints) waitServed(ctx context.Context, name string, rev uint64) (*EndpointInfo, error) {
	for {
		s.mu.Lock()
		applied := s.mu.revisions[name] >= rev
		ch := s.mu.changed
		s.mu.Unlock()
		if applied {
			return s.Describe(ctx, name)
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, fmt.Errorf("model: endpoint %s stored but not yet served: %w", name, ctx.Err())
		}
	}
}

func (s *Endpoints) get(ctx context.Context, name string) (*EndpointConfig, uint64, error) {
	if err := ValidateName("endpoint", name); err != nil {
		return nil, 0, err
	}
	e, err := s.kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: endpoint %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("model: read endpoint: %w", err)
	}
	var def EndpointConfig
	if err := json.Unmarshal(e.Value(), &def); err != nil {
		return nil, 0, fmt.Errorf("model: endpoint %s is corrupt: %w", name, err)
	}
	return &def, e.Revision(), nil
}

// Describe returns an endpoint's definition and its status in this
// process.
func (s *Endpoints) Describe(ctx context.Context, name string) (*EndpointInfo, error) {
	def, rev, err := s.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return s.info(def, rev), nil
}

func (s *Endpoints) info(def *EndpointConfig, rev uint64) *EndpointInfo {
	info := &EndpointInfo{EndpointConfig: *def, Revision: rev, Status: StatusUpdating}
	s.mu.Lock()
	ep := s.mu.endpoints[def.Name]
	applied := s.mu.revisions[def.Name]
	s.mu.Unlock()
	if ep == nil {
		return info
	}
	if r := ep.route.Load(); r != nil {
		info.Features = r.features
		if r.revision == rev {
			info.Status = StatusInService
		}
	}
	if f := ep.fail.Load(); f != nil && applied >= rev {
		info.Status, info.FailureReason = StatusFailed, *f
	}
	return info
}

// List describes every endpoint, by name.
func (s *Endpoints) List(ctx context.Context) ([]*EndpointInfo, error) {
	lister, err := s.kv.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("model: list endpoints: %w", err)
	}
	var names []string
	for k := range lister.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]*EndpointInfo, 0, len(names))
	for _, n := range names {
		info, err := s.Describe(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Delete deletes an endpoint and returns when this process no longer
// serves it.
func (s *Endpoints) Delete(ctx context.Context, name string) error {
	if err := s.checkOpen(); err != nil {
		return err
	}
	if _, _, err := s.get(ctx, name); err != nil {
		return err
	}
	if err := s.kv.Delete(ctx, name); err != nil {
		return fmt.Errorf("model: delete endpoint: %w", err)
	}
	if err := s.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("model: delete endpoint: %w", err)
	}
	for {
		s.mu.Lock()
		ep := s.mu.endpoints[name]
		ch := s.mu.changed
		s.mu.Unlock()
		if ep == nil || ep.route.Load() == nil {
			s.logger.Info("endpoint deleted", "endpoint", name)
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("model: endpoint %s deleted but still served: %w", name, ctx.Err())
		}
	}
}

// Names returns the names of the endpoints this process serves.
func (s *Endpoints) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, name := range slices.Sorted(maps.Keys(s.mu.endpoints)) {
		if s.mu.endpoints[name].route.Load() != nil {
			out = append(out, name)
		}
	}
	return out
}
