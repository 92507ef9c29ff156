package etl

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
)

// unbox: Glue's Unbox for JSON. A string field holding a JSON object is
// parsed into a struct in its place (typed by the spec's schema, if any);
// text that is not a JSON object dead-letters the record (reason unbox).

func compileUnbox(spec *UnboxSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	if spec.Field == "" {
		return stageDef{}, nil, errors.New("field: missing")
	}
	if err := checkPath(in, spec.Field); err != nil {
		return stageDef{}, nil, fmt.Errorf("field: %w", err)
	}
	schema, err := spec.Schema.Schema()
	if err != nil {
		return stageDef{}, nil, fmt.Errorf("schema: %w", err)
	}
	var out *record.Schema
	if in != nil {
		t := record.MapType(record.TypeString, record.TypeString)
		if schema != nil {
			t = schema.Type()
		}
		out = withColumn(in, spec.Field, t)
	}
	dec := record.NewJSONDecoder(record.JSONOptions{Schema: schema})
	field := spec.Field
	return stageDef{build: func(*stageEnv) Transform {
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			p, name := parent(r, field)
			if p == nil {
				return o.of(r), nil
			}
			v, ok := p.Get(name)
			if !ok || v.IsNull() {
				return o.of(r), nil
			}
			if v.Kind() != record.KindString {
				return nil, &RecordError{Reason: "unbox", Err: fmt.Errorf("%s is %s, not a string", field, v.Kind())}
			}
			child := r.Alloc()
			if err := dec.DecodeString(v.Str(), child); err != nil {
				return nil, &RecordError{Reason: "unbox", Err: fmt.Errorf("%s: %w", field, err)}
			}
			p.Set(name, record.StructValue(child))
			return o.of(r), nil
		}
	}}, out, nil
}
