package stream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
)

// Config configures the stream manager. A zero field means its default.
type Config struct {
	// Replicas of each stream in a NATS cluster. Default 1.
	Replicas int `yaml:"replicas" json:"replicas"`
	// MaxBatchBytes is the size up to which a partition's writer merges
	// records into one batch (engine message); larger requests are split,
	// and a record larger than it travels alone. Default 1 MiB.
	MaxBatchBytes int `yaml:"max_batch_bytes" json:"max_batch_bytes"`
	// WriteTimeout bounds one engine write. Default 10s.
	WriteTimeout time.Duration `yaml:"write_timeout" json:"write_timeout"`
	// MaxQueuedBytes bounds the records waiting, per partition, for the
	// write in flight; beyond it appends fail with ErrThrottled (HTTP 429)
	// instead of queueing without bound. Default 64 MiB.
	MaxQueuedBytes int `yaml:"max_queued_bytes" json:"max_queued_bytes"`
}

// Defaults and limits, after Kinesis's where it has one.
const (
	DefaultPartitions     = 4
	DefaultRetention      = 24 * time.Hour
	DefaultMaxRecordSize  = 1 << 20
	DefaultMaxBatchBytes  = 1 << 20
	DefaultWriteTimeout   = 10 * time.Second
	DefaultMaxQueuedBytes = 64 << 20
	// MaxPutRecords and MaxPutBytes bound one put request (records, and
	// bytes of data plus partition keys), as Kinesis PutRecords does.
	MaxPutRecords      = 500
	MaxPutBytes        = 5 << 20
	MaxPartitions      = 1024
	MaxPartitionKeyLen = 256
	MaxRecordSizeLimit = 4 << 20
	MinRetention       = time.Minute
	// maxBatchRecords keeps a batch index below seqFactor.
	maxBatchRecords = 100_000
)

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.MaxBatchBytes == 0 {
		c.MaxBatchBytes = DefaultMaxBatchBytes
	}
	if c.WriteTimeout == 0 {
		c.WriteTimeout = DefaultWriteTimeout
	}
	if c.MaxQueuedBytes == 0 {
		c.MaxQueuedBytes = DefaultMaxQueuedBytes
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: must be 1-5, got %d", prefix, c.Replicas))
	}
	if c.MaxBatchBytes < 0 || (c.MaxBatchBytes > 0 && c.MaxBatchBytes < 64<<10) {
		errs = append(errs, fmt.Errorf("%s.max_batch_bytes: must be at least 64 KiB, got %d", prefix, c.MaxBatchBytes))
	}
	if c.WriteTimeout < 0 {
		errs = append(errs, fmt.Errorf("%s.write_timeout: must be > 0", prefix))
	}
	if c.MaxQueuedBytes < 0 {
		errs = append(errs, fmt.Errorf("%s.max_queued_bytes: must be > 0", prefix))
	}
	return errors.Join(errs...)
}

// Deps are the manager's dependencies.
type Deps struct {
	Engine     *engine.Engine
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Manager creates, opens and deletes the streams of one engine.
type Manager struct {
	cfg     Config
	maxMsg  int // largest batch the engine accepts
	eng     *engine.Engine
	js      jetstream.JetStream
	nc      *nats.Conn // writes and control
	rc      *nats.Conn // reads and subscriptions
	rjs     jetstream.JetStream
	logger  *slog.Logger
	metrics *metrics

	ctx    context.Context // lives until Close; bounds writers
	cancel context.CancelFunc
	wg     sync.WaitGroup // flusher goroutines

	posMu sync.Mutex
	pos   jetstream.KeyValue
	regMu sync.Mutex
	reg   jetstream.KeyValue

	mu struct {
		sync.Mutex
		closed    bool
		streams   map[string]*Stream
		consumers map[consumerKey]*Consumer
	}
}

// New returns a manager of the streams on deps.Engine. It starts no
// goroutines until records are appended; [Manager.Close] waits for those.
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.Validate("streams"); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, errors.New("stream: no engine")
	}
	cfg = cfg.withDefaults()
	maxMsg := int(deps.Engine.Conn().MaxPayload()) - 1024 // room for the engine's headers
	cfg.MaxBatchBytes = min(cfg.MaxBatchBytes, maxMsg)
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	rc, err := deps.Engine.Connect("pricestream-stream-reader")
	if err != nil {
		return nil, err
	}
	rjs, err := jetstream.New(rc)
	if err != nil {
		return nil, fmt.Errorf("stream: jetstream: %w", err)
	}
	wc, err := deps.Engine.Connect("pricestream-stream-writer")
	if err != nil {
		return nil, err
	}
	m := &Manager{
		maxMsg:  maxMsg,
		rjs:     rjs,
		cfg:     cfg,
		eng:     deps.Engine,
		js:      deps.Engine.JetStream(),
		nc:      wc,
		rc:      rc,
		logger:  logger.With("component", "stream"),
		metrics: newMetrics(reg),
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.streams = make(map[string]*Stream)
	m.mu.consumers = make(map[consumerKey]*Consumer)
	if err := reg.Register(&lagCollector{m: m}); err != nil {
		return nil, fmt.Errorf("stream: register lag collector: %w", err)
	}
	return m, nil
}

// Close stops accepting appends, waits for in-flight writes to finish and
// returns. It is idempotent; the manager cannot be reused.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	m.mu.Unlock()
	m.wg.Wait()
	m.cancel()
	return nil
}

// Spec describes a stream to create.
type Spec struct {
	Name          string        `json:"name"`
	Partitions    int           `json:"partitions,omitempty"`      // default 4
	Retention     time.Duration `json:"retention,omitempty"`       // default 24h
	MaxRecordSize int           `json:"max_record_size,omitempty"` // bytes; default 1 MiB
	Description   string        `json:"description,omitempty"`

	defaultSize bool // MaxRecordSize was defaulted and may shrink to fit the engine
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,128}$`)

// ValidateName checks a stream name: 1-128 of a-z, A-Z, 0-9, '_', '.', '-'.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: stream name %q: want 1-128 characters of a-z, A-Z, 0-9, '_', '.', '-'", ErrInvalidArgument, name)
	}
	return nil
}

func (s *Spec) normalize() error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if s.Partitions == 0 {
		s.Partitions = DefaultPartitions
	}
	if s.Partitions < 1 || s.Partitions > MaxPartitions {
		errs = append(errs, fmt.Errorf("%w: partitions: must be 1-%d, got %d", ErrInvalidArgument, MaxPartitions, s.Partitions))
	}
	if s.Retention == 0 {
		s.Retention = DefaultRetention
	}
	if s.Retention < MinRetention {
		errs = append(errs, fmt.Errorf("%w: retention: must be at least %s, got %s", ErrInvalidArgument, MinRetention, s.Retention))
	}
	if s.MaxRecordSize == 0 {
		s.MaxRecordSize = DefaultMaxRecordSize
		s.defaultSize = true
	}
	if s.MaxRecordSize < 1 || s.MaxRecordSize > MaxRecordSizeLimit {
		errs = append(errs, fmt.Errorf("%w: max_record_size: must be 1-%d bytes, got %d", ErrInvalidArgument, MaxRecordSizeLimit, s.MaxRecordSize))
	}
	if len(s.Description) > 1024 {
		errs = append(errs, fmt.Errorf("%w: description: at most 1024 characters", ErrInvalidArgument))
	}
	return errors.Join(errs...)
}

// Info describes a stream.
type Info struct {
	Name          string          `json:"name"`
	Partitions    []PartitionInfo `json:"partitions"`
	Retention     time.Duration   `json:"retention"`
	MaxRecordSize int             `json:"max_record_size"`
	Description   string          `json:"description,omitempty"`
	Created       time.Time       `json:"created"`
	// Batches and Bytes are the engine messages (record batches) and bytes
	// stored now.
	Batches uint64 `json:"batches"`
	Bytes   uint64 `json:"bytes"`
}

// PartitionInfo describes one partition.
type PartitionInfo struct {
	ID        int       `json:"id"`
	HashRange HashRange `json:"-"`
	// StartingHashKey and EndingHashKey are the decimal bounds of HashRange.
	StartingHashKey string `json:"starting_hash_key"`
	EndingHashKey   string `json:"ending_hash_key"`
}

// definition is a stream's entry in the registry bucket, the source of
// truth for which streams exist. (JetStream stream metadata would serve, but
// NATS servers before 2.10 do not keep it.)
type definition struct {
	Name          string        `json:"name"`
	Partitions    int           `json:"partitions"`
	Retention     time.Duration `json:"retention"`
	MaxRecordSize int           `json:"max_record_size"`
	Description   string        `json:"description,omitempty"`
	Created       time.Time     `json:"created"`
}

func (d *definition) info() *Info {
	info := &Info{Name: d.Name, Retention: d.Retention, MaxRecordSize: d.MaxRecordSize, Description: d.Description, Created: d.Created}
	for i, r := range hashRanges(d.Partitions) {
		info.Partitions = append(info.Partitions, PartitionInfo{ID: i, HashRange: r, StartingHashKey: r.Start.String(), EndingHashKey: r.End.String()})
	}
	return info
}

func (m *Manager) registry(ctx context.Context) (jetstream.KeyValue, error) {
	m.regMu.Lock()
	defer m.regMu.Unlock()
	if m.reg != nil {
		return m.reg, nil
	}
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      m.eng.Name("kv", "streams"),
		Description: "pricestream: stream definitions",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("stream: registry bucket: %w", classify(m.nc, err))
	}
	m.reg = kv
	return kv, nil
}

// partitionName is the JetStream stream of one partition. Each partition
// has its own: the engine writes (and fsyncs) the messages of one JetStream
// stream one after the other, so partitions in separate streams are stored
// in parallel.
func (m *Manager) partitionName(stream string, part int) string {
	return m.eng.Name("stream", stream) + "_" + strconv.Itoa(part)
}

func (m *Manager) partitionConfig(d *definition, part int) jetstream.StreamConfig {
	// Medium blocks: a partition written without pause holds its newest
	// block in the engine's memory; 4 MB of it instead of 8.
	return engine.MediumBlocks(jetstream.StreamConfig{
		Name:        m.partitionName(d.Name, part),
		Description: fmt.Sprintf("pricestream stream %s partition %d", d.Name, part),
		Subjects:    []string{m.eng.Subject("stream", d.Name, strconv.Itoa(part))},
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
		MaxAge:      d.Retention,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	})
}

// createPartitions creates the partitions' engine streams, replacing any
// left over from a deletion that was interrupted (their records belong to
// the deleted stream).
func (m *Manager) createPartitions(ctx context.Context, d *definition) error {
	for p := range d.Partitions {
		sc := m.partitionConfig(d, p)
		_, err := m.js.CreateStream(ctx, sc)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			if err = m.js.DeleteStream(ctx, sc.Name); err == nil {
				_, err = m.js.CreateStream(ctx, sc)
			}
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (m *Manager) deletePartitions(ctx context.Context, d *definition) error {
	for p := range d.Partitions {
		if err := m.js.DeleteStream(ctx, m.partitionName(d.Name, p)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			return err
		}
	}
	return nil
}

// Create creates a stream. It returns ErrExists when one of that name exists.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Info, error) {
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	if fit := m.maxFittingRecord(); spec.MaxRecordSize > fit {
		if !spec.defaultSize {
			return nil, fmt.Errorf("%w: max_record_size %d does not fit the engine's message size limit (records up to %d bytes fit); raise the NATS server's max_payload", ErrInvalidArgument, spec.MaxRecordSize, fit)
		}
		spec.MaxRecordSize = fit
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	d := &definition{Name: spec.Name, Partitions: spec.Partitions, Retention: spec.Retention, MaxRecordSize: spec.MaxRecordSize, Description: spec.Description, Created: time.Now().UTC()}
	b, _ := json.Marshal(d)
	if _, err := reg.Create(ctx, keyToken(spec.Name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("%w: stream %q", ErrExists, spec.Name)
		}
		return nil, fmt.Errorf("create stream %q: %w", spec.Name, classify(m.nc, err))
	}
	if err := m.createPartitions(ctx, d); err != nil {
		dctx := context.WithoutCancel(ctx)
		_ = m.deletePartitions(dctx, d)
		_ = reg.Delete(dctx, keyToken(spec.Name))
		return nil, fmt.Errorf("create stream %q: %w", spec.Name, classify(m.nc, err))
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("create stream %q: %w", spec.Name, err)
	}
	m.logger.Info("stream created", "stream", spec.Name, "partitions", spec.Partitions, "retention", spec.Retention)
	return d.info(), nil
}

func (m *Manager) definition(ctx context.Context, name string) (*definition, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	e, err := reg.Get(ctx, keyToken(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: stream %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, fmt.Errorf("stream %q: %w", name, classify(m.nc, err))
	}
	d := new(definition)
	if err := json.Unmarshal(e.Value(), d); err != nil || d.Partitions < 1 {
		return nil, fmt.Errorf("stream %q: bad registry entry: %v", name, err)
	}
	return d, nil
}

// Describe returns the stream's description and current size.
func (m *Manager) Describe(ctx context.Context, name string) (*Info, error) {
	d, err := m.definition(ctx, name)
	if err != nil {
		return nil, err
	}
	info := d.info()
	for p := range d.Partitions {
		js, err := m.js.Stream(ctx, m.partitionName(name, p))
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			// Left over from a create interrupted before the engine
			// streams were made: make them now.
			js, err = m.js.CreateStream(ctx, m.partitionConfig(d, p))
		}
		if err != nil {
			return nil, fmt.Errorf("describe stream %q: %w", name, classify(m.nc, err))
		}
		st := js.CachedInfo().State
		info.Batches += st.Msgs
		info.Bytes += st.Bytes
	}
	return info, nil
}

// List returns every stream, sorted by name.
func (m *Manager) List(ctx context.Context) ([]*Info, error) {
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	l, err := reg.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list streams: %w", classify(m.nc, err))
	}
	var names []string
	for k := range l.Keys() {
		names = append(names, strings.ReplaceAll(k, "=", "."))
	}
	slices.Sort(names)
	out := make([]*Info, 0, len(names))
	for _, n := range names {
		info, err := m.Describe(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// Delete deletes the stream with its records and its consumers' positions.
func (m *Manager) Delete(ctx context.Context, name string) error {
	d, err := m.definition(ctx, name)
	if err != nil {
		return err
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return err
	}
	if err := reg.Purge(ctx, keyToken(name)); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, classify(m.nc, err))
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, err)
	}
	if err := m.deletePartitions(ctx, d); err != nil {
		return fmt.Errorf("delete stream %q: %w", name, classify(m.nc, err))
	}
	m.mu.Lock()
	delete(m.mu.streams, name)
	m.mu.Unlock()
	if err := m.deletePositions(ctx, name); err != nil {
		m.logger.Warn("stream deleted but its consumer positions were not", "stream", name, "err", err)
	}
	m.logger.Info("stream deleted", "stream", name)
	return nil
}

// maxFittingRecord is the largest record data that fits one engine message
// with the longest partition key. (MaxBatchBytes only bounds the merging of
// records; a larger record travels alone.)
func (m *Manager) maxFittingRecord() int {
	return m.maxMsg - batchHeaderMax - recordSize(&batchRecord{key: string(make([]byte, MaxPartitionKeyLen))})
}

// Open returns a handle on an existing stream. Handles are cached and shared.
func (m *Manager) Open(ctx context.Context, name string) (*Stream, error) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	s := m.mu.streams[name]
	m.mu.Unlock()
	if s != nil {
		return s, nil
	}
	d, err := m.definition(ctx, name)
	if err != nil {
		return nil, err
	}
	s = newStream(m, d.info())
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur := m.mu.streams[name]; cur != nil && cur.created.Equal(s.created) {
		return cur, nil
	}
	m.mu.streams[name] = s
	return s, nil
}

// forget drops a cached handle that the engine no longer knows.
func (m *Manager) forget(s *Stream) {
	m.mu.Lock()
	if m.mu.streams[s.name] == s {
		delete(m.mu.streams, s.name)
	}
	m.mu.Unlock()
}

// classify maps engine errors to this package's sentinels.
func classify(nc *nats.Conn, err error) error {
	if err == nil {
		return nil
	}
	var apiErr *jetstream.APIError
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound):
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case engine.StoreRefused(err):
		return fmt.Errorf("%w: engine could not store the write: %v", ErrUnavailable, err)
	case errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeJetStreamNotEnabled:
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, nats.ErrNoResponders):
		if nc.Status() != nats.CONNECTED {
			return fmt.Errorf("%w: %v", ErrUnavailable, err)
		}
		return fmt.Errorf("%w: %v", ErrNotFound, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected), errors.Is(err, jetstream.ErrJetStreamNotEnabled),
		errors.Is(err, nats.ErrReconnectBufExceeded), errors.Is(err, nats.ErrNoServers):
		// ErrReconnectBufExceeded: a publish while the connection to an
		// external server is down (the engine keeps no reconnect buffer).
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	case errors.Is(err, jetstream.ErrTooManyStalledMsgs), errors.Is(err, nats.ErrSlowConsumer):
		return fmt.Errorf("%w: %v", ErrThrottled, err)
	}
	return err
}
