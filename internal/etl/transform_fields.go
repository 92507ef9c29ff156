package etl

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
)

// drop_nulls (Glue's DropNullFields), drop_fields, select_fields and
// rename_field: field-level edits by (dotted) path.

func compileDropNulls(spec *DropNullsSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	for i, f := range spec.Fields {
		if err := checkPath(in, f); err != nil {
			errs = append(errs, fmt.Errorf("fields[%d]: %w", i, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	fields := spec.Fields
	return stageDef{build: func(*stageEnv) Transform {
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			if len(fields) == 0 {
				for i := 0; i < r.Len(); {
					if f := r.At(i); f.Value.IsNull() {
						r.Delete(f.Name)
						continue
					}
					i++
				}
				return o.of(r), nil
			}
			for _, path := range fields {
				if p, name := parent(r, path); p != nil {
					if v, ok := p.Get(name); ok && v.IsNull() {
						p.Delete(name)
					}
				}
			}
			return o.of(r), nil
		}
	}}, in, nil
}

func compileDropFields(paths []string, in *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	out := in
	for i, f := range paths {
		if err := checkPath(in, f); err != nil {
			errs = append(errs, fmt.Errorf("[%d]: %w", i, err))
			continue
		}
		out = withoutColumn(out, f)
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	return stageDef{build: func(*stageEnv) Transform {
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			for _, path := range paths {
				if p, name := parent(r, path); p != nil {
					p.Delete(name)
				}
			}
			return o.of(r), nil
		}
	}}, out, nil
}

func compileSelectFields(paths []string, in *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	var cols []record.Column
	refs := make([]*record.Ref, len(paths))
	for i, f := range paths {
		refs[i] = record.NewRef(f)
		if err := checkPath(in, f); err != nil {
			errs = append(errs, fmt.Errorf("[%d]: %w", i, err))
			continue
		}
		if in != nil {
			t, _ := lookupType(in, f)
			cols = setColumn(cols, f, t)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	var out *record.Schema
	if in != nil {
		var err error
		if out, err = record.NewSchema(cols...); err != nil {
			return stageDef{}, nil, err
		}
	}
	return stageDef{build: func(*stageEnv) Transform {
		scratch := &record.Record{}
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			scratch.Reset()
			for i, path := range paths {
				v, ok := refs[i].Get(r)
				if !ok {
					if v, ok = r.Lookup(path); !ok {
						continue
					}
				}
				if containsDot(path) {
					scratch.SetPath(path, v)
				} else {
					scratch.Append(path, v)
				}
			}
			return o.of(scratch), nil
		}
	}}, out, nil
}

func compileRenameField(spec *RenameSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	if spec.From == "" || spec.To == "" {
		return stageDef{}, nil, errors.New("from and to are required")
	}
	if err := checkPath(in, spec.From); err != nil {
		return stageDef{}, nil, fmt.Errorf("from: %w", err)
	}
	var out *record.Schema
	if in != nil {
		t, _ := lookupType(in, spec.From)
		out = withColumn(withoutColumn(in, spec.From), spec.To, t)
	}
	from, to := spec.From, spec.To
	return stageDef{build: func(*stageEnv) Transform {
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			p, name := parent(r, from)
			if p == nil {
				return o.of(r), nil
			}
			if _, toName := parent(r, to); !containsDot(to) || toName == "" {
				if p == r && !containsDot(to) {
					p.Rename(name, to)
					return o.of(r), nil
				}
			}
			v, ok := p.Get(name)
			if !ok {
				return o.of(r), nil
			}
			p.Delete(name)
			r.SetPath(to, v)
			return o.of(r), nil
		}
	}}, out, nil
}
