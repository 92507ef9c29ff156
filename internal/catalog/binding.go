package catalog

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/grok"
)

// Policy says what ingest does with records of a bound stream that do not
// match the table's schema.
type Policy string

// The policies.
const (
	// PolicyReject refuses the whole put (HTTP 400) naming each record that
	// does not match and its violations; nothing is stored.
	PolicyReject Policy = "reject"
	// PolicyDeadLetter stores the matching records and sends the others to
	// the binding's dead-letter stream, each with the reason.
	PolicyDeadLetter Policy = "dead_letter"
)

// Binding binds a stream to a catalog table: ingest checks every record
// put to the stream against the table's schema (its latest version) and
// applies the policy to those that do not match. A stream without a
// binding is not checked, at no cost.
type Binding struct {
	Stream   string `json:"stream"`
	Database string `json:"database"`
	Table    string `json:"table"`
	Policy   Policy `json:"policy"`
	// DeadLetter is the stream that records failing the check go to under
	// PolicyDeadLetter.
	DeadLetter string `json:"dead_letter_stream,omitempty"`
	// AllowExtraFields accepts fields the schema does not name; by default
	// each is a violation.
	AllowExtraFields bool `json:"allow_extra_fields,omitempty"`
	// Created is set by the catalog.
	Created time.Time `json:"created,omitzero"`
}

// Validate reports every problem of the binding.
func (b *Binding) Validate() error {
	var ps problems
	if err := validateStreamName(b.Stream); err != nil {
		ps.add("stream", "%v", err)
	}
	if err := ValidateName(b.Database); err != nil {
		ps.add("database", "%v", err)
	}
	if err := ValidateName(b.Table); err != nil {
		ps.add("table", "%v", err)
	}
	switch b.Policy {
	case PolicyReject:
		if b.DeadLetter != "" {
			ps.add("dead_letter_stream", "applies to the dead_letter policy only")
		}
	case PolicyDeadLetter:
		if b.DeadLetter == "" {
			ps.add("dead_letter_stream", "required by the dead_letter policy")
		} else if err := validateStreamName(b.DeadLetter); err != nil {
			ps.add("dead_letter_stream", "%v", err)
		} else if b.DeadLetter == b.Stream {
			ps.add("dead_letter_stream", "must differ from the stream")
		}
	default:
		ps.add("policy", "want reject or dead_letter, got %q", string(b.Policy))
	}
	return ps.err()
}

// Bind binds a stream to a table, replacing the stream's binding if it has
// one. The table must exist and have a record format (json, csv, avro or
// grok).
// The caller checks that the streams exist (the catalog does not know
// streams). When the watcher runs ([Catalog.Start]), Bind returns after
// this process's ingest checks apply the binding.
func (c *Catalog) Bind(ctx context.Context, b Binding) (*Binding, error) {
	if err := b.Validate(); err != nil {
		return nil, err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	t, _, err := c.getTable(ctx, kv, b.Database, b.Table)
	if err != nil {
		return nil, err
	}
	if _, err := newStreamCheck(&b, t); err != nil {
		return nil, err
	}
	b.Created = now()
	v, _ := json.Marshal(&b)
	if _, err := kv.Put(ctx, bindKey(b.Stream), v); err != nil {
		return nil, fmt.Errorf("catalog: bind stream %q: %w", b.Stream, c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return nil, fmt.Errorf("catalog: bind stream %q: %w", b.Stream, err)
	}
	c.logger.Info("stream bound", "stream", b.Stream, "database", b.Database, "table", b.Table, "policy", string(b.Policy))
	c.cache.waitUntil(ctx, func(cs *cacheState) bool {
		cur := cs.bindings[b.Stream]
		return cur != nil && cur.Created.Equal(b.Created)
	})
	return &b, nil
}

// Unbind removes a stream's binding.
func (c *Catalog) Unbind(ctx context.Context, stream string) error {
	if _, err := c.GetBinding(ctx, stream); err != nil {
		return err
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return err
	}
	if err := kv.Purge(ctx, bindKey(stream)); err != nil {
		return fmt.Errorf("catalog: unbind stream %q: %w", stream, c.classify(err))
	}
	if err := c.eng.SyncAll(ctx); err != nil {
		return fmt.Errorf("catalog: unbind stream %q: %w", stream, err)
	}
	c.cache.waitUntil(ctx, func(cs *cacheState) bool { return cs.bindings[stream] == nil })
	c.logger.Info("stream unbound", "stream", stream)
	return nil
}

// GetBinding returns a stream's binding.
func (c *Catalog) GetBinding(ctx context.Context, stream string) (*Binding, error) {
	if err := validateStreamName(stream); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	e, err := kv.Get(ctx, bindKey(stream))
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: stream %q has no binding", ErrNotFound, stream)
	}
	if err != nil {
		return nil, fmt.Errorf("catalog: binding of %q: %w", stream, c.classify(err))
	}
	b := new(Binding)
	if err := json.Unmarshal(e.Value(), b); err != nil {
		return nil, fmt.Errorf("catalog: binding of %q: bad entry: %w", stream, err)
	}
	return b, nil
}

// ListBindings returns every stream binding, sorted by stream.
func (c *Catalog) ListBindings(ctx context.Context) ([]*Binding, error) {
	kv, err := c.bucket(ctx)
	if err != nil {
		return nil, err
	}
	entries, err := c.scan(ctx, kv, "bind.>")
	if err != nil {
		return nil, fmt.Errorf("catalog: list bindings: %w", err)
	}
	out := make([]*Binding, 0, len(entries))
	for _, e := range entries {
		b := new(Binding)
		if err := json.Unmarshal(e.Value(), b); err != nil {
			return nil, fmt.Errorf("catalog: %s: bad entry: %w", e.Key(), err)
		}
		out = append(out, b)
	}
	return out, nil
}

// StreamCheck checks the records of one bound stream against its table:
// what ingest calls for each record of a put. It is immutable and safe for
// concurrent use; each goroutine passes its own Record.
type StreamCheck struct {
	// Binding is the stream's binding.
	Binding Binding
	// Table is the version of the table the check uses.
	Table *Table

	decoder   record.Decoder
	validator *record.Validator
	counts    *streamCounts
}

func newStreamCheck(b *Binding, t *Table) (*StreamCheck, error) {
	sc := &StreamCheck{Binding: *b, Table: t,
		validator: record.NewValidator(t.Schema, record.ValidateOptions{AllowExtra: b.AllowExtraFields})}
	switch t.Format.Type {
	case FormatJSON:
		sc.decoder = record.NewJSONDecoder(record.JSONOptions{})
	case FormatCSV:
		o := t.Format.CSVOptions()
		o.NoHeader = true // a stream record is one line
		o.Columns = t.Schema.Names()
		d, err := record.NewCSVDecoder(o)
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		sc.decoder = d
	case FormatAvro:
		if t.Format.AvroSchema == "" {
			return nil, invalidf("table %s: an avro table needs its writer schema to check records", t.FullName())
		}
		d, err := avro.New(t.Format.AvroSchema)
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		sc.decoder = d
	case FormatGrok:
		d, err := grok.New(grok.Options{Pattern: t.Format.GrokPattern, CustomPatterns: t.Format.GrokCustomPatterns})
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		sc.decoder = d
	default:
		return nil, invalidf("table %s has format %s; records of a stream are json, csv, avro or grok", t.FullName(), t.Format.Type)
	}
	return sc, nil
}

// Check decodes one record's data in the table's format into r and
// validates it against the table's schema. It returns nil, a
// [*record.DecodeError] (data that does not decode), or a
// [*record.ValidationError] listing every violation with its path.
func (sc *StreamCheck) Check(data []byte, r *record.Record) error {
	if err := sc.decoder.Decode(data, r); err != nil {
		return err
	}
	return sc.validator.Validate(r)
}

// Count adds to the stream's ingest-check counters: records that matched,
// that were rejected, and that went to the dead-letter stream.
func (sc *StreamCheck) Count(valid, rejected, deadLettered int) {
	if sc.counts == nil {
		return
	}
	sc.counts.valid.Add(float64(valid))
	sc.counts.rejected.Add(float64(rejected))
	sc.counts.deadLettered.Add(float64(deadLettered))
}

// StreamCheck returns the check of a bound stream, or nil when the stream
// has no binding (or [Catalog.Start] has not run). It costs one map lookup
// and takes no lock.
func (c *Catalog) StreamCheck(stream string) *StreamCheck {
	m := c.cache.checks.Load()
	if m == nil {
		return nil
	}
	return (*m)[stream]
}
