package etl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/stream"
	"github.com/pricestream/pricestream/internal/table"
)

// Config configures the job manager. A zero field means its default.
type Config struct {
	// CheckpointInterval is how often a job checkpoints each partition's
	// position and window state (a job's spec may override it). Default 1s.
	CheckpointInterval time.Duration `yaml:"checkpoint_interval" json:"checkpoint_interval"`
	// SinkWriters is how many item writes a table sink keeps in flight.
	// Default 128: at 10,000 rows/s and a few milliseconds per write on a
	// busy machine, a few dozen are in flight, with room for the stalls.
	// (The writes do not wait for fsyncs: the sink syncs the table before
	// each checkpoint.)
	SinkWriters int `yaml:"sink_writers" json:"sink_writers"`
	// MaxPendingRows bounds the rows waiting for a sink (per sink), beyond
	// which the job waits (backpressure). Default 10000.
	MaxPendingRows int `yaml:"max_pending_rows" json:"max_pending_rows"`
	// RestartBackoff is how long a failed job waits before it starts again
	// (doubling up to a minute). Default 1s.
	RestartBackoff time.Duration `yaml:"restart_backoff" json:"restart_backoff"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.CheckpointInterval == 0 {
		c.CheckpointInterval = time.Second
	}
	if c.SinkWriters == 0 {
		c.SinkWriters = 128
	}
	if c.MaxPendingRows == 0 {
		c.MaxPendingRows = 10000
	}
	if c.RestartBackoff == 0 {
		c.RestartBackoff = time.Second
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.CheckpointInterval < 0 {
		errs = append(errs, fmt.Errorf("%s.checkpoint_interval: must be > 0", prefix))
	}
	if c.SinkWriters < 0 || c.SinkWriters > 1024 {
		errs = append(errs, fmt.Errorf("%s.sink_writers: must be 1-1024, got %d", prefix, c.SinkWriters))
	}
	if c.MaxPendingRows < 0 {
		errs = append(errs, fmt.Errorf("%s.max_pending_rows: must be > 0", prefix))
	}
	if c.RestartBackoff < 0 {
		errs = append(errs, fmt.Errorf("%s.restart_backoff: must be > 0", prefix))
	}
	return errors.Join(errs...)
}

// Deps are the manager's dependencies.
type Deps struct {
	Engine  *engine.Engine
	Streams *stream.Manager
	Tables  *table.Manager
	// Catalog resolves source.catalog; nil: jobs carry their source inline.
	Catalog    Catalog
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Manager keeps job definitions in the engine and runs the jobs that should
// run. Definitions and run state (desired state, checkpoints) live in
// key-value buckets; [Manager.Run] watches the definitions, so a job applied,
// started or stopped through any process takes effect without a restart.
type Manager struct {
	cfg     Config
	eng     *engine.Engine
	streams *stream.Manager
	tables  *table.Manager
	catalog Catalog
	logger  *slog.Logger
	metrics *metrics

	kvMu   sync.Mutex
	defsKV jetstream.KeyValue
	stKV   jetstream.KeyValue
	// stateChunk, when set (tests), replaces the window state chunk size.
	stateChunk atomic.Int64

	mu struct {
		sync.Mutex
		runs map[string]*jobRun
	}
	// viewed holds the definitions view decoded, by name, with their
	// revisions: Status and the lag checks read a definition every
	// second or scrape, and decoding its spec is a YAML parse.
	viewed struct {
		sync.Mutex
		defs map[string]*jobDef
	}
}

// jobDef is a job's entry in the definitions bucket.
type jobDef struct {
	Spec    *Spec     `json:"spec"`
	Desired string    `json:"desired"` // running or stopped
	Updated time.Time `json:"updated"`
	rev     uint64
}

// jobRun is a running (or restarting) job in this process.
type jobRun struct {
	def    *jobDef
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	cur    *run
	state  string
	err    string
}

// Job states.
const (
	StateRunning  = "running"
	StateStopped  = "stopped"
	StateStarting = "starting"
	StateStopping = "stopping"
	StateFailed   = "failed"
)

// New returns a manager. It starts no goroutines until [Manager.Run].
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.Validate("etl"); err != nil {
		return nil, err
	}
	if deps.Engine == nil || deps.Streams == nil || deps.Tables == nil {
		return nil, errors.New("etl: the engine, streams and tables are required")
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	m := &Manager{cfg: cfg.withDefaults(), eng: deps.Engine, streams: deps.Streams, tables: deps.Tables, catalog: deps.Catalog,
		logger: logger.With("component", "etl"), metrics: newMetrics(reg)}
	m.mu.runs = map[string]*jobRun{}
	if err := reg.Register(statusCollector{m}); err != nil {
		return nil, fmt.Errorf("etl: metrics: %w", err)
	}
	return m, nil
}

func (m *Manager) bucket(ctx context.Context, dst *jetstream.KeyValue, name, desc string) (jetstream.KeyValue, error) {
	m.kvMu.Lock()
	defer m.kvMu.Unlock()
	if *dst != nil {
		return *dst, nil
	}
	kv, err := m.eng.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: m.eng.Name("kv", name), Description: desc, History: 1, Storage: jetstream.FileStorage,
	})
	if err != nil {
		return nil, fmt.Errorf("etl: %s bucket: %w", name, err)
	}
	*dst = kv
	return kv, nil
}

func (m *Manager) defs(ctx context.Context) (jetstream.KeyValue, error) {
	return m.bucket(ctx, &m.defsKV, "etl_jobs", "pricestream: ETL job definitions and desired states")
}

func (m *Manager) state(ctx context.Context) (jetstream.KeyValue, error) {
	return m.bucket(ctx, &m.stKV, "etl_state", "pricestream: ETL checkpoints (positions, counters, window state)")
}

// ApplyResult says what Apply did.
type ApplyResult struct {
	Name    string `json:"name"`
	Created bool   `json:"created"`
	Changed bool   `json:"changed"`
}

// Apply checks a job and stores it: a new job starts running, a changed
// one restarts with the new definition (keeping its positions, and its
// window state if the pipeline before the sink is the same). Errors wrap
// ErrInvalid with every problem and its path.
func (m *Manager) Apply(ctx context.Context, s *Spec) (*ApplyResult, error) {
	if _, err := Compile(ctx, s, m.catalog); err != nil {
		return nil, err
	}
	kv, err := m.defs(ctx)
	if err != nil {
		return nil, err
	}
	res := &ApplyResult{Name: s.Name}
	d := &jobDef{Spec: s, Desired: StateRunning, Updated: time.Now().UTC()}
	if old, err := m.get(ctx, s.Name); err == nil {
		d.Desired = old.Desired
		if string(old.Spec.JSON()) == string(s.JSON()) {
			return res, nil
		}
		res.Changed = true
	} else if errors.Is(err, ErrNotFound) {
		res.Created, res.Changed = true, true
	} else {
		return nil, err
	}
	if _, err := kv.Put(ctx, s.Name, d.encode()); err != nil {
		return nil, fmt.Errorf("etl: store job %q: %w", s.Name, err)
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("etl: store job %q: %w", s.Name, err)
	}
	return res, nil
}

func (m *Manager) get(ctx context.Context, name string) (*jobDef, error) {
	e, err := m.entry(ctx, name)
	if err != nil {
		return nil, err
	}
	return decodeDef(e.Value(), e.Revision())
}

// entry reads a job's stored definition.
func (m *Manager) entry(ctx context.Context, name string) (jetstream.KeyValueEntry, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	kv, err := m.defs(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, name)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: job %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("etl: job %q: %w", name, err)
	}
	return e, nil
}

// view returns a job's definition as get does, decoded again only when
// its revision changed. The definition is shared: callers must not modify
// it.
func (m *Manager) view(ctx context.Context, name string) (*jobDef, error) {
	e, err := m.entry(ctx, name)
	if errors.Is(err, ErrNotFound) {
		m.viewed.Lock()
		delete(m.viewed.defs, name)
		m.viewed.Unlock()
	}
	if err != nil {
		return nil, err
	}
	m.viewed.Lock()
	d := m.viewed.defs[name]
	m.viewed.Unlock()
	if d != nil && d.rev == e.Revision() {
		return d, nil
	}
	if d, err = decodeDef(e.Value(), e.Revision()); err != nil {
		return nil, err
	}
	m.viewed.Lock()
	if m.viewed.defs == nil {
		m.viewed.defs = map[string]*jobDef{}
	}
	m.viewed.defs[name] = d
	m.viewed.Unlock()
	return d, nil
}

// SourceStream returns the stream a job reads, or "" when it reads a
// table.
func (m *Manager) SourceStream(ctx context.Context, name string) (string, error) {
	d, err := m.view(ctx, name)
	if err != nil {
		return "", err
	}
	return d.Spec.Source.Stream, nil
}

// encode writes the definition without HTML escapes (types such as
// array<...> must read back as written).
func (d *jobDef) encode() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(struct {
		Spec    json.RawMessage `json:"spec"`
		Desired string          `json:"desired"`
		Updated time.Time       `json:"updated"`
	}{d.Spec.JSON(), d.Desired, d.Updated})
	return bytes.TrimSpace(buf.Bytes())
}

func decodeDef(b []byte, rev uint64) (*jobDef, error) {
	var w struct {
		Spec    json.RawMessage `json:"spec"`
		Desired string          `json:"desired"`
		Updated time.Time       `json:"updated"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("etl: stored job: %w", err)
	}
	s, err := Decode(w.Spec)
	if err != nil {
		return nil, fmt.Errorf("etl: stored job: %w", err)
	}
	return &jobDef{Spec: s, Desired: w.Desired, Updated: w.Updated, rev: rev}, nil
}

// Get returns a job's definition.
func (m *Manager) Get(ctx context.Context, name string) (*Spec, error) {
	d, err := m.get(ctx, name)
	if err != nil {
		return nil, err
	}
	return d.Spec, nil
}

// List returns the names of the jobs, sorted.
func (m *Manager) List(ctx context.Context) ([]string, error) {
	kv, err := m.defs(ctx)
	if err != nil {
		return nil, err
	}
	l, err := kv.ListKeys(ctx)
	if err != nil {
		return nil, err
	}
	var names []string
	for k := range l.Keys() {
		names = append(names, k)
	}
	slices.Sort(names)
	return names, nil
}

// Start sets a job to run; Stop sets it to stop (it checkpoints and ends).
func (m *Manager) Start(ctx context.Context, name string) error {
	return m.setDesired(ctx, name, StateRunning)
}

// Stop sets a job to stop: it finishes its batch, checkpoints and ends.
func (m *Manager) Stop(ctx context.Context, name string) error {
	return m.setDesired(ctx, name, StateStopped)
}

func (m *Manager) setDesired(ctx context.Context, name, desired string) error {
	d, err := m.get(ctx, name)
	if err != nil {
		return err
	}
	if d.Desired == desired {
		return nil
	}
	d.Desired = desired
	d.Updated = time.Now().UTC()
	kv, err := m.defs(ctx)
	if err != nil {
		return err
	}
	if _, err = kv.Update(ctx, name, d.encode(), d.rev); err != nil {
		return err
	}
	return m.eng.SyncAll(ctx)
}

// Delete removes a job, its run and its checkpoints (not its sinks or
// dead letters).
func (m *Manager) Delete(ctx context.Context, name string) error {
	if _, err := m.get(ctx, name); err != nil {
		return err
	}
	kv, err := m.defs(ctx)
	if err != nil {
		return err
	}
	if err := kv.Purge(ctx, name); err != nil {
		return err
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return err
	}
	m.stopRun(name)
	st, err := m.state(ctx)
	if err != nil {
		return err
	}
	keys, err := st.ListKeysFiltered(ctx, name+".>") // checkpoints, their window state chunks, the replay mark
	if err != nil {
		return err
	}
	var ks []string
	for k := range keys.Keys() {
		ks = append(ks, k)
	}
	for _, k := range ks {
		_ = st.Purge(ctx, k)
	}
	m.metrics.forget(name)
	return nil
}

// Run runs the jobs whose desired state is running, following changes to
// the definitions, until ctx is done; then it stops every job (each
// checkpoints) and returns nil.
func (m *Manager) Run(ctx context.Context) error {
	kv, err := m.defs(ctx)
	if err != nil {
		return err
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		return fmt.Errorf("etl: watch jobs: %w", err)
	}
	defer func() { _ = w.Stop() }()
	defer m.stopAll()
	for {
		select {
		case <-ctx.Done():
			return nil
		case e, ok := <-w.Updates():
			if !ok {
				return nil
			}
			if e == nil {
				continue // the initial values are in
			}
			if e.Operation() != jetstream.KeyValuePut {
				m.stopRun(e.Key())
				continue
			}
			d, err := decodeDef(e.Value(), e.Revision())
			if err != nil {
				m.logger.Error("a stored job does not decode; not run", "job", e.Key(), "err", err)
				continue
			}
			m.reconcile(ctx, d)
		}
	}
}

func (m *Manager) reconcile(ctx context.Context, d *jobDef) {
	name := d.Spec.Name
	m.mu.Lock()
	cur := m.mu.runs[name]
	m.mu.Unlock()
	if cur != nil && d.Desired == StateRunning && string(cur.def.Spec.JSON()) == string(d.Spec.JSON()) {
		cur.def = d
		return
	}
	if cur != nil {
		m.stopRun(name)
	}
	if d.Desired != StateRunning {
		return
	}
	rctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	jr := &jobRun{def: d, cancel: cancel, done: make(chan struct{}), state: StateStarting}
	m.mu.Lock()
	m.mu.runs[name] = jr
	m.mu.Unlock()
	go func() {
		defer close(jr.done)
		m.supervise(rctx, jr)
	}()
}

// supervise runs a job, restarting it with backoff when it fails.
func (m *Manager) supervise(ctx context.Context, jr *jobRun) {
	backoff := m.cfg.RestartBackoff
	for ctx.Err() == nil {
		r, err := m.newRun(ctx, jr.def)
		if err == nil {
			jr.mu.Lock()
			jr.cur = r
			if ctx.Err() == nil {
				jr.state, jr.err = StateRunning, ""
			}
			jr.mu.Unlock()
			err = r.execute(ctx)
		}
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = errors.New("ended without a stop")
		}
		jr.mu.Lock()
		jr.state, jr.err = StateFailed, err.Error()
		jr.mu.Unlock()
		m.logger.Warn("job failed; restarting", "job", jr.def.Spec.Name, "err", err, "backoff", backoff)
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return
		}
		backoff = min(2*backoff, time.Minute)
	}
}

// stopRun stops a job's run and waits until it has written its last
// checkpoints. Until then the run stays listed, in state stopping, so that
// a status of stopped means the run is over and its rows durable.
func (m *Manager) stopRun(name string) {
	m.mu.Lock()
	jr := m.mu.runs[name]
	m.mu.Unlock()
	if jr == nil {
		return
	}
	jr.mu.Lock()
	jr.state = StateStopping
	jr.cancel()
	jr.mu.Unlock()
	<-jr.done
	m.mu.Lock()
	if m.mu.runs[name] == jr {
		delete(m.mu.runs, name)
	}
	m.mu.Unlock()
}

func (m *Manager) stopAll() {
	m.mu.Lock()
	names := make([]string, 0, len(m.mu.runs))
	for n := range m.mu.runs {
		names = append(names, n)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range names {
		wg.Go(func() { m.stopRun(n) })
	}
	wg.Wait()
}

// Running returns the names of the jobs running in this process, sorted.
// It reads only the process's own state (no engine call), so it is cheap
// enough to poll.
func (m *Manager) Running() []string {
	m.mu.Lock()
	runs := make(map[string]*jobRun, len(m.mu.runs))
	for n, jr := range m.mu.runs {
		runs[n] = jr
	}
	m.mu.Unlock()
	var out []string
	for n, jr := range runs {
		jr.mu.Lock()
		running := jr.state == StateRunning
		jr.mu.Unlock()
		if running {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// Status is a job's state and its accounting: every source record it has
// finished with is processed, filtered or dead-lettered, so RecordsIn =
// RecordsProcessed + Filtered + DeadLettered.
type Status struct {
	Name             string `json:"name"`
	State            string `json:"state"`
	Desired          string `json:"desired"`
	Error            string `json:"error,omitempty"`
	RecordsIn        uint64 `json:"records_in"`
	RecordsProcessed uint64 `json:"records_processed"`
	Filtered         uint64 `json:"filtered"`
	DeadLettered     uint64 `json:"dead_lettered"`
	Late             uint64 `json:"late"`
	RowsWritten      uint64 `json:"rows_written"`
	LagRecords       uint64 `json:"lag_records"`
	// RowsPending counts the rows processed and not yet durable in the
	// sinks: with lag_records 0 and rows_pending 0, every stored record's
	// effect is in the sink.
	RowsPending uint64    `json:"rows_pending"`
	Watermark   time.Time `json:"watermark,omitzero"`
	// StageLatency is the mean time per record of each stage since the
	// run started, in seconds: process (decode, transforms, joins,
	// window), sink_write, end_to_end (arrival to row committed).
	StageLatency map[string]float64 `json:"stage_latency_seconds,omitempty"`
	Partitions   []PartitionStatus  `json:"partitions,omitempty"`
}

// PartitionStatus is one source partition of a job.
type PartitionStatus struct {
	Partition  int       `json:"partition"`
	RecordsIn  uint64    `json:"records_in"`
	LagRecords uint64    `json:"lag_records"`
	Watermark  time.Time `json:"watermark,omitzero"`
}

// Status returns a job's state and counters: live when it runs here, else
// from its last checkpoints.
func (m *Manager) Status(ctx context.Context, name string) (*Status, error) {
	d, err := m.view(ctx, name)
	if err != nil {
		return nil, err
	}
	st := &Status{Name: name, Desired: d.Desired, State: StateStopped}
	m.mu.Lock()
	jr := m.mu.runs[name]
	m.mu.Unlock()
	var r *run
	var parts []*partState
	if jr != nil {
		jr.mu.Lock()
		st.State, st.Error, r = jr.state, jr.err, jr.cur
		jr.mu.Unlock()
		if r != nil {
			if p := r.live.Load(); p != nil {
				parts = *p
			}
		}
	}
	if parts == nil {
		// Not running here: read the checkpoints.
		if r, err = m.newRun(ctx, d); err != nil {
			return st, nil
		}
		if d.Spec.Source.Stream != "" {
			if r.src, err = m.streams.Open(ctx, d.Spec.Source.Stream); err != nil {
				return st, nil
			}
		} else if r.tbl, err = m.tables.Open(ctx, d.Spec.Source.Table); err != nil {
			return st, nil
		}
		n := 1
		if r.src != nil {
			n = r.src.Partitions()
		}
		for p := range n {
			ps := &partState{part: p}
			ps.lastOffset.Store(-1)
			ps.wm.Store(math.MinInt64)
			if r.plan.window != nil {
				ps.win = newWindowOp(r.plan.window, r.posText)
			}
			if _, err := r.restore(ctx, ps); err != nil {
				return nil, err
			}
			parts = append(parts, ps)
		}
	}
	wm := int64(math.MaxInt64)
	for _, ps := range parts {
		p := PartitionStatus{Partition: ps.part, RecordsIn: ps.in.Load()}
		st.RecordsIn += ps.in.Load()
		st.RecordsProcessed += ps.processed.Load()
		st.Filtered += ps.filtered.Load()
		st.DeadLettered += ps.dead.Load()
		st.Late += ps.late.Load()
		if w := ps.wm.Load(); w != math.MinInt64 {
			p.Watermark = time.Unix(0, w).UTC()
			wm = min(wm, w)
		}
		done := uint64(ps.lastOffset.Load() + 1)
		if r.src != nil {
			if tip, err := r.src.Tip(ctx, ps.part); err == nil && tip.Records > done {
				p.LagRecords = tip.Records - done
			}
		} else if r.tbl != nil {
			if ss, err := r.tbl.StreamState(ctx); err == nil && ss.LastSeq+1 > done && ps.lastOffset.Load() >= 0 {
				p.LagRecords = ss.LastSeq + 1 - done
			}
		}
		st.LagRecords += p.LagRecords
		st.Partitions = append(st.Partitions, p)
	}
	if wm != math.MaxInt64 {
		st.Watermark = time.Unix(0, wm).UTC()
	}
	st.RowsWritten = r.rowsWritten.Load()
	if jr != nil {
		for _, s := range r.sinks {
			st.RowsPending += uint64(s.pending())
		}
	}
	st.StageLatency = map[string]float64{}
	for i, name := range []string{"process", "sink_write", "end_to_end"} {
		if n := r.stageCount[i].Load(); n > 0 {
			st.StageLatency[name] = float64(r.stageNanos[i].Load()) / float64(n) / 1e9
		}
	}
	return st, nil
}

// ReplayDeadLetters sends a job's dead letters through it again, after a
// fix: each one's original bytes are appended to the job's source stream
// with their partition key, in order, and so are processed (and counted)
// as new records. It returns how many it sent. Dead letters of a table
// source cannot be replayed this way.
func (m *Manager) ReplayDeadLetters(ctx context.Context, name string, limit int) (int, error) {
	d, err := m.get(ctx, name)
	if err != nil {
		return 0, err
	}
	if d.Spec.Source.Stream == "" {
		return 0, fmt.Errorf("%w: job %q reads a table's change stream; its dead letters cannot be appended back to it", ErrInvalid, name)
	}
	src, err := m.streams.Open(ctx, d.Spec.Source.Stream)
	if err != nil {
		return 0, err
	}
	dls, err := m.DeadLetters(ctx, name, limit)
	if err != nil {
		return 0, err
	}
	st, err := m.state(ctx)
	if err != nil {
		return 0, err
	}
	// Dead letters already replayed are skipped: the replay mark is the
	// last dead-letter position sent.
	var mark stream.Position
	if e, err := st.Get(ctx, name+".replayed"); err == nil {
		_, mark, _ = stream.ParseSequenceNumber(string(e.Value()))
	}
	var entries []stream.Entry
	var last string
	for _, dl := range dls {
		_, p, err := stream.ParseSequenceNumber(dl.DLQPosition)
		if err != nil || !mark.Less(p) {
			continue
		}
		key := dl.PartitionKey
		if key == "" {
			key = name
		}
		entries = append(entries, stream.Entry{PartitionKey: key, Data: dl.Data})
		last = dl.DLQPosition
	}
	sent := 0
	for len(entries) > 0 {
		n := min(len(entries), stream.MaxPutRecords)
		res, err := src.Append(ctx, entries[:n])
		if err != nil {
			return sent, err
		}
		for _, r := range res {
			if r.Err != nil {
				return sent, r.Err
			}
		}
		sent += n
		entries = entries[n:]
	}
	if last != "" {
		if _, err := st.Put(ctx, name+".replayed", []byte(last)); err != nil {
			return sent, err
		}
	}
	return sent, nil
}
