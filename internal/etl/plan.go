package etl

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// Catalog gives what a job needs to know about a source it names by
// catalog table: the records' format ("json" or "csv"), their schema, and
// the field holding the event time ("" if none). The data catalog
// satisfies it; a job may also carry all three inline. Implementations are
// safe for concurrent use; an unknown table is an error wrapping
// ErrNotFound.
type Catalog interface {
	SourceOf(ctx context.Context, table string) (format string, schema *record.Schema, eventTime string, err error)
}

// Plan is a compiled job: every expression compiled and type-checked
// against the schema of the records it sees. It is immutable and shared by
// the job's workers.
type Plan struct {
	spec      *Spec
	format    string
	source    *record.Schema
	decoder   record.Decoder
	eventTime string
	stages    []stageDef
	joins     []*JoinSpec
	joinTypes [][]*record.Type
	joinOuts  []*joinOutputs
	window    *windowDef
	output    []stageDef
	schema    *record.Schema // of what reaches the sink (nil: untyped)
	sinks     []string       // names of the extra sinks
	// inPlace is the source's JSON decoder when records are decoded in
	// place (their strings alias the engine message; see
	// processor.processData), nil when they are copied. In place is safe
	// where nothing keeps a decoded record's strings past its event but
	// what owns copies: window state does (setValue, the keys' values), a
	// stream sink encodes a row before emit returns; a table sink encodes
	// a row at emit too but keeps its key's text (for a string key, the
	// row's string) until written, so a record that can reach one
	// without a window between (a job without a window, or split_rows
	// to an extra sink) is decoded with a copy.
	inPlace *record.JSONDecoder
}

// Spec returns the job document the plan was compiled from.
func (p *Plan) Spec() *Spec { return p.spec }

// Schema returns the schema of the rows the sink receives (nil when the
// source is untyped).
func (p *Plan) Schema() *record.Schema { return p.schema }

// Compile checks a job document and compiles it. It reports every problem
// at once, each with its path (`transforms[2].filter: unknown field
// "prise"`); errors wrap ErrInvalid. cat resolves source.catalog (nil: the
// job must carry its source inline).
func Compile(ctx context.Context, s *Spec, cat Catalog) (*Plan, error) {
	errs := &specErrors{}
	if err := ValidateName(s.Name); err != nil {
		errs.add("name", "%q: want 1-64 of a-z, A-Z, 0-9, '_', '-'", s.Name)
	}
	if s.Kind != "" && s.Kind != KindJob {
		errs.add("kind", "%q: a job document's kind is job", s.Kind)
	}
	p := &Plan{spec: s}
	src := &s.Source
	switch {
	case src.Stream == "" && src.Table == "":
		errs.add("source", "name a stream or a table")
	case src.Stream != "" && src.Table != "":
		errs.add("source", "name a stream or a table, not both")
	}
	p.format, p.eventTime = src.Format, src.EventTime
	schema, err := src.Schema.Schema()
	if err != nil {
		errs.addErr("source.schema", err)
	}
	if src.Catalog != "" {
		if cat == nil {
			errs.add("source.catalog", "no catalog is available; give format, schema and event_time inline")
		} else {
			f, cs, et, err := cat.SourceOf(ctx, src.Catalog)
			if err != nil {
				errs.addErr("source.catalog", err)
			} else {
				if p.format == "" {
					p.format = f
				}
				if schema == nil {
					schema = cs
				}
				if p.eventTime == "" {
					p.eventTime = et
				}
			}
		}
	}
	if src.Table != "" && schema != nil {
		schema = withColumn(schema, fieldEvent, record.TypeString)
	}
	p.source = schema
	if src.Table != "" {
		if p.format != "" {
			errs.add("source.format", "a table's changes are items, not encoded records")
		}
	} else {
		switch p.format {
		case "", "json":
			p.format = "json"
			p.decoder = record.NewJSONDecoder(record.JSONOptions{Schema: schema})
		case "csv":
			cols := src.Columns
			if cols == nil && schema == nil {
				errs.add("source.columns", "csv records need columns or a schema")
				break
			}
			d, err := record.NewCSVDecoder(record.CSVOptions{NoHeader: true, Columns: cols, Schema: schema})
			if err != nil {
				errs.addErr("source", err)
			}
			p.decoder = d
		default:
			errs.add("source.format", "%q: want json or csv", p.format)
		}
	}
	switch src.Start {
	case "", "latest", "trim_horizon":
	case "at_timestamp":
		if src.StartTime.IsZero() {
			errs.add("source.start_time", "at_timestamp needs a start_time")
		}
	default:
		errs.add("source.start", "%q: want latest, trim_horizon or at_timestamp", src.Start)
	}
	if src.Table != "" && src.Start == "at_timestamp" {
		errs.add("source.start", "a change stream starts at latest or trim_horizon")
	}
	if p.eventTime != "" && schema != nil {
		if t, ok := lookupType(schema, p.eventTime); !ok {
			errs.add("source.event_time", "unknown field %q", p.eventTime)
		} else if t.Kind != record.KindTimestamp && t.Kind != record.KindString {
			errs.add("source.event_time", "%q is %s; want a timestamp", p.eventTime, t)
		}
	}

	sinks := map[string]bool{}
	for i, sk := range s.Sinks {
		path := fmt.Sprintf("sinks[%d]", i)
		if sk.Name == "" {
			errs.add(path+".name", "an extra sink needs a name")
		} else if sinks[sk.Name] {
			errs.add(path+".name", "%q used twice", sk.Name)
		}
		sinks[sk.Name] = true
		p.sinks = append(p.sinks, sk.Name)
		checkSink(path, &s.Sinks[i], errs)
	}
	checkSink("sink", &s.Sink, errs)
	if s.DeadLetter == "" {
		errs.add("dead_letter", "name the stream that receives records the job cannot process")
	}
	if s.Parallelism < 0 || s.Parallelism > 64 {
		errs.add("parallelism", "must be 1-64")
	}
	if s.CheckpointInterval < 0 {
		errs.add("checkpoint_interval", "must be > 0")
	}

	cur := schema
	p.stages, cur = compileTransforms("transforms", s.Transforms, cur, schema, sinks, errs)
	for i := range s.Joins {
		j := &s.Joins[i]
		def, next, types, outs, err := compileJoin(j, cur)
		path := fmt.Sprintf("joins[%d]", i)
		if err != nil {
			for _, e := range unjoin(err) {
				errs.addErr(path, e)
			}
			continue
		}
		def.path = path + ".join " + j.Table
		p.stages = append(p.stages, def)
		p.joins = append(p.joins, j)
		p.joinTypes = append(p.joinTypes, types)
		p.joinOuts = append(p.joinOuts, outs)
		cur = next
	}
	if s.Window != nil {
		if p.eventTime != "" {
			if err := checkPath(cur, p.eventTime); err != nil {
				errs.add("source.event_time", "%q does not reach the window (the transforms drop it)", p.eventTime)
			}
		}
		p.window = compileWindow(s.Window, cur, src.PartitionKey, errs)
		if p.window != nil {
			pruneJoins(p.joins, p.joinOuts, p.window, p.eventTime)
		}
		if p.window != nil {
			cur = p.window.schema
			if cur == nil || schema == nil {
				// rows are typed even when records are not
				cur = p.window.schema
			}
		}
	}
	p.output, cur = compileTransforms("output", s.Output, cur, schema, sinks, errs)
	p.schema = cur
	if p.schema != nil && s.Sink.Stream != "" && s.Sink.PartitionKey != "" {
		if err := checkPath(p.schema, s.Sink.PartitionKey); err != nil {
			errs.addErr("sink.partition_key", err)
		}
	}
	if err := errs.err(); err != nil {
		return nil, err
	}
	if jd, ok := p.decoder.(*record.JSONDecoder); ok && !unwindowedToTable(s, p.window != nil) {
		p.inPlace = jd
	}
	return p, nil
}

// unwindowedToTable reports whether a record that no window stands in
// front of can reach a table sink: the main sink of a job without a
// window, or an extra sink (split_rows may route there before the window).
func unwindowedToTable(s *Spec, windowed bool) bool {
	if !windowed && s.Sink.Table != "" {
		return true
	}
	for _, sk := range s.Sinks {
		if sk.Table != "" {
			return true
		}
	}
	return false
}

// pruneJoins marks the outputs of the joins that nothing reads. The joins
// are the last stages, and a record that reaches a window is read after
// them only by the window (its keys, the event time and the aggregates'
// fields): rows, not the record, go on from there. A join then sets only
// the fields the window, or a later join's on, reads. Each field it sets
// is two pointer stores into the record, and while the GC marks every one
// costs a write barrier: a click pipeline's join spent a third of its time
// setting fields nothing read.
func pruneJoins(joins []*JoinSpec, outs []*joinOutputs, w *windowDef, eventTime string) {
	reads := map[string]bool{}
	read := func(path string) {
		reads[path] = true // a name with a dot is matched whole first
		if i := strings.IndexAny(path, ".["); i > 0 {
			reads[path[:i]] = true
		}
	}
	for _, k := range w.keys {
		read(k)
	}
	if eventTime != "" {
		read(eventTime)
	}
	for _, a := range w.aggs {
		if a.field != "" {
			read(a.field)
		}
		if a.e != nil {
			for _, f := range a.e.fields {
				read(f.path)
			}
		}
	}
	for i := len(outs) - 1; i >= 0; i-- {
		for k, n := range outs[i].names {
			outs[i].live[k] = reads[n]
		}
		read(joins[i].On)
	}
}

func checkSink(path string, sk *SinkSpec, errs *specErrors) {
	switch {
	case sk.Table == "" && sk.Stream == "":
		errs.add(path, "name a table or a stream")
	case sk.Table != "" && sk.Stream != "":
		errs.add(path, "name a table or a stream, not both")
	case sk.Stream != "" && sk.PartitionKey == "":
		errs.add(path+".partition_key", "a stream sink needs the field whose value is the partition key")
	}
}

// setLatestOnly tells the window whether the sink keeps one row per key.
func (p *Plan) setLatestOnly(sinkKey []string) {
	if p.window == nil {
		return
	}
	p.window.latestOnly = !slices.Contains(sinkKey, fieldWindowStart) && !slices.Contains(sinkKey, fieldWindowEnd)
}

// eventNanos reads the event time of a record: a timestamp field, a string
// in any ISO 8601 or `2019-10-01 00:00:00 UTC` form, or the arrival time
// when the job names no event-time field.
func eventNanos(r *record.Record, ref *record.Ref, path string, arrival int64) (int64, error) {
	if ref == nil {
		return arrival, nil
	}
	v, ok := ref.Get(r)
	if !ok {
		v, ok = r.Lookup(path)
	}
	switch {
	case !ok || v.IsNull():
		return 0, fmt.Errorf("no event time: field %q is missing or null", path)
	case v.Kind() == record.KindTimestamp:
		return v.UnixNano(), nil
	case v.Kind() == record.KindString:
		var f record.TimeFormat
		n, err := f.Parse(v.Str())
		if err != nil {
			return 0, fmt.Errorf("event time %q: %w", v.Str(), err)
		}
		return n, nil
	}
	return 0, fmt.Errorf("event time: field %q is %s, not a timestamp", path, v.Kind())
}
