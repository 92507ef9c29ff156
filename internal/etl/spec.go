package etl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/pricestream/pricestream/internal/record"
)

// Spec is a streaming job as a data engineer writes it, in YAML or JSON:
// where records come from, how they are cleaned and shaped, what they are
// joined with, how they are aggregated in event-time windows, and where the
// results go. [Decode] reads one; [Compile] checks it (every problem at
// once, each with its path) and turns it into a [Plan].
type Spec struct {
	// Kind is "job" or empty: it lets a job document sit among other
	// definitions (streams, tables, triggers) that `pricestream apply`
	// reads. It is not stored.
	Kind string `yaml:"kind,omitempty" json:"-"`
	// Name identifies the job: 1-64 of a-z, A-Z, 0-9, '_', '-'.
	Name        string `yaml:"name" json:"name"`
	Description string `yaml:"description,omitempty" json:"description,omitempty"`
	// Source is the job's input.
	Source SourceSpec `yaml:"source" json:"source"`
	// Transforms run in order on every record.
	Transforms []TransformSpec `yaml:"transforms,omitempty" json:"transforms,omitempty"`
	// Joins enrich records with table items after the transforms.
	Joins []JoinSpec `yaml:"joins,omitempty" json:"joins,omitempty"`
	// Window, if set, aggregates records per key in event-time windows; the
	// sink then receives one row per key and window.
	Window *WindowSpec `yaml:"window,omitempty" json:"window,omitempty"`
	// Output transforms run on what reaches the sink: window rows, or the
	// records themselves when there is no window.
	Output []TransformSpec `yaml:"output,omitempty" json:"output,omitempty"`
	// Sink receives the job's results.
	Sink SinkSpec `yaml:"sink" json:"sink"`
	// Sinks are further, named sinks that split_rows transforms route to.
	Sinks []SinkSpec `yaml:"sinks,omitempty" json:"sinks,omitempty"`
	// DeadLetter names the stream that receives records the job cannot
	// process (malformed, failing a transform, late), with the reason.
	DeadLetter string `yaml:"dead_letter" json:"dead_letter"`
	// Parallelism is how many workers process the source's partitions
	// (each partition is processed by one worker, in order). Default: the
	// number of partitions, at most 4.
	Parallelism int `yaml:"parallelism,omitempty" json:"parallelism,omitempty"`
	// CheckpointInterval is how often window state and positions are
	// checkpointed. Default: the etl.checkpoint_interval setting.
	CheckpointInterval Duration `yaml:"checkpoint_interval,omitempty" json:"checkpoint_interval,omitempty"`
}

// SourceSpec is a job's input: a stream (with the format and schema of
// its records) or a table's change stream.
type SourceSpec struct {
	// Stream names a stream; Table names a table whose change stream is
	// read. Exactly one is set.
	Stream string `yaml:"stream,omitempty" json:"stream,omitempty"`
	Table  string `yaml:"table,omitempty" json:"table,omitempty"`
	// Catalog names a catalog table that gives the format, schema and
	// event-time field; fields set here override it.
	Catalog string `yaml:"catalog,omitempty" json:"catalog,omitempty"`
	// Format of a stream's records: json (default) or csv.
	Format string `yaml:"format,omitempty" json:"format,omitempty"`
	// Columns name the fields of CSV records without a schema.
	Columns []string `yaml:"columns,omitempty" json:"columns,omitempty"`
	// Schema types the records' fields (inline, as the catalog writes
	// columns: name, type in Glue/Hive syntax, nullable).
	Schema Columns `yaml:"schema,omitempty" json:"schema,omitempty"`
	// EventTime names the timestamp field windows use; without it, the
	// record's arrival time (a table change's write time) is used.
	EventTime string `yaml:"event_time,omitempty" json:"event_time,omitempty"`
	// Start is where a job without a checkpoint starts: latest (default),
	// trim_horizon or at_timestamp (with StartTime).
	Start     string    `yaml:"start,omitempty" json:"start,omitempty"`
	StartTime time.Time `yaml:"start_time,omitempty" json:"start_time,omitzero"`
	// PartitionKey names the field the stream is partitioned by (the
	// producers' partition key). A window's key must include it, so that
	// every window is computed by the one worker that sees all its records.
	PartitionKey string `yaml:"partition_key,omitempty" json:"partition_key,omitempty"`
}

// TransformSpec is one transform; exactly one field is set.
type TransformSpec struct {
	ApplyMapping  []MappingSpec   `yaml:"apply_mapping,omitempty" json:"apply_mapping,omitempty"`
	ResolveChoice []ChoiceSpec    `yaml:"resolve_choice,omitempty" json:"resolve_choice,omitempty"`
	DropNulls     *DropNullsSpec  `yaml:"drop_nulls,omitempty" json:"drop_nulls,omitempty"`
	DropFields    []string        `yaml:"drop_fields,omitempty" json:"drop_fields,omitempty"`
	SelectFields  []string        `yaml:"select_fields,omitempty" json:"select_fields,omitempty"`
	RenameField   *RenameSpec     `yaml:"rename_field,omitempty" json:"rename_field,omitempty"`
	Filter        string          `yaml:"filter,omitempty" json:"filter,omitempty"`
	Map           []FieldExprSpec `yaml:"map,omitempty" json:"map,omitempty"`
	Assert        *AssertSpec     `yaml:"assert,omitempty" json:"assert,omitempty"`
	Flatten       *FlattenSpec    `yaml:"flatten,omitempty" json:"flatten,omitempty"`
	Explode       *ExplodeSpec    `yaml:"explode,omitempty" json:"explode,omitempty"`
	SplitRows     []RouteSpec     `yaml:"split_rows,omitempty" json:"split_rows,omitempty"`
	Unbox         *UnboxSpec      `yaml:"unbox,omitempty" json:"unbox,omitempty"`
}

// MappingSpec is one mapping of apply_mapping: the source path, the target
// path (dotted paths nest) and the target type.
type MappingSpec struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to,omitempty" json:"to,omitempty"`
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
}

// ChoiceSpec resolves one field of varying type: Action is cast:TYPE,
// project:TYPE, make_cols, make_struct or match_catalog.
type ChoiceSpec struct {
	Path   string `yaml:"path" json:"path"`
	Action string `yaml:"action" json:"action"`
}

// DropNullsSpec drops null fields: those named, or all when none are.
type DropNullsSpec struct {
	Fields []string `yaml:"fields,omitempty" json:"fields,omitempty"`
}

// RenameSpec renames a (nested, dotted) field.
type RenameSpec struct {
	From string `yaml:"from" json:"from"`
	To   string `yaml:"to" json:"to"`
}

// FieldExprSpec sets a field to the value of an expression.
type FieldExprSpec struct {
	Field string `yaml:"field" json:"field"`
	Expr  string `yaml:"expr" json:"expr"`
}

// AssertSpec sends records for which Expr is false to the dead-letter
// stream with Reason.
type AssertSpec struct {
	Expr   string `yaml:"expr" json:"expr"`
	Reason string `yaml:"reason,omitempty" json:"reason,omitempty"`
}

// FlattenSpec flattens nested structs into top-level fields named by their
// path (Glue's Relationalize, per record).
type FlattenSpec struct {
	// Separator joins the path's names; default ".".
	Separator string `yaml:"separator,omitempty" json:"separator,omitempty"`
}

// ExplodeSpec turns a record with an array field into one record per
// element (the array pivot of Glue's Relationalize, per record). Struct
// elements contribute their fields, prefixed with Prefix; other elements
// replace the field.
type ExplodeSpec struct {
	Field  string `yaml:"field" json:"field"`
	Prefix string `yaml:"prefix,omitempty" json:"prefix,omitempty"`
}

// RouteSpec sends records for which When holds to the named sink; other
// records go on down the pipeline.
type RouteSpec struct {
	When string `yaml:"when" json:"when"`
	Sink string `yaml:"sink" json:"sink"`
}

// UnboxSpec parses a string field holding JSON into a struct.
type UnboxSpec struct {
	Field string `yaml:"field" json:"field"`
	// Schema types the parsed fields (optional).
	Schema Columns `yaml:"schema,omitempty" json:"schema,omitempty"`
}

// JoinSpec is a lookup join with a table, held in memory and kept current
// by the table's change stream.
type JoinSpec struct {
	Table string `yaml:"table" json:"table"`
	// On names the record field whose value is the table's partition key.
	On string `yaml:"on" json:"on"`
	// Type is left (default: records without a match go on, the fields
	// null) or inner (records without a match are filtered).
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Fields are the item attributes added to the record, with their types.
	Fields []JoinFieldSpec `yaml:"fields" json:"fields"`
	// PositionField receives the table position (change sequence) the join
	// saw; default "<table>_seq". "-" leaves it out.
	PositionField string `yaml:"position_field,omitempty" json:"position_field,omitempty"`
}

// JoinFieldSpec is one attribute a join adds: its name in the item, its
// type and the field it becomes (default: the same name).
type JoinFieldSpec struct {
	Name string `yaml:"name" json:"name"`
	Type string `yaml:"type" json:"type"`
	As   string `yaml:"as,omitempty" json:"as,omitempty"`
}

// WindowSpec aggregates records per key in event-time windows.
type WindowSpec struct {
	// Key names the fields that identify a group (e.g. product_id).
	Key []string `yaml:"key" json:"key"`
	// Type is tumbling (default) or sliding.
	Type string `yaml:"type,omitempty" json:"type,omitempty"`
	// Size of a window; default 100s, Glue's default. Windows are aligned
	// to the Unix epoch.
	Size Duration `yaml:"size,omitempty" json:"size,omitempty"`
	// Slide of a sliding window (a divisor of Size).
	Slide Duration `yaml:"slide,omitempty" json:"slide,omitempty"`
	// AllowedLateness is subtracted from the highest event time seen (per
	// source partition) to give the watermark; a record whose windows have
	// all closed under the watermark is late and dead-lettered.
	AllowedLateness Duration `yaml:"allowed_lateness,omitempty" json:"allowed_lateness,omitempty"`
	// Emit says when rows are emitted: every_event (default: each update,
	// then a final row when the window closes), interval (at most every
	// Interval per key, then the final row) or final (only the final row).
	Emit     string   `yaml:"emit,omitempty" json:"emit,omitempty"`
	Interval Duration `yaml:"interval,omitempty" json:"interval,omitempty"`
	// Aggregates are the row's computed fields.
	Aggregates []AggregateSpec `yaml:"aggregates" json:"aggregates"`
}

// AggregateSpec is one aggregate of a window: a name and exactly one of
// the functions, each taking an expression over the record (count takes
// none; count_if a condition).
type AggregateSpec struct {
	Name           string `yaml:"name" json:"name"`
	Count          bool   `yaml:"count,omitempty" json:"count,omitempty"`
	CountIf        string `yaml:"count_if,omitempty" json:"count_if,omitempty"`
	Sum            string `yaml:"sum,omitempty" json:"sum,omitempty"`
	Min            string `yaml:"min,omitempty" json:"min,omitempty"`
	Max            string `yaml:"max,omitempty" json:"max,omitempty"`
	Avg            string `yaml:"avg,omitempty" json:"avg,omitempty"`
	Last           string `yaml:"last,omitempty" json:"last,omitempty"`
	ApproxDistinct string `yaml:"approx_distinct,omitempty" json:"approx_distinct,omitempty"`
	// Over, if set, computes the aggregate over this trailing range ending
	// at the window's end instead of over the window (a multiple of the
	// window's slide; e.g. 1h for a trend against a 5-minute window).
	Over Duration `yaml:"over,omitempty" json:"over,omitempty"`
}

// SinkSpec is where results go: a table (idempotent upserts keyed by Key)
// or a stream (records keyed by PartitionKey).
type SinkSpec struct {
	// Name labels a sink that split_rows routes to.
	Name  string `yaml:"name,omitempty" json:"name,omitempty"`
	Table string `yaml:"table,omitempty" json:"table,omitempty"`
	// Stream names a stream; PartitionKey names the field whose value is
	// each record's partition key.
	Stream       string `yaml:"stream,omitempty" json:"stream,omitempty"`
	PartitionKey string `yaml:"partition_key,omitempty" json:"partition_key,omitempty"`
}

// Duration is a time.Duration written as Go duration text ("100s").
type Duration time.Duration

// D returns d as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalText writes Go duration text.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads Go duration text.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: want a Go duration such as 100s or 5m", b)
	}
	*d = Duration(v)
	return nil
}

// KindJob is the kind of a job document.
const KindJob = "job"

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)

// ValidateName checks a job name.
func ValidateName(name string) error {
	if !nameRE.MatchString(name) {
		return fmt.Errorf("%w: job name %q: want 1-64 of a-z, A-Z, 0-9, '_', '-'", ErrInvalid, name)
	}
	return nil
}

// maxSpecBytes bounds a job document.
const maxSpecBytes = 1 << 20

// Decode reads one job document, YAML or JSON (JSON is YAML). Unknown keys
// are errors, reported with their line. Schemas are lists of
// {name, type, nullable} with types in Glue/Hive syntax.
func Decode(data []byte) (*Spec, error) {
	if len(data) > maxSpecBytes {
		return nil, fmt.Errorf("%w: job document of %d bytes, more than %d", ErrInvalid, len(data), maxSpecBytes)
	}
	var s Spec
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.Strict()); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.TrimSpace(yaml.FormatError(err, false, true)))
	}
	return &s, nil
}

// DecodeAll reads the jobs of a file that may hold several YAML documents
// separated by "---" lines. Documents of another kind (`kind: stream`,
// `kind: table`, ...) are skipped; documents without a kind are jobs.
func DecodeAll(data []byte) ([]*Spec, error) {
	var out []*Spec
	var errs []error
	for i, doc := range splitDocuments(data) {
		if len(bytes.TrimSpace(doc)) == 0 {
			continue
		}
		var k struct {
			Kind string `yaml:"kind"`
		}
		if yaml.Unmarshal(doc, &k) == nil && k.Kind != "" && k.Kind != KindJob {
			continue
		}
		s, err := Decode(doc)
		if err != nil {
			errs = append(errs, fmt.Errorf("document %d: %w", i+1, err))
			continue
		}
		out = append(out, s)
	}
	return out, errors.Join(errs...)
}

func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	start := 0
	for i := 0; i <= len(data); {
		end := bytes.IndexByte(data[i:], '\n')
		line := data[i:]
		if end >= 0 {
			line = data[i : i+end]
		}
		if bytes.Equal(bytes.TrimRight(line, " \r\t"), []byte("---")) {
			out = append(out, data[start:i])
			start = i + len(line) + 1
		}
		if end < 0 {
			break
		}
		i += end + 1
	}
	if start < len(data) {
		out = append(out, data[start:])
	}
	return out
}

// JSON returns the spec as JSON (the form the engine stores and the API
// returns).
func (s *Spec) JSON() []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // keep array<...> types readable to the YAML decoder
	if err := enc.Encode(s); err != nil {
		panic("etl: spec does not encode: " + err.Error())
	}
	return bytes.TrimSpace(buf.Bytes())
}

// Columns is a schema written inline: a list of {name, type, nullable,
// comment}, types in Glue/Hive syntax.
type Columns []record.Column

type columnWire struct {
	Name     string `yaml:"name" json:"name"`
	Type     string `yaml:"type" json:"type"`
	Nullable *bool  `yaml:"nullable,omitempty" json:"nullable,omitempty"`
	Comment  string `yaml:"comment,omitempty" json:"comment,omitempty"`
}

// UnmarshalYAML reads the column list.
func (c *Columns) UnmarshalYAML(b []byte) error {
	var w []columnWire
	if err := yaml.UnmarshalWithOptions(b, &w, yaml.Strict()); err != nil {
		return err
	}
	out := make(Columns, 0, len(w))
	var errs []error
	for i, cw := range w {
		t, err := record.ParseType(cw.Type)
		if err != nil {
			errs = append(errs, fmt.Errorf("[%d].type: %v", i, err))
			continue
		}
		out = append(out, record.Column{Name: cw.Name, Type: t, Nullable: cw.Nullable == nil || *cw.Nullable, Comment: cw.Comment})
	}
	*c = out
	return errors.Join(errs...)
}

// MarshalJSON writes the column list with types in Glue/Hive syntax,
// without HTML escapes (so that array<...> stays as written).
func (c Columns) MarshalJSON() ([]byte, error) {
	w := make([]columnWire, len(c))
	for i, col := range c {
		n := col.Nullable
		w[i] = columnWire{Name: col.Name, Type: col.Type.String(), Nullable: &n, Comment: col.Comment}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(w); err != nil {
		return nil, err
	}
	return bytes.TrimSpace(buf.Bytes()), nil
}

// Schema returns the columns as a schema, or nil when there are none.
func (c Columns) Schema() (*record.Schema, error) {
	if len(c) == 0 {
		return nil, nil
	}
	return record.NewSchema(c...)
}
