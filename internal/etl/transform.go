package etl

import (
	"context"
	"fmt"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// Transform processes one record, as Glue's DynamicFrame transforms do, but
// per event. It returns the records that go on: none means the record is
// filtered; usually the record itself, changed in place, or records from
// the transform's own storage (valid until its next call). An error sends
// the record to the dead-letter stream with its reason and source position
// (a [*RecordError] says which reason; any other error is reason
// "transform").
//
// A Transform belongs to one goroutine: it may keep scratch records and an
// expression VM between calls.
type Transform func(ctx context.Context, r *record.Record) ([]*record.Record, error)

// stageEnv is what a worker lends the transforms it builds.
type stageEnv struct {
	ev *exprEval
	// route hands a record to the named extra sink (split_rows).
	route func(sink string, r *record.Record) error
	// lookup returns the in-memory table of a join.
	lookup func(table string) *Lookup
}

// stageDef is a compiled transform: its path in the job document, and how
// to build an instance for one worker.
type stageDef struct {
	path  string
	build func(env *stageEnv) Transform
}

// one returns a one-element result backed by a reused array.
type one struct{ out [1]*record.Record }

func (o *one) of(r *record.Record) []*record.Record {
	if o.out[0] != r { // usually the same record: spare the pointer store (a write barrier while the GC marks)
		o.out[0] = r
	}
	return o.out[:]
}

// compileTransforms compiles a list of transforms against the schema of
// their input and returns the stages and the schema of their output
// (schemas are nil when the input is untyped).
func compileTransforms(path string, specs []TransformSpec, in *record.Schema, source *record.Schema, sinks map[string]bool, errs *specErrors) ([]stageDef, *record.Schema) {
	var out []stageDef
	s := in
	for i := range specs {
		t := &specs[i]
		p := fmt.Sprintf("%s[%d]", path, i)
		kinds := t.kinds()
		if len(kinds) != 1 {
			if len(kinds) == 0 {
				errs.add(p, "empty transform: want one of apply_mapping, resolve_choice, drop_nulls, drop_fields, select_fields, rename_field, filter, map, assert, flatten, explode, split_rows, unbox")
			} else {
				errs.add(p, "one transform per list item, got %s", strings.Join(kinds, " and "))
			}
			continue
		}
		p += "." + kinds[0]
		var def stageDef
		var next *record.Schema
		var err error
		switch {
		case t.ApplyMapping != nil:
			def, next, err = compileApplyMapping(t.ApplyMapping, s)
		case t.ResolveChoice != nil:
			def, next, err = compileResolveChoice(t.ResolveChoice, s, source)
		case t.DropNulls != nil:
			def, next, err = compileDropNulls(t.DropNulls, s)
		case t.DropFields != nil:
			def, next, err = compileDropFields(t.DropFields, s)
		case t.SelectFields != nil:
			def, next, err = compileSelectFields(t.SelectFields, s)
		case t.RenameField != nil:
			def, next, err = compileRenameField(t.RenameField, s)
		case t.Filter != "":
			def, next, err = compileFilter(t.Filter, s)
		case t.Map != nil:
			def, next, err = compileMap(t.Map, s)
		case t.Assert != nil:
			def, next, err = compileAssert(t.Assert, s)
		case t.Flatten != nil:
			def, next, err = compileFlatten(t.Flatten, s)
		case t.Explode != nil:
			def, next, err = compileExplode(t.Explode, s)
		case t.SplitRows != nil:
			def, next, err = compileSplitRows(t.SplitRows, s, sinks)
		case t.Unbox != nil:
			def, next, err = compileUnbox(t.Unbox, s)
		}
		if err != nil {
			errs.addErr(p, err)
			continue
		}
		def.path = p
		out = append(out, def)
		s = next
	}
	return out, s
}

func (t *TransformSpec) kinds() []string {
	var k []string
	add := func(set bool, name string) {
		if set {
			k = append(k, name)
		}
	}
	add(t.ApplyMapping != nil, "apply_mapping")
	add(t.ResolveChoice != nil, "resolve_choice")
	add(t.DropNulls != nil, "drop_nulls")
	add(t.DropFields != nil, "drop_fields")
	add(t.SelectFields != nil, "select_fields")
	add(t.RenameField != nil, "rename_field")
	add(t.Filter != "", "filter")
	add(t.Map != nil, "map")
	add(t.Assert != nil, "assert")
	add(t.Flatten != nil, "flatten")
	add(t.Explode != nil, "explode")
	add(t.SplitRows != nil, "split_rows")
	add(t.Unbox != nil, "unbox")
	return k
}

// Schema helpers. Schemas are immutable: each helper returns a new one.

// checkPath reports an unknown path of a typed schema.
func checkPath(s *record.Schema, path string) error {
	if s == nil {
		return nil
	}
	if _, ok := lookupType(s, path); !ok {
		return fmt.Errorf("unknown field %q", path)
	}
	return nil
}

// withColumn returns s with the column at path (dotted: nested structs)
// set to type t, replacing or appending it.
func withColumn(s *record.Schema, path string, t *record.Type) *record.Schema {
	if s == nil {
		return nil
	}
	cols := setColumn(s.Columns(), path, t)
	out, err := record.NewSchema(cols...)
	if err != nil {
		panic("etl: schema: " + err.Error())
	}
	return out
}

func setColumn(cols []record.Column, path string, t *record.Type) []record.Column {
	cols = append([]record.Column(nil), cols...)
	head, rest, nested := strings.Cut(path, ".")
	if !nested {
		for i := range cols {
			if cols[i].Name == path {
				cols[i].Type = t
				return cols
			}
		}
		return append(cols, record.Column{Name: path, Type: t, Nullable: true})
	}
	for i := range cols {
		if cols[i].Name == head {
			var fields []record.Column
			if cols[i].Type.Kind == record.KindStruct {
				fields = cols[i].Type.Fields
			}
			cols[i].Type = record.StructType(setColumn(fields, rest, t)...)
			return cols
		}
	}
	return append(cols, record.Column{Name: head, Type: record.StructType(setColumn(nil, rest, t)...), Nullable: true})
}

// withoutColumn returns s without the column at path.
func withoutColumn(s *record.Schema, path string) *record.Schema {
	if s == nil {
		return nil
	}
	out, err := record.NewSchema(dropColumn(s.Columns(), path)...)
	if err != nil {
		panic("etl: schema: " + err.Error())
	}
	return out
}

func dropColumn(cols []record.Column, path string) []record.Column {
	head, rest, nested := strings.Cut(path, ".")
	out := make([]record.Column, 0, len(cols))
	for _, c := range cols {
		switch {
		case !nested && c.Name == path:
			continue
		case nested && c.Name == head && c.Type.Kind == record.KindStruct:
			c.Type = record.StructType(dropColumn(c.Type.Fields, rest)...)
		}
		out = append(out, c)
	}
	return out
}

// parent returns the record that holds the last name of path, and that
// name; nil when a step is missing or not a struct.
func parent(r *record.Record, path string) (*record.Record, string) {
	cur := r
	for {
		head, rest, nested := strings.Cut(path, ".")
		if !nested {
			return cur, path
		}
		if i := cur.Index(path); i >= 0 {
			return cur, path // a name holding a dot
		}
		v, ok := cur.Get(head)
		if !ok || v.Kind() != record.KindStruct {
			return nil, ""
		}
		cur, path = v.Struct(), rest
	}
}

func parseType(s string) (*record.Type, error) {
	t, err := record.ParseType(s)
	if err != nil {
		return nil, fmt.Errorf("type %q: %v", s, err)
	}
	return t, nil
}
