package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/pricestream/pricestream/internal/engine"
)

// Config configures the catalog. A zero field means its default.
type Config struct {
	// Replicas of the catalog bucket in a NATS cluster. Default 1.
	Replicas int `yaml:"replicas" json:"replicas"`
	// WriteRetries bounds how often a write that lost a race with another
	// writer of the same table is recomputed and retried before it fails
	// with ErrConflict. Default 10.
	WriteRetries int `yaml:"write_retries" json:"write_retries"`
}

// DefaultConfig returns the configuration with every default filled in.
func DefaultConfig() Config { return Config{}.withDefaults() }

func (c Config) withDefaults() Config {
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.WriteRetries == 0 {
		c.WriteRetries = 10
	}
	return c
}

// Validate reports every problem at once, each prefixed with its path.
func (c Config) Validate(prefix string) error {
	var errs []error
	if c.Replicas < 0 || c.Replicas > 5 {
		errs = append(errs, fmt.Errorf("%s.replicas: must be 1-5, got %d", prefix, c.Replicas))
	}
	if c.WriteRetries < 0 {
		errs = append(errs, fmt.Errorf("%s.write_retries: must be >= 0, got %d", prefix, c.WriteRetries))
	}
	return errors.Join(errs...)
}

// Deps are the catalog's dependencies.
type Deps struct {
	Engine     *engine.Engine
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Catalog is the data catalog of one engine: databases, tables with every
// version of their definitions, and the bindings of streams to tables for
// ingest checks. It is safe for concurrent use.
type Catalog struct {
	cfg     Config
	eng     *engine.Engine
	nc      *nats.Conn
	logger  *slog.Logger
	metrics *metrics

	kvMu sync.Mutex
	kv   jetstream.KeyValue

	cache cache // stream bindings, kept current by Start's watcher

	// decoded keeps the last decoded definition of each table key with its
	// revision: definitions are immutable, so a read of an unchanged table
	// costs the engine's get alone.
	decoded struct {
		sync.Mutex
		m map[string]decodedTable
	}
}

type decodedTable struct {
	rev uint64
	t   *Table
}

// maxDecoded bounds the decoded-definition cache.
const maxDecoded = 10_000

// New returns the catalog on deps.Engine. It starts no goroutines; the
// watcher that keeps stream bindings current starts with [Catalog.Start].
func New(cfg Config, deps Deps) (*Catalog, error) {
	if err := cfg.Validate("catalog"); err != nil {
		return nil, err
	}
	if deps.Engine == nil {
		return nil, errors.New("catalog: no engine")
	}
	logger := deps.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	reg := deps.Registerer
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	c := &Catalog{
		cfg:     cfg.withDefaults(),
		eng:     deps.Engine,
		nc:      deps.Engine.Conn(),
		logger:  logger.With("component", "catalog"),
		metrics: newMetrics(reg),
	}
	c.cache.init()
	return c, nil
}

// bucket returns the catalog's key-value bucket, creating it on first use.
func (c *Catalog) bucket(ctx context.Context) (jetstream.KeyValue, error) {
	c.kvMu.Lock()
	defer c.kvMu.Unlock()
	if c.kv != nil {
		return c.kv, nil
	}
	kv, err := c.eng.JetStream().CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      c.eng.Name("kv", "catalog"),
		Description: "pricestream: data catalog (databases, table versions, stream bindings)",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    c.cfg.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("catalog: bucket: %w", c.classify(err))
	}
	c.kv = kv
	return kv, nil
}

// classify maps engine errors to this package's sentinels.
func (c *Catalog) classify(err error) error {
	switch {
	case err == nil:
		return nil
	case engine.StoreRefused(err):
		return fmt.Errorf("%w: engine could not store the write: %v", ErrUnavailable, err)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled), errors.Is(err, nats.ErrTimeout),
		errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionReconnecting), errors.Is(err, nats.ErrDisconnected),
		errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse), errors.Is(err, jetstream.ErrJetStreamNotEnabled):
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	return err
}

// isCASFailure reports whether err is a lost compare-and-set: a Create of
// a key that exists or an Update at a revision that is no longer the last.
func isCASFailure(err error) bool {
	return errors.Is(err, jetstream.ErrKeyExists) || errors.Is(err, jetstream.ErrKeyRevisionMismatch)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// scan returns the current entries of the keys matching pattern (a KV
// key pattern with * and >), in key order.
func (c *Catalog) scan(ctx context.Context, kv jetstream.KeyValue, pattern string) ([]jetstream.KeyValueEntry, error) {
	w, err := kv.Watch(ctx, pattern, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, c.classify(err)
	}
	defer func() { _ = w.Stop() }()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e, ok := <-w.Updates():
			if !ok {
				return nil, fmt.Errorf("%w: watch of %s ended", ErrUnavailable, pattern)
			}
			if e == nil {
				slices.SortFunc(out, func(a, b jetstream.KeyValueEntry) int { return strings.Compare(a.Key(), b.Key()) })
				return out, nil
			}
			out = append(out, e)
		case <-ctx.Done():
			return nil, c.classify(ctx.Err())
		}
	}
}

// CreateDatabase creates a database. It returns ErrExists when one of that
// name exists.
func (c *Catalog) CreateDatabase(ctx context.Context, d Database) (*Database, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	d.Created = now()
	d.Updated = d.Created
	b, _ := json.Marshal(&d)
	if _, err := kv.Create(ctx, dbKey(d.Name), b); err != nil {
		if isCASFailure(err) {
			return nil, fmt.Errorf("%w: database %q", ErrExists, d.Name)
		}
		return nil, fmt.Errorf("catalog: create database %q: %w", d.Name, c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("catalog: create database %q: %w", d.Name, err)
	}
	c.logger.Info("database created", "database", d.Name)
	return &d, nil
}

// UpdateDatabase replaces the description and parameters of a database.
func (c *Catalog) UpdateDatabase(ctx context.Context, d Database) (*Database, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	for range c.cfg.WriteRetries + 1 {
		cur, rev, err := c.getDatabase(ctx, kv, d.Name)
		if err != nil {
			return nil, err
		}
		d.Created, d.Updated = cur.Created, now()
		b, _ := json.Marshal(&d)
		if _, err := kv.Update(ctx, dbKey(d.Name), b, rev); err != nil {
			if isCASFailure(err) {
				continue
			}
			return nil, fmt.Errorf("catalog: update database %q: %w", d.Name, c.classify(err))
		}
		if err := c.eng.SyncAll(ctx); err != nil {
			return nil, fmt.Errorf("catalog: update database %q: %w", d.Name, err)
		}
		return &d, nil
	}
	return nil, fmt.Errorf("%w: database %q kept changing", ErrConflict, d.Name)
}

func (c *Catalog) getDatabase(ctx context.Context, kv jetstream.KeyValue, name string) (*Database, uint64, error) {
	if err := ValidateName(name); err != nil {
		return nil, 0, fmt.Errorf("%w: database %v", ErrInvalid, err)
	}
	e, err := kv.Get(ctx, dbKey(name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, fmt.Errorf("%w: database %q", ErrNotFound, name)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("catalog: database %q: %w", name, c.classify(err))
	}
	d := new(Database)
	if err := json.Unmarshal(e.Value(), d); err != nil {
		return nil, 0, fmt.Errorf("catalog: database %q: bad entry: %w", name, err)
	}
	return d, e.Revision(), nil
}

// GetDatabase returns a database.
func (c *Catalog) GetDatabase(ctx context.Context, name string) (*Database, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	d, _, err := c.getDatabase(ctx, kv, name)
	return d, err
}

// ListDatabases returns every database, sorted by name.
func (c *Catalog) ListDatabases(ctx context.Context) ([]*Database, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := c.scan(ctx, kv, "db.*")
	if err != nil {
		return nil, fmt.Errorf("catalog: list databases: %w", err)
	}
	out := make([]*Database, 0, len(entries))
	for _, e := range entries {
		d := new(Database)
		if err := json.Unmarshal(e.Value(), d); err != nil {
			return nil, fmt.Errorf("catalog: %s: bad entry: %w", e.Key(), err)
		}
		out = append(out, d)
	}
	return out, nil
}

// DeleteDatabase deletes a database. A database that holds tables is
// refused with ErrConflict unless cascade is set, which deletes its tables
// (with their versions) first.
func (c *Catalog) DeleteDatabase(ctx context.Context, name string, cascade bool) error {
	kv, err := c.bucket(ctx)
	if err != nil {
		return err
	}
	if _, _, err := c.getDatabase(ctx, kv, name); err != nil {
		return err
	}
	tables, err := c.ListTables(ctx, name)
	if err != nil {
		return err
	}
	if len(tables) > 0 && !cascade {
		return fmt.Errorf("%w: database %q holds %d tables; delete them first, or cascade", ErrConflict, name, len(tables))
	}
	for _, t := range tables {
		if err := c.DeleteTable(ctx, name, t.Name); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	if err := kv.Purge(ctx, dbKey(name)); err != nil {
		return fmt.Errorf("catalog: delete database %q: %w", name, c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("catalog: delete database %q: %w", name, err)
	}
	c.logger.Info("database deleted", "database", name, "tables", len(tables))
	return nil
}

// decodeTable reads a stored definition. It does not re-check the
// definition (rules may have tightened since it was stored): only its
// types must parse.
func decodeTable(b []byte) (*Table, error) {
	var j tableJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return nil, err
	}
	var ps problems
	t := j.build(&ps)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return t, nil
}

func encodeTable(t *Table) []byte {
	b, err := json.Marshal(t)
	if err != nil {
		panic("catalog: encode table: " + err.Error()) // every part of a checked Table encodes
	}
	return b
}

// getTable reads the latest version of a table and its revision.
func (c *Catalog) getTable(ctx context.Context, kv jetstream.KeyValue, db, name string) (*Table, jetstream.KeyValueEntry, error) {
	if err := ValidateName(db); err != nil {
		return nil, nil, fmt.Errorf("%w: database %v", ErrInvalid, err)
	}
	if err := ValidateName(name); err != nil {
		return nil, nil, fmt.Errorf("%w: table %v", ErrInvalid, err)
	}
	e, err := kv.Get(ctx, tableKey(db, name))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, nil, fmt.Errorf("%w: table %s.%s", ErrNotFound, db, name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: table %s.%s: %w", db, name, c.classify(err))
	}
	key := e.Key()
	c.decoded.Lock()
	d, ok := c.decoded.m[key]
	c.decoded.Unlock()
	if ok && d.rev == e.Revision() {
		return d.t, e, nil
	}
	t, err := decodeTable(e.Value())
	if err != nil {
		return nil, nil, fmt.Errorf("catalog: table %s.%s: bad entry: %w", db, name, err)
	}
	c.decoded.Lock()
	if c.decoded.m == nil || len(c.decoded.m) >= maxDecoded {
		c.decoded.m = make(map[string]decodedTable)
	}
	c.decoded.m[key] = decodedTable{rev: e.Revision(), t: t}
	c.decoded.Unlock()
	return t, e, nil
}

// GetTable returns the latest version of a table.
func (c *Catalog) GetTable(ctx context.Context, db, name string) (*Table, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	t, _, err := c.getTable(ctx, kv, db, name)
	return t, err
}

// GetTableVersion returns version v of a table (the latest when v is 0).
func (c *Catalog) GetTableVersion(ctx context.Context, db, name string, v int) (*Table, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	latest, _, err := c.getTable(ctx, kv, db, name)
	if err != nil {
		return nil, err
	}
	switch {
	case v == 0 || v == latest.Version:
		return latest, nil
	case v < 0 || v > latest.Version:
		return nil, fmt.Errorf("%w: version %d of table %s.%s (versions 1-%d)", ErrNotFound, v, db, name, latest.Version)
	}
	e, err := kv.Get(ctx, versionKey(db, name, v))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: version %d of table %s.%s", ErrNotFound, v, db, name)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: table %s.%s version %d: %w", db, name, v, c.classify(err))
	}
	t, err := decodeTable(e.Value())
	if err != nil {
		return nil, fmt.Errorf("catalog: table %s.%s version %d: bad entry: %w", db, name, v, err)
	}
	if t.Version != v || !t.Created.Equal(latest.Created) {
		// left over from a table of that name deleted while being written
		return nil, fmt.Errorf("%w: version %d of table %s.%s", ErrNotFound, v, db, name)
	}
	return t, nil
}

// TableVersions returns every version of a table, oldest first.
func (c *Catalog) TableVersions(ctx context.Context, db, name string) ([]*Table, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	latest, _, err := c.getTable(ctx, kv, db, name)
	if err != nil {
		return nil, err
	}
	return c.versions(ctx, kv, latest)
}

func (c *Catalog) versions(ctx context.Context, kv jetstream.KeyValue, latest *Table) ([]*Table, error) {
	entries, err := c.scan(ctx, kv, versionPrefix(latest.Database, latest.Name)+"*")
	if err != nil {
		return nil, fmt.Errorf("catalog: versions of %s: %w", latest.FullName(), err)
	}
	byVersion := make(map[int]*Table, len(entries)+1)
	for _, e := range entries {
		t, err := decodeTable(e.Value())
		if err != nil {
			return nil, fmt.Errorf("catalog: %s: bad entry: %w", e.Key(), err)
		}
		// versions of an earlier table of that name, or the latest written
		// ahead of a lost race, are not history
		if t.Version < latest.Version && t.Created.Equal(latest.Created) {
			byVersion[t.Version] = t
		}
	}
	byVersion[latest.Version] = latest
	out := make([]*Table, 0, len(byVersion))
	for v := 1; v <= latest.Version; v++ {
		if t := byVersion[v]; t != nil {
			out = append(out, t)
		}
	}
	return out, nil
}

// ListTables returns the latest version of every table of a database,
// sorted by name.
func (c *Catalog) ListTables(ctx context.Context, db string) ([]*Table, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	if _, _, err := c.getDatabase(ctx, kv, db); err != nil {
		return nil, err
	}
	entries, err := c.scan(ctx, kv, "tbl."+db+".*")
	if err != nil {
		return nil, fmt.Errorf("catalog: list tables of %q: %w", db, err)
	}
	out := make([]*Table, 0, len(entries))
	for _, e := range entries {
		t, err := decodeTable(e.Value())
		if err != nil {
			return nil, fmt.Errorf("catalog: %s: bad entry: %w", e.Key(), err)
		}
		out = append(out, t)
	}
	return out, nil
}

// CreateTable creates a table as version 1 of its definition. The database
// must exist; a table of that name must not (ErrExists). The schema is not
// checked for compatibility (there is nothing to be compatible with).
func (c *Catalog) CreateTable(ctx context.Context, t *Table) (*Table, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	return c.createTable(ctx, kv, t)
}

func (c *Catalog) createTable(ctx context.Context, kv jetstream.KeyValue, t *Table) (*Table, error) {
	if _, _, err := c.getDatabase(ctx, kv, t.Database); err != nil {
		return nil, err
	}
	n := t.Clone()
	n.Version = 1
	n.Created = now()
	n.Updated = n.Created
	if _, err := kv.Create(ctx, tableKey(n.Database, n.Name), encodeTable(n)); err != nil {
		if isCASFailure(err) {
			return nil, fmt.Errorf("%w: table %s", ErrExists, n.FullName())
		}
		return nil, fmt.Errorf("catalog: create table %s: %w", n.FullName(), c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("catalog: create table %s: %w", n.FullName(), err)
	}
	c.logger.Info("table created", "database", n.Database, "table", n.Name, "columns", n.Schema.Len())
	c.cache.tableWritten(ctx, n)
	return n, nil
}

// UpdateOptions qualify [Catalog.UpdateTable].
type UpdateOptions struct {
	// IfVersion, if not 0, makes the update fail with ErrConflict unless
	// the latest version is this one (optimistic concurrency for editors).
	IfVersion int
}

// UpdateTable makes t the new version of an existing table. A definition
// equal to the latest (apart from version and times) makes no new version
// and returns the latest. A schema change must pass the compatibility mode
// that t declares ([CheckCompatibility]), else ErrIncompatible.
func (c *Catalog) UpdateTable(ctx context.Context, t *Table, opts UpdateOptions) (*Table, error) {
	if err := t.Validate(); err != nil {
		return nil, err
	}
	next, _, err := c.ModifyTable(ctx, t.Database, t.Name, func(cur *Table) (*Table, error) {
		if opts.IfVersion != 0 && cur.Version != opts.IfVersion {
			return nil, fmt.Errorf("%w: table %s is at version %d, not %d", ErrConflict, cur.FullName(), cur.Version, opts.IfVersion)
		}
		return t, nil
	})
	return next, err
}

// PutTable creates t, or makes it the new version of the table when one
// exists (see [Catalog.UpdateTable]); created says which.
func (c *Catalog) PutTable(ctx context.Context, t *Table) (out *Table, created bool, err error) {
	if err := t.Validate(); err != nil {
		return nil, false, err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, false, err
	}
	for range c.cfg.WriteRetries + 1 {
		out, _, err = c.ModifyTable(ctx, t.Database, t.Name, func(*Table) (*Table, error) { return t, nil })
		if !errors.Is(err, ErrNotFound) {
			return out, false, err
		}
		out, err = c.createTable(ctx, kv, t)
		if !errors.Is(err, ErrExists) {
			return out, err == nil, err
		}
	}
	return nil, false, fmt.Errorf("%w: table %s kept changing", ErrConflict, t.FullName())
}

// ModifyTable makes a new version of a table from fn's answer to its
// latest version. fn gets a definition it must not change (return a
// [Table.Clone]); it may be called more than once when other writers race,
// and its error is returned as is. The new definition is checked, and a
// schema change must pass the compatibility mode it declares. changed is
// false when fn's answer equals the latest version, which is then
// returned.
func (c *Catalog) ModifyTable(ctx context.Context, db, name string, fn func(cur *Table) (*Table, error)) (out *Table, changed bool, err error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, false, err
	}
	for range c.cfg.WriteRetries + 1 {
		cur, entry, err := c.getTable(ctx, kv, db, name)
		if err != nil {
			return nil, false, err
		}
		want, err := fn(cur)
		if err != nil {
			return nil, false, err
		}
		if want.Database != db || want.Name != name {
			return nil, false, invalidf("the definition names table %s, not %s.%s", want.FullName(), db, name)
		}
		if err := want.Validate(); err != nil {
			return nil, false, err
		}
		next := want.Clone()
		next.Version, next.Created, next.Updated = cur.Version, cur.Created, cur.Updated
		if bytes.Equal(encodeTable(next), entry.Value()) {
			return cur, false, nil
		}
		if !next.Schema.Equal(cur.Schema) {
			if err := c.checkCompatibility(ctx, kv, cur, next); err != nil {
				return nil, false, err
			}
		}
		next.Version = cur.Version + 1
		next.Updated = now()
		// Keep the version being superseded under its own key first: a
		// crash between the two writes leaves a harmless copy, never a
		// gap. Racing writers write the same bytes.
		if _, err := kv.Put(ctx, versionKey(db, name, cur.Version), entry.Value()); err != nil {
			return nil, false, fmt.Errorf("catalog: keep version %d of %s: %w", cur.Version, cur.FullName(), c.classify(err))
		}
		_, err = kv.Update(ctx, tableKey(db, name), encodeTable(next), entry.Revision())
		if isCASFailure(err) {
			c.metrics.conflicts.Inc()
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("catalog: update table %s: %w", cur.FullName(), c.classify(err))
		}
		if err := c.eng.SyncAll(ctx); err != nil {
			return nil, false, fmt.Errorf("catalog: update table %s: %w", cur.FullName(), err)
		}
		c.logger.Info("table updated", "database", db, "table", name, "version", next.Version)
		c.cache.tableWritten(ctx, next)
		return next, true, nil
	}
	return nil, false, fmt.Errorf("%w: table %s.%s kept changing under %d attempts", ErrConflict, db, name, c.cfg.WriteRetries+1)
}

// checkCompatibility checks next's schema against the versions before it
// under next's mode.
func (c *Catalog) checkCompatibility(ctx context.Context, kv jetstream.KeyValue, cur, next *Table) error {
	var previous []*Table
	switch next.Compatibility {
	case CompatNone:
		return nil
	case CompatBackwardAll, CompatForwardAll, CompatFullAll:
		all, err := c.versions(ctx, kv, cur)
		if err != nil {
			return err
		}
		previous = all
	default:
		previous = []*Table{cur}
	}
	schemas, versions := distinctSchemas(previous)
	err := CheckCompatibility(next.Compatibility, next.Schema, schemas...)
	var ie *IncompatibleError
	if errors.As(err, &ie) {
		ie.Version = versions[ie.Against]
	}
	return err
}

// DeleteTable deletes a table and every version of it. A table that a
// stream is bound to is refused with ErrConflict.
func (c *Catalog) DeleteTable(ctx context.Context, db, name string) error {
	kv, err := c.bucket(ctx)
	if err != nil {
		return err
	}
	if _, _, err := c.getTable(ctx, kv, db, name); err != nil {
		return err
	}
	bindings, err := c.ListBindings(ctx)
	if err != nil {
		return err
	}
	for _, b := range bindings {
		if b.Database == db && b.Table == name {
			return fmt.Errorf("%w: stream %q is bound to table %s.%s; unbind it first", ErrConflict, b.Stream, db, name)
		}
	}
	// Versions first: a delete cut short leaves the table, and a retry
	// finishes it.
	entries, err := c.scan(ctx, kv, versionPrefix(db, name)+"*")
	if err != nil {
		return fmt.Errorf("catalog: delete table %s.%s: %w", db, name, err)
	}
	for _, e := range entries {
		if err := kv.Purge(ctx, e.Key()); err != nil {
			return fmt.Errorf("catalog: delete table %s.%s: %w", db, name, c.classify(err))
		}
	}
	if err := kv.Purge(ctx, tableKey(db, name)); err != nil {
		return fmt.Errorf("catalog: delete table %s.%s: %w", db, name, c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("catalog: delete table %s.%s: %w", db, name, err)
	}
	c.logger.Info("table deleted", "database", db, "table", name)
	return nil
}
