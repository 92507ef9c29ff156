package table

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
	"github.com/pricestream/pricestream/internal/table/item"
)

// Deps are the manager's dependencies.
type Deps struct {
	Engine     *engine.Engine
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Manager creates, opens and deletes the tables of one engine, and runs
// their indexes and the compactor.
type Manager struct {
	cfg     Config
	eng     *engine.Engine
	js      jetstream.JetStream
	nc      *nats.Conn // writes and control
	rc      *nats.Conn // index consumers, change reads
	rjs     jetstream.JetStream
	logger  *slog.Logger
	metrics *metrics

	ctx    context.Context // lives until Close
	cancel context.CancelFunc
	wg     sync.WaitGroup // index goroutines and the compactor

	regMu sync.Mutex
	reg   jetstream.KeyValue
	posMu sync.Mutex
	pos   jetstream.KeyValue
	txnMu sync.Mutex
	txnOK bool

	decisions decisionCache
	kick      chan struct{} // asks the compactor for lock recovery now

	// apub publishes the asynchronous writes (Table.PutEncodedAsync); made
	// on first use, under apubMu.
	apubMu sync.Mutex
	apub   atomic.Pointer[engine.AsyncPublisher]

	mu struct {
		sync.Mutex
		closed bool
		tables map[string]*Table
	}
}

// New returns a manager of the tables on deps.Engine. It starts the
// compactor goroutine, and one index goroutine per table when the table is
// first opened; [Manager.Close] stops and waits for them all.
func New(cfg Config, deps Deps) (*Manager, error) {
	if err := cfg.Validate("tables"); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, errors.New("table: no engine")
	}
	cfg = cfg.withDefaults()
	switch {
	case cfg.SnapshotDir == "off":
		cfg.SnapshotDir = ""
	case cfg.SnapshotDir == "" && deps.Engine.Embedded():
		cfg.SnapshotDir = filepath.Join(deps.Engine.Config().DataDir, "table-index")
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	rc, err := deps.Engine.Connect("pricestream-table-reader")
	if err != nil {
		return nil, err
	}
	rjs, err := jetstream.New(rc)
	if err != nil {
		return nil, fmt.Errorf("table: jetstream: %w", err)
	}
	wc, err := deps.Engine.Connect("pricestream-table-writer")
	if err != nil {
		return nil, err
	}
	m := &Manager{
		cfg:     cfg,
		eng:     deps.Engine,
		js:      deps.Engine.JetStream(),
		nc:      wc,
		rc:      rc,
		rjs:     rjs,
		logger:  logger.With("component", "table"),
		metrics: newMetrics(reg),
	}
	m.decisions.init()
	m.kick = make(chan struct{}, 1)
	m.ctx, m.cancel = context.WithCancel(context.Background())
	m.mu.tables = make(map[string]*Table)
	if err := reg.Register(&indexCollector{m: m}); err != nil {
		return nil, fmt.Errorf("table: register index collector: %w", err)
	}
	m.wg.Go(m.runCompactor)
	if cfg.SnapshotDir != "" {
		m.wg.Go(func() {
			pprof.Do(m.ctx, pprof.Labels("role", "table-snapshots"), m.runSnapshots)
		})
	}
	return m, nil
}

// Close stops the indexes and the compactor and waits for them, then
// writes the index snapshot of every open table that changed since its
// last one (so the next start loads it). It is idempotent; the manager
// cannot be reused. Writes in flight finish or fail with ErrClosed.
func (m *Manager) Close() error {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil
	}
	m.mu.closed = true
	tables := make([]*Table, 0, len(m.mu.tables))
	for _, t := range m.mu.tables {
		tables = append(tables, t)
	}
	m.mu.Unlock()
	m.cancel()
	for _, t := range tables {
		t.ix.stop()
	}
	m.wg.Wait()
	m.closeAsyncPublisher()
	for _, t := range tables {
		if _, err := m.writeSnapshot(t); err != nil {
			m.logger.Warn("table index snapshot at shutdown", "table", t.name, "err", err)
		}
	}
	return nil
}

// goRun runs fn on a goroutine the manager waits for, or calls closed
// instead when the manager is closed.
func (m *Manager) goRun(fn, closed func()) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		closed()
		return
	}
	m.wg.Add(1)
	m.mu.Unlock()
	go func() {
		defer m.wg.Done()
		fn()
	}()
}

// ViewType says which images a table's change stream carries, as
// DynamoDB's StreamViewType.
type ViewType string

// The view types. ViewNone (the zero value) keeps no old images; the change
// stream then carries keys and new images, and the DynamoDB Streams API
// does not list the table.
const (
	ViewNone          ViewType = ""
	ViewKeysOnly      ViewType = "KEYS_ONLY"
	ViewNewImage      ViewType = "NEW_IMAGE"
	ViewOldImage      ViewType = "OLD_IMAGE"
	ViewNewAndOldImgs ViewType = "NEW_AND_OLD_IMAGES"
)

// ParseViewType parses a view type name; "" and "NONE" give ViewNone.
func ParseViewType(s string) (ViewType, error) {
	switch v := ViewType(strings.ToUpper(s)); v {
	case ViewNone, "NONE":
		return ViewNone, nil
	case ViewKeysOnly, ViewNewImage, ViewOldImage, ViewNewAndOldImgs:
		return v, nil
	}
	return "", invalid("stream view type %q: want KEYS_ONLY, NEW_IMAGE, OLD_IMAGE or NEW_AND_OLD_IMAGES", s)
}

// History says which versions of its items a table's change stream keeps.
type History string

// The histories.
const (
	// HistoryAll (the default; "" reads as it) keeps every change for
	// the table's change retention, as DynamoDB Streams does: a consumer
	// that falls behind still gets each change, in order.
	HistoryAll History = "all"
	// HistoryLatest keeps each item's newest version only, as a compacted
	// Kafka topic does: a write replaces the item's previous version in
	// the engine, so the table takes one version per item on disk,
	// whatever its write rate, and a consumer that falls behind gets each
	// item's newest change, not every one in between. For tables whose
	// readers want the newest state of each key (features, aggregates),
	// written often.
	HistoryLatest History = "latest"
)

// ParseHistory parses a history name; "" gives HistoryAll.
func ParseHistory(s string) (History, error) {
	switch h := History(strings.ToLower(s)); h {
	case "", HistoryAll:
		return HistoryAll, nil
	case HistoryLatest:
		return h, nil
	}
	return "", invalid("change history %q: want all or latest", s)
}

// WriteMode says how a table stores its writes.
type WriteMode string

// The write modes.
const (
	// WritesItem (the default; "" reads as it) stores each write as one
	// engine message on its item's subject: every write can be
	// conditional (the engine checks the item's last version), and
	// transactions, UpdateItem, Time to Live and HistoryLatest work.
	WritesItem WriteMode = "item"
	// WritesBatched stores the writes that come while the table's
	// previous write is being stored as one engine message (group
	// commit), for a table one writer fills fast with whole items (an ETL
	// job's sink): a write then costs a fraction of an engine message
	// (BenchmarkTableRowSinkWrites). Only unconditional puts and deletes
	// are taken (PutItem, DeleteItem, BatchWriteItem); conditions,
	// UpdateItem, transactions and Time to Live are refused with
	// ErrInvalidArgument, and the change history is HistoryAll. A
	// change's sequence number counts the table's changes one by one.
	// The change retention is kept by rewriting, before a batch is
	// removed, the items whose current version it still holds
	// (compact_batch.go); the rewrites are not changes. Which of two
	// processes writing one key at once wins is not defined; the change
	// stream shows both writes in the order stored.
	WritesBatched WriteMode = "batched"
)

// ParseWriteMode parses a write mode name; "" gives WritesItem.
func ParseWriteMode(s string) (WriteMode, error) {
	switch w := WriteMode(strings.ToLower(s)); w {
	case "", WritesItem:
		return WritesItem, nil
	case WritesBatched:
		return w, nil
	}
	return "", invalid("writes %q: want item or batched", s)
}

// needsOld reports whether the view type carries old images, which writes
// then store.
func (v ViewType) needsOld() bool { return v == ViewOldImage || v == ViewNewAndOldImgs }

// Spec describes a table to create.
type Spec struct {
	// Name: 3-255 of a-z, A-Z, 0-9, '_', '.', '-'.
	Name string
	// Key is the primary key: a partition key and an optional sort key.
	Key item.KeySchema
	// StreamView says which images the change stream carries.
	StreamView ViewType
	// ChangeRetention is how long change history is kept (with
	// HistoryLatest, how long a deleted item's tombstone is). Default 24h.
	ChangeRetention time.Duration
	// ChangeHistory says which versions the change stream keeps: every
	// change for ChangeRetention (HistoryAll, the default) or each item's
	// newest (HistoryLatest).
	ChangeHistory History
	// TTLAttribute names the attribute that says when an item expires, as
	// DynamoDB's Time to Live does: a number of seconds since the Unix
	// epoch. Once that time has passed the table deletes the item (within
	// Config.CompactInterval), and the change stream shows the deletion
	// as a REMOVE with [Change.Expired] set. Items without the attribute,
	// or whose attribute is not a number, never expire. Empty: none.
	// [Manager.UpdateTTL] changes it.
	TTLAttribute string
	// Writes says how writes are stored: WritesItem (the default) or
	// WritesBatched. It cannot change once the table exists.
	Writes WriteMode
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_.-]{3,255}$`)

// ValidateName checks a table name as DynamoDB does.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return invalid("table name %q: want 3-255 characters of a-z, A-Z, 0-9, '_', '.', '-'", name)
	}
	return nil
}

func (s *Spec) normalize() error {
	var errs []error
	if err := ValidateName(s.Name); err != nil {
		errs = append(errs, err)
	}
	if err := s.Key.Validate(); err != nil {
		errs = append(errs, fmt.Errorf("%w: key schema: %v", ErrInvalidArgument, err))
	}
	if _, err := ParseViewType(string(s.StreamView)); err != nil {
		errs = append(errs, err)
	}
	if s.ChangeRetention == 0 {
		s.ChangeRetention = DefaultRetention
	}
	if h, err := ParseHistory(string(s.ChangeHistory)); err != nil {
		errs = append(errs, err)
	} else {
		s.ChangeHistory = h
	}
	if s.ChangeRetention < MinRetention {
		errs = append(errs, invalid("change retention: must be at least %s, got %s", MinRetention, s.ChangeRetention))
	}
	if err := validateTTLAttribute(s.TTLAttribute); err != nil {
		errs = append(errs, err)
	}
	if w, err := ParseWriteMode(string(s.Writes)); err != nil {
		errs = append(errs, err)
	} else {
		s.Writes = w
	}
	if s.Writes == WritesBatched {
		if s.ChangeHistory == HistoryLatest {
			errs = append(errs, invalid("writes batched: the change history must be all, not latest (a batch holds many items' versions, which the engine cannot remove one by one)"))
		}
		if s.TTLAttribute != "" {
			errs = append(errs, invalid("writes batched: a table of batched writes has no Time to Live"))
		}
	}
	return errors.Join(errs...)
}

// validateTTLAttribute checks a TTL attribute name as DynamoDB does (1 to
// 255 bytes); empty means none.
func validateTTLAttribute(name string) error {
	if len(name) > 255 {
		return invalid("ttl attribute: at most 255 bytes, got %d", len(name))
	}
	return nil
}

// Info describes a table.
type Info struct {
	Name            string
	Key             item.KeySchema
	StreamView      ViewType
	ChangeRetention time.Duration
	ChangeHistory   History
	// TTLAttribute is the attribute whose time expires an item; empty
	// when the table has none ([Spec.TTLAttribute]).
	TTLAttribute string
	// Writes says how the table stores its writes ([Spec.Writes]).
	Writes  WriteMode
	Created time.Time
	// ID tells apart tables that had the same name at different times; it
	// labels the DynamoDB stream ARN.
	ID string
	// Items and Bytes are the items and their binary size, as the index
	// holds them (zero when the table is not open in this process).
	Items int64
	Bytes int64
	// Messages and StreamBytes are what the engine stores: item versions,
	// history and markers.
	Messages    uint64
	StreamBytes uint64
}

// definition is a table's entry in the registry bucket, the source of
// truth for which tables exist (NATS servers before 2.10 keep no stream
// metadata).
type definition struct {
	Name            string        `json:"name"`
	Partition       keyAttrJSON   `json:"partition_key"`
	Sort            *keyAttrJSON  `json:"sort_key,omitempty"`
	StreamView      ViewType      `json:"stream_view,omitempty"`
	ChangeRetention time.Duration `json:"change_retention"`
	ChangeHistory   History       `json:"change_history,omitempty"` // "" for tables made before it existed: all
	TTLAttribute    string        `json:"ttl_attribute,omitempty"`
	Writes          WriteMode     `json:"writes,omitempty"` // "" for tables made before it existed: item
	Created         time.Time     `json:"created"`
	ID              string        `json:"id"`
}

type keyAttrJSON struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

func (d *definition) schema() (item.KeySchema, error) {
	var ks item.KeySchema
	t, ok := item.ParseType(d.Partition.Type)
	if !ok {
		return ks, fmt.Errorf("bad partition key type %q", d.Partition.Type)
	}
	ks.Partition = item.KeyAttribute{Name: d.Partition.Name, Type: t}
	if d.Sort != nil {
		t, ok := item.ParseType(d.Sort.Type)
		if !ok {
			return ks, fmt.Errorf("bad sort key type %q", d.Sort.Type)
		}
		ks.Sort = item.KeyAttribute{Name: d.Sort.Name, Type: t}
	}
	return ks, ks.Validate()
}

func (d *definition) info() *Info {
	ks, _ := d.schema()
	return &Info{Name: d.Name, Key: ks, StreamView: d.StreamView, ChangeRetention: d.ChangeRetention, ChangeHistory: d.history(), TTLAttribute: d.TTLAttribute, Writes: d.writes(), Created: d.Created, ID: d.ID}
}

// writes is the table's write mode, WritesItem for definitions that
// predate the setting.
func (d *definition) writes() WriteMode {
	if d.Writes == "" {
		return WritesItem
	}
	return d.Writes
}

// history is the table's change history, HistoryAll for definitions that
// predate the setting.
func (d *definition) history() History {
	if d.ChangeHistory == "" {
		return HistoryAll
	}
	return d.ChangeHistory
}

// regKey makes a table name usable as a key-value key.
func regKey(name string) string { return strings.ReplaceAll(name, ".", "=") }

func (m *Manager) registry(ctx context.Context) (jetstream.KeyValue, error) {
	m.regMu.Lock()
	defer m.regMu.Unlock()
	if m.reg != nil {
		return m.reg, nil
	}
	kv, err := m.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      m.eng.Name("kv", "tables"),
		Description: "pricestream: table definitions",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("table: registry bucket: %w", classify(m.nc, err))
	}
	m.reg = kv
	return kv, nil
}

func (m *Manager) jsName(table string) string { return m.eng.Name("table", table) }

func (m *Manager) streamConfig(d *definition) jetstream.StreamConfig {
	sc := jetstream.StreamConfig{
		Name:        m.jsName(d.Name),
		Description: "pricestream table " + d.Name,
		Subjects:    []string{m.eng.Subject("table", d.Name) + ".*"},
		Storage:     jetstream.FileStorage,
		Replicas:    m.cfg.Replicas,
		Discard:     jetstream.DiscardOld,
		AllowDirect: true,
	}
	if d.history() == HistoryLatest {
		// The engine removes an item's previous version as it stores the
		// next (a lock marker holds the item it replaces; see txn.go).
		sc.MaxMsgsPerSubject = 1
	}
	// A table keeping every version is stored in the engine's medium
	// blocks (4 MB, not 8: half the memory its newest block holds), as a
	// table keeping the newest only already is.
	return engine.MediumBlocks(sc)
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create creates a table. It returns ErrExists when one of that name
// exists.
func (m *Manager) Create(ctx context.Context, spec Spec) (*Info, error) {
	if err := spec.normalize(); err != nil {
		return nil, err
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	d := &definition{
		Name: spec.Name, Partition: keyAttrJSON{spec.Key.Partition.Name, spec.Key.Partition.Type.String()},
		StreamView: spec.StreamView, ChangeRetention: spec.ChangeRetention, ChangeHistory: spec.ChangeHistory, TTLAttribute: spec.TTLAttribute, Created: time.Now().UTC(), ID: newID(),
	}
	if spec.Writes == WritesBatched {
		d.Writes = WritesBatched // item tables keep the definition they had
	}
	if spec.Key.HasSort() {
		d.Sort = &keyAttrJSON{spec.Key.Sort.Name, spec.Key.Sort.Type.String()}
	}
	b, _ := json.Marshal(d)
	if _, err := reg.Create(ctx, regKey(spec.Name), b); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil, fmt.Errorf("%w: table %q", ErrExists, spec.Name)
		}
		return nil, fmt.Errorf("create table %q: %w", spec.Name, classify(m.nc, err))
	}
	sc := m.streamConfig(d)
	_, err = m.js.CreateStream(ctx, sc)
	if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
		// Left over from an interrupted deletion: its items belong to the
		// deleted table.
		if err = m.js.DeleteStream(ctx, sc.Name); err == nil {
			_, err = m.js.CreateStream(ctx, sc)
		}
	}
	if err != nil {
		_ = reg.Delete(context.WithoutCancel(ctx), regKey(spec.Name))
		return nil, fmt.Errorf("create table %q: %w", spec.Name, classify(m.nc, err))
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("create table %q: %w", spec.Name, err)
	}
	m.logger.Info("table created", "table", spec.Name, "stream_view", string(spec.StreamView), "change_retention", spec.ChangeRetention, "change_history", string(spec.ChangeHistory), "writes", string(spec.Writes))
	return d.info(), nil
}

func (m *Manager) definition(ctx context.Context, name string) (*definition, error) {
	d, _, err := m.definitionEntry(ctx, name)
	return d, err
}

// definitionEntry returns the table's definition with the revision of its
// registry entry.
func (m *Manager) definitionEntry(ctx context.Context, name string) (*definition, uint64, error) {
	if err := ValidateName(name); err != nil {
		return nil, 0, err
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, 0, err
	}
	e, err := reg.Get(ctx, regKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: table %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("table %q: %w", name, classify(m.nc, err))
	}
	d := new(definition)
	if err := json.Unmarshal(e.Value(), d); err != nil {
		return nil, 0, fmt.Errorf("table %q: bad registry entry: %v", name, err)
	}
	if _, err := d.schema(); err != nil {
		return nil, 0, fmt.Errorf("table %q: bad registry entry: %v", name, err)
	}
	return d, e.Revision(), nil
}

// Describe returns the table's description and size.
func (m *Manager) Describe(ctx context.Context, name string) (*Info, error) {
	d, err := m.definition(ctx, name)
	if err != nil {
		return nil, err
	}
	info := d.info()
	s, err := m.js.Stream(ctx, m.jsName(name))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		// Left over from a create interrupted before the engine stream
		// was made: make it now.
		s, err = m.js.CreateStream(ctx, m.streamConfig(d))
	}
	if err != nil {
		return nil, fmt.Errorf("describe table %q: %w", name, classify(m.nc, err))
	}
	st := s.CachedInfo().State
	info.Messages, info.StreamBytes = st.Msgs, st.Bytes
	m.mu.Lock()
	t := m.mu.tables[name]
	m.mu.Unlock()
	if t != nil && t.id == d.ID {
		if err := t.ix.waitFor(ctx, t.lastWrite.Load()); err != nil {
			return nil, err
		}
		info.Items, info.Bytes = t.ix.size()
	}
	return info, nil
}

// List returns every table, sorted by name.
func (m *Manager) List(ctx context.Context) ([]*Info, error) {
	reg, err := m.registry(ctx)
	if err != nil {
		return nil, err
	}
	l, err := reg.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", classify(m.nc, err))
	}
	var names []string
	for k := range l.Keys() {
		names = append(names, strings.ReplaceAll(k, "=", "."))
	}
	slices.Sort(names)
	out := make([]*Info, 0, len(names))
	for _, n := range names {
		d, err := m.definition(ctx, n)
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, d.info())
	}
	return out, nil
}

// Delete deletes the table with its items, change history and readers'
// positions.
func (m *Manager) Delete(ctx context.Context, name string) error {
	d, err := m.definition(ctx, name)
	if err != nil {
		return err
	}
	reg, err := m.registry(ctx)
	if err != nil {
		return err
	}
	if err := reg.Purge(ctx, regKey(name)); err != nil {
		return fmt.Errorf("delete table %q: %w", name, classify(m.nc, err))
	}
	if err := m.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("delete table %q: %w", name, err)
	}
	m.mu.Lock()
	t := m.mu.tables[name]
	delete(m.mu.tables, name)
	m.mu.Unlock()
	if t != nil {
		t.ix.gone.Store(true)
		t.ix.stop()
	}
	if err := m.js.DeleteStream(ctx, m.jsName(name)); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("delete table %q: %w", name, classify(m.nc, err))
	}
	m.removeSnapshot(d.ID)
	if err := m.deletePositions(ctx, name); err != nil {
		m.logger.Warn("table deleted but its readers' positions were not", "table", name, "err", err)
	}
	m.logger.Info("table deleted", "table", name)
	return nil
}

// Open returns a handle on an existing table, once its index has caught up
// with the engine. Handles are cached and shared; the first Open of a table
// in a process builds its index by reading the table's engine stream.
func (m *Manager) Open(ctx context.Context, name string) (*Table, error) {
	m.mu.Lock()
	if m.mu.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	t := m.mu.tables[name]
	m.mu.Unlock()
	if t == nil {
		d, err := m.definition(ctx, name)
		if err != nil {
			return nil, err
		}
		m.mu.Lock()
		if m.mu.closed {
			m.mu.Unlock()
			return nil, ErrClosed
		}
		if t = m.mu.tables[name]; t == nil {
			t, err = newTable(m, d)
			if err != nil {
				m.mu.Unlock()
				return nil, err
			}
			m.mu.tables[name] = t
			t.ix.start()
		}
		m.mu.Unlock()
	}
	if err := t.ix.waitReady(ctx); err != nil {
		switch {
		case errors.Is(err, ErrNotFound):
			m.forget(t)
		case t.ix.failed():
			// The index stopped (the engine was unreachable when it
			// started, say): the next Open starts another instead of
			// returning this error until the process restarts.
			m.drop(t)
		}
		return nil, err
	}
	return t, nil
}

// forget drops a cached handle whose table the engine no longer has.
func (m *Manager) forget(t *Table) {
	t.ix.gone.Store(true)
	m.drop(t)
}

// drop removes a cached handle and stops its index.
func (m *Manager) drop(t *Table) {
	m.mu.Lock()
	if m.mu.tables[t.name] == t {
		delete(m.mu.tables, t.name)
	}
	m.mu.Unlock()
	t.ix.stop()
}

func (m *Manager) openTables() []*Table {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]*Table, 0, len(m.mu.tables))
	for _, t := range m.mu.tables {
		out = append(out, t)
	}
	return out
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
		errors.Is(err, nats.ErrConnectionDraining), errors.Is(err, nats.ErrDrainTimeout):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// isWrongLastSeq reports whether err is the engine refusing a publish whose
// expected last subject sequence was not the subject's last.
func isWrongLastSeq(err error) bool { return engine.IsWrongLastSeq(err) }
