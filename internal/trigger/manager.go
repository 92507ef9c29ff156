package trigger

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/tetratelabs/wazero"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/stream"
)

// Deps are the manager's dependencies.
type Deps struct {
	// Engine holds the definitions, checkpoints and leases.
	Engine *engine.Engine
	// Sources opens sources ("stream:", "table:"); usually a *[Sources].
	Sources SourceOpener
	// Streams opens the on-failure destinations.
	Streams *stream.Manager
	// Functions holds the Go functions offered as "go:NAME"; nil offers
	// none.
	Functions *Registry
	// HTTPClient calls HTTP functions; nil: a client of the manager's own.
	HTTPClient *http.Client
	// WasmCache keeps compiled WebAssembly functions across managers (and,
	// made with wazero.NewCompilationCacheWithDir, across restarts); nil:
	// each manager compiles its own.
	WasmCache  wazero.CompilationCache
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Definition is a stored trigger: its spec and when it was made.
type Definition struct {
	Spec     *Spec     `json:"spec"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
	Revision uint64    `json:"revision"` // of the definition in the engine
}

// Manager stores trigger definitions in the engine and runs the enabled
// ones: [Manager.Run] watches the definitions and starts and stops the
// runners of each partition as they change, so a change made through the
// API takes effect without a restart. Its methods are safe for concurrent
// use.
type Manager struct {
	cfg     Config
	deps    Deps
	logger  *slog.Logger
	metrics *metrics
	httpc   *http.Client
	wasm    *wasmRuntime
	owner   string           // this process, in leases
	now     func() time.Time // the clock of record ages

	bucketsMu sync.Mutex
	defs      jetstream.KeyValue
	cps       *checkpoints
	lease     *leases

	mu struct {
		sync.Mutex
		closed  bool
		running map[string]*triggerRun
	}
}

// New returns a manager. It validates cfg and starts nothing: the engine
// buckets are made on first use and runners start in [Manager.Run].
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.Validate("triggers"); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, errors.New("trigger: no engine")
	}
	if deps.Sources == nil {
		return nil, errors.New("trigger: no sources")
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
	httpc := deps.HTTPClient
	if httpc == nil {
		httpc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, Proxy: http.ProxyFromEnvironment}}
	}
	m := &Manager{cfg: cfg, deps: deps, logger: logger.With("component", "trigger"), metrics: newMetrics(reg), httpc: httpc, owner: newOwnerID(), now: time.Now}
	m.wasm = newWasmRuntime(m.logger, deps.WasmCache)
	m.mu.running = map[string]*triggerRun{}
	return m, nil
}

func (m *Manager) buckets(ctx context.Context) (jetstream.KeyValue, *checkpoints, error) {
	m.bucketsMu.Lock()
	defer m.bucketsMu.Unlock()
	if m.defs != nil {
		return m.defs, m.cps, nil
	}
	js, eng := m.deps.Engine.JetStream(), m.deps.Engine
	mk := func(name, desc string) (jetstream.KeyValue, error) {
		kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
			Bucket: eng.Name("kv", name), Description: desc, History: 1, Storage: jetstream.FileStorage, Replicas: m.cfg.Replicas,
		})
		if err != nil {
			return nil, fmt.Errorf("trigger: %s bucket: %w", name, err)
		}
		return kv, nil
	}
	defs, err := mk("triggers", "pricestream: trigger definitions")
	if err != nil {
		return nil, nil, err
	}
	pos, err := mk("trigger_positions", "pricestream: trigger checkpoints per partition")
	if err != nil {
		return nil, nil, err
	}
	lkv, err := mk("trigger_leases", "pricestream: which process runs each trigger partition")
	if err != nil {
		return nil, nil, err
	}
	m.defs, m.cps = defs, &checkpoints{kv: pos}
	m.lease = &leases{kv: lkv, owner: m.owner, ttl: m.cfg.LeaseTTL}
	return defs, m.cps, nil
}

// check validates what a spec refers to: the source and destination
// exist and the function can be found.
func (m *Manager) check(ctx context.Context, s *Spec) error {
	var errs []error
	ref, _ := ParseSource(s.Source)
	if _, err := m.deps.Sources.OpenSource(ctx, ref); err != nil {
		errs = append(errs, fmt.Errorf("%w: source: %v", ErrInvalidArgument, err))
	}
	if s.Destination != "" {
		dref, _ := ParseSource(s.Destination)
		if _, err := m.openDestination(ctx, dref.Name); err != nil {
			errs = append(errs, fmt.Errorf("%w: destination: %v", ErrInvalidArgument, err))
		}
	}
	fref, _ := ParseFunction(s.Function)
	switch fref.Kind {
	case "go":
		if _, ok := m.deps.Functions.Lookup(fref.Name); !ok {
			names := m.deps.Functions.Names()
			slices.Sort(names)
			errs = append(errs, fmt.Errorf("%w: function: no Go function %q in this binary (it has %v)", ErrInvalidArgument, fref.Name, names))
		}
	case "wasm":
		if _, err := m.wasm.load(ctx, fref.Name); err != nil {
			errs = append(errs, fmt.Errorf("%w: function: %v", ErrInvalidArgument, err))
		}
	}
	return errors.Join(errs...)
}

func (m *Manager) openDestination(ctx context.Context, name string) (*stream.Stream, error) {
	if m.deps.Streams == nil {
		return nil, errors.New("no stream manager")
	}
	return m.deps.Streams.Open(ctx, name)
}

type storedDefinition struct {
	Spec    *Spec     `json:"spec"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
}

func decodeDefinition(e jetstream.KeyValueEntry) (*Definition, error) {
	var sd storedDefinition
	if err := json.Unmarshal(e.Value(), &sd); err != nil || sd.Spec == nil {
		return nil, fmt.Errorf("trigger %q: bad definition in the engine: %v", e.Key(), err)
	}
	if err := sd.Spec.Validate(); err != nil {
		return nil, fmt.Errorf("trigger %q: bad definition in the engine: %w", e.Key(), err)
	}
	return &Definition{Spec: sd.Spec, Created: sd.Created, Updated: sd.Updated, Revision: e.Revision()}, nil
}

// Create stores a new trigger. It returns an error wrapping ErrExists when
// one of that name exists, and ErrInvalidArgument when the spec is bad or
// names a source, destination or function that cannot be found.
func (m *Manager) Create(ctx context.Context, spec *Spec) (*Definition, error) {
	d, _, err := m.put(ctx, spec, true)
	return d, err
}

// Apply creates the trigger or replaces its spec; created says which.
// Runners pick up the change: a changed spec restarts the trigger's
// runners from their checkpoints.
func (m *Manager) Apply(ctx context.Context, spec *Spec) (d *Definition, created bool, err error) {
	return m.put(ctx, spec, false)
}

func (m *Manager) put(ctx context.Context, spec *Spec, mustCreate bool) (*Definition, bool, error) {
	spec = spec.Clone()
	if err := spec.Validate(); err != nil {
		return nil, false, err
	}
	if err := m.check(ctx, spec); err != nil {
		return nil, false, err
	}
	defs, _, err := m.buckets(ctx)
	if err != nil {
		return nil, false, err
	}
	now := time.Now().UTC()
	for range 10 {
		e, err := defs.Get(ctx, spec.Name)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			b, _ := json.Marshal(storedDefinition{Spec: spec, Created: now, Updated: now})
			rev, err := defs.Create(ctx, spec.Name, b)
			if errors.Is(err, jetstream.ErrKeyExists) {
				if mustCreate {
					return nil, false, fmt.Errorf("%w: trigger %q", ErrExists, spec.Name)
				}
				continue
			}
			if err != nil {
				return nil, false, fmt.Errorf("trigger: create %q: %w", spec.Name, err)
			}
			if err := m.deps.Engine.SyncAll(ctx); err != nil {
				return nil, false, fmt.Errorf("trigger: create %q: %w", spec.Name, err)
			}
			m.logger.Info("trigger created", "trigger", spec.Name, "source", spec.Source, "function", spec.Function)
			return &Definition{Spec: spec, Created: now, Updated: now, Revision: rev}, true, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("trigger: %q: %w", spec.Name, err)
		}
		if mustCreate {
			return nil, false, fmt.Errorf("%w: trigger %q", ErrExists, spec.Name)
		}
		old, derr := decodeDefinition(e)
		created := now
		if derr == nil {
			created = old.Created
		}
		b, _ := json.Marshal(storedDefinition{Spec: spec, Created: created, Updated: now})
		rev, err := defs.Update(ctx, spec.Name, b, e.Revision())
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				continue
			}
			return nil, false, fmt.Errorf("trigger: update %q: %w", spec.Name, err)
		}
		if err := m.deps.Engine.SyncAll(ctx); err != nil {
			return nil, false, fmt.Errorf("trigger: update %q: %w", spec.Name, err)
		}
		m.logger.Info("trigger updated", "trigger", spec.Name, "source", spec.Source, "function", spec.Function, "enabled", spec.IsEnabled())
		return &Definition{Spec: spec, Created: created, Updated: now, Revision: rev}, false, nil
	}
	return nil, false, fmt.Errorf("%w: trigger %q changed under 10 attempts to write it", ErrConflict, spec.Name)
}

// Get returns a trigger's definition, or an error wrapping ErrNotFound.
func (m *Manager) Get(ctx context.Context, name string) (*Definition, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	defs, _, err := m.buckets(ctx)
	if err != nil {
		return nil, err
	}
	e, err := defs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: trigger %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("trigger %q: %w", name, err)
	}
	return decodeDefinition(e)
}

// List returns every trigger, sorted by name.
func (m *Manager) List(ctx context.Context) ([]*Definition, error) {
	defs, _, err := m.buckets(ctx)
	if err != nil {
		return nil, err
	}
	l, err := defs.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("trigger: list: %w", err)
	}
	var names []string
	for k := range l.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	out := make([]*Definition, 0, len(names))
	for _, n := range names {
		d, err := m.Get(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SetEnabled enables or disables a trigger. A disabled trigger keeps its
// checkpoints and resumes from them when enabled again.
func (m *Manager) SetEnabled(ctx context.Context, name string, enabled bool) (*Definition, error) {
	for range 10 {
		d, err := m.Get(ctx, name)
		if err != nil {
			return nil, err
		}
		if d.Spec.IsEnabled() == enabled {
			return d, nil
		}
		d.Spec.Enabled = &enabled
		now := time.Now().UTC()
		b, _ := json.Marshal(storedDefinition{Spec: d.Spec, Created: d.Created, Updated: now})
		rev, err := m.defs.Update(ctx, name, b, d.Revision)
		if err != nil {
			var apiErr *jetstream.APIError
			if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
				continue
			}
			return nil, fmt.Errorf("trigger: update %q: %w", name, err)
		}
		if err := m.deps.Engine.SyncAll(ctx); err != nil {
			return nil, fmt.Errorf("trigger: update %q: %w", name, err)
		}
		m.logger.Info("trigger "+map[bool]string{true: "enabled", false: "disabled"}[enabled], "trigger", name)
		d.Updated, d.Revision = now, rev
		return d, nil
	}
	return nil, fmt.Errorf("%w: trigger %q changed under 10 attempts to write it", ErrConflict, name)
}

// Delete removes a trigger and its checkpoints. Its runners stop.
func (m *Manager) Delete(ctx context.Context, name string) error {
	if _, err := m.Get(ctx, name); err != nil {
		return err
	}
	if err := m.defs.Purge(ctx, name); err != nil {
		return fmt.Errorf("trigger: delete %q: %w", name, err)
	}
	if err := m.deps.Engine.SyncAll(ctx); err != nil {
		return fmt.Errorf("trigger: delete %q: %w", name, err)
	}
	// Stop local runners before forgetting checkpoints, so that a final
	// commit does not bring one back.
	m.stop(name)
	if err := m.cps.purge(ctx, name); err != nil {
		m.logger.Warn("trigger deleted but its checkpoints were not", "trigger", name, "err", err)
	}
	m.metrics.forget(name)
	m.logger.Info("trigger deleted", "trigger", name)
	return nil
}

// Close releases the compiled WebAssembly functions. Call it after Run
// has returned. It is idempotent.
func (m *Manager) Close() error {
	if m.deps.HTTPClient == nil {
		m.httpc.CloseIdleConnections()
	}
	return m.wasm.close(context.Background())
}

// Run watches the definitions and runs the enabled triggers until ctx is
// done; then it stops every runner (each commits its checkpoint) and
// returns nil. It returns an error when the engine cannot be watched.
func (m *Manager) Run(ctx context.Context) error {
	defs, _, err := m.buckets(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	w, err := defs.WatchAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("trigger: watch definitions: %w", err)
	}
	defer func() {
		_ = w.Stop()
		m.mu.Lock()
		m.mu.closed = true
		runs := m.mu.running
		m.mu.running = map[string]*triggerRun{}
		m.mu.Unlock()
		for _, tr := range runs {
			tr.cancel()
		}
		for _, tr := range runs {
			<-tr.done
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return errors.New("trigger: definitions watch ended")
			}
			if e == nil {
				continue // the initial values are all delivered
			}
			m.apply(ctx, e)
		}
	}
}

// apply starts, restarts or stops a trigger after its definition changed.
func (m *Manager) apply(ctx context.Context, e jetstream.KeyValueEntry) {
	name := e.Key()
	if e.Operation() != jetstream.KeyValuePut {
		m.stop(name)
		return
	}
	d, err := decodeDefinition(e)
	if err != nil {
		m.logger.Error("trigger definition cannot be read; it does not run", "trigger", name, "err", err)
		m.stop(name)
		return
	}
	m.mu.Lock()
	cur := m.mu.running[name]
	m.mu.Unlock()
	if cur != nil && cur.def.Revision == d.Revision {
		return
	}
	m.stop(name)
	if !d.Spec.IsEnabled() {
		return
	}
	m.start(ctx, d)
}

func (m *Manager) start(ctx context.Context, d *Definition) {
	rctx, cancel := context.WithCancel(ctx)
	tr := &triggerRun{m: m, def: d, cancel: cancel, done: make(chan struct{}), logger: m.logger.With("trigger", d.Spec.Name)}
	tr.mu.state = "starting"
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		cancel()
		return
	}
	m.mu.running[d.Spec.Name] = tr
	m.mu.Unlock()
	go func() {
		defer close(tr.done)
		pprof.Do(rctx, pprof.Labels("trigger", d.Spec.Name), func(ctx context.Context) { tr.run(ctx) })
	}()
}

// stop stops a trigger's runners and waits for them.
func (m *Manager) stop(name string) {
	m.mu.Lock()
	tr := m.mu.running[name]
	delete(m.mu.running, name)
	m.mu.Unlock()
	if tr != nil {
		tr.cancel()
		<-tr.done
	}
}

// triggerRun is one enabled trigger running in this process: it resolves
// the source, function and destination (retrying while they are missing)
// and runs a runner per partition.
type triggerRun struct {
	m      *Manager
	def    *Definition
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns
	logger *slog.Logger

	mu struct {
		sync.Mutex
		state   string
		err     string
		runners []*runner
	}
}

func (tr *triggerRun) setState(state string, err error) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	tr.mu.state, tr.mu.err = state, ""
	if err != nil {
		tr.mu.err = err.Error()
	}
}

func (tr *triggerRun) run(ctx context.Context) {
	for attempt := 1; ; attempt++ {
		runners, err := tr.setup(ctx)
		if err == nil {
			tr.mu.Lock()
			tr.mu.runners = runners
			tr.mu.state = "running"
			tr.mu.Unlock()
			tr.logger.Info("trigger running", "partitions", len(runners), "source", tr.def.Spec.Source, "function", tr.def.Spec.Function)
			var wg sync.WaitGroup
			for _, r := range runners {
				wg.Add(1)
				go func() {
					defer wg.Done()
					pprof.Do(ctx, pprof.Labels("partition", strconv.Itoa(r.part)), func(ctx context.Context) { tr.m.runPartition(ctx, r) })
				}()
			}
			wg.Wait()
			tr.setState("stopped", nil)
			return
		}
		if ctx.Err() != nil {
			return
		}
		tr.setState("error", err)
		d := backoff(attempt, time.Second, 30*time.Second)
		tr.logger.Warn("trigger cannot start; retrying", "err", err, "in", d)
		if sleep(ctx, d) != nil {
			return
		}
	}
}

// setup resolves what the trigger needs and builds its runners.
func (tr *triggerRun) setup(ctx context.Context) ([]*runner, error) {
	m, spec := tr.m, tr.def.Spec
	_, cps, err := m.buckets(ctx)
	if err != nil {
		return nil, err
	}
	ref, _ := ParseSource(spec.Source)
	src, err := m.deps.Sources.OpenSource(ctx, ref)
	if err != nil {
		return nil, err
	}
	fn, err := m.function(ctx, spec)
	if err != nil {
		return nil, err
	}
	filters, err := CompileFilters(spec.Filters)
	if err != nil {
		return nil, err
	}
	src = projected(src, fn, filters)
	var dest sink
	if spec.Destination != "" {
		dref, _ := ParseSource(spec.Destination)
		s, err := m.openDestination(ctx, dref.Name)
		if err != nil {
			return nil, fmt.Errorf("destination %s: %w", spec.Destination, err)
		}
		dest = &streamSink{s: s}
	}
	tm := m.metrics.forTrigger(spec.Name)
	runners := make([]*runner, src.Partitions())
	for p := range runners {
		runners[p] = newRunner(tr.def, src, p, fn, filters, dest, cps, m.cfg, tm, tr.logger, m.now)
	}
	return runners, nil
}

// function resolves the spec's function.
func (m *Manager) function(ctx context.Context, spec *Spec) (Function, error) {
	ref, err := ParseFunction(spec.Function)
	if err != nil {
		return nil, err
	}
	switch ref.Kind {
	case "go":
		fn, ok := m.deps.Functions.Lookup(ref.Name)
		if !ok {
			return nil, fmt.Errorf("trigger: no Go function %q in this binary", ref.Name)
		}
		return fn, nil
	case "http":
		return NewHTTPFunction(ref.Name, m.httpc), nil
	case "wasm":
		return m.wasm.load(ctx, ref.Name)
	}
	return nil, fmt.Errorf("trigger: function kind %q", ref.Kind)
}
