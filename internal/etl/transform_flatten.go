package etl

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
)

// flatten and explode: Glue's Relationalize, per record. flatten lifts the
// fields of nested structs to the top level, named by their path; explode
// turns an array field into one record per element.

func compileFlatten(spec *FlattenSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	sep := spec.Separator
	if sep == "" {
		sep = "."
	}
	var out *record.Schema
	if in != nil {
		var cols []record.Column
		var walk func(prefix string, cs []record.Column)
		walk = func(prefix string, cs []record.Column) {
			for _, c := range cs {
				if c.Type.Kind == record.KindStruct {
					walk(prefix+c.Name+sep, c.Type.Fields)
					continue
				}
				c.Name = prefix + c.Name
				cols = append(cols, c)
			}
		}
		walk("", in.Columns())
		var err error
		if out, err = record.NewSchema(cols...); err != nil {
			return stageDef{}, nil, err
		}
	}
	return stageDef{build: func(*stageEnv) Transform {
		scratch := &record.Record{}
		var o one
		var walk func(prefix string, r *record.Record)
		walk = func(prefix string, r *record.Record) {
			for _, f := range r.Fields() {
				if f.Value.Kind() == record.KindStruct {
					walk(prefix+f.Name+sep, f.Value.Struct())
					continue
				}
				if prefix == "" {
					scratch.Append(f.Name, f.Value)
				} else {
					scratch.Append(prefix+f.Name, f.Value)
				}
			}
		}
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			scratch.Reset()
			walk("", r)
			return o.of(scratch), nil
		}
	}}, out, nil
}

func compileExplode(spec *ExplodeSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	if spec.Field == "" {
		return stageDef{}, nil, errors.New("field: missing")
	}
	if err := checkPath(in, spec.Field); err != nil {
		return stageDef{}, nil, fmt.Errorf("field: %w", err)
	}
	field, prefix := spec.Field, spec.Prefix
	var out *record.Schema
	if in != nil {
		t, _ := lookupType(in, field)
		if t.Kind != record.KindArray {
			return stageDef{}, nil, fmt.Errorf("field: %q is %s, not an array", field, t)
		}
		out = withoutColumn(in, field)
		if t.Elem.Kind == record.KindStruct {
			for _, c := range t.Elem.Fields {
				out = withColumn(out, prefix+c.Name, c.Type)
			}
		} else {
			out = withColumn(out, field, t.Elem)
		}
	}
	ref := record.NewRef(field)
	return stageDef{build: func(*stageEnv) Transform {
		var pool []*record.Record
		var outs []*record.Record
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			v, ok := ref.Get(r)
			if !ok {
				v, _ = r.Lookup(field)
			}
			arr := v.Array()
			outs = outs[:0]
			for i, e := range arr {
				if i >= len(pool) {
					pool = append(pool, &record.Record{})
				}
				o := pool[i]
				o.Reset()
				for _, f := range r.Fields() {
					if f.Name != field {
						o.Append(f.Name, f.Value)
					}
				}
				if e.Kind() == record.KindStruct {
					for _, f := range e.Struct().Fields() {
						o.Set(prefix+f.Name, f.Value)
					}
				} else {
					o.Append(field, e)
				}
				outs = append(outs, o)
			}
			return outs, nil
		}
	}}, out, nil
}
