package etl

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/pricestream/pricestream/internal/record"
)

// filter, map, assert and split_rows: transforms that evaluate
// expressions (see expr.go).

func compileFilter(src string, in *record.Schema) (stageDef, *record.Schema, error) {
	e, err := compileExpr(src, in, wantBool)
	if err != nil {
		return stageDef{}, nil, err
	}
	return stageDef{build: func(env *stageEnv) Transform {
		ev := env.ev
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			ok, err := ev.Bool(e, r)
			if err != nil {
				return nil, &RecordError{Reason: "expression", Err: err}
			}
			if !ok {
				return nil, nil
			}
			return o.of(r), nil
		}
	}}, in, nil
}

type fieldExpr struct {
	field string
	ref   *record.Ref
	e     *Expr
	path  bool // field is a dotted path into a struct
}

func compileMap(specs []FieldExprSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	var fs []fieldExpr
	out := in
	for i, m := range specs {
		if m.Field == "" {
			errs = append(errs, fmt.Errorf("[%d].field: missing", i))
			continue
		}
		e, err := compileExpr(m.Expr, out, wantAny)
		if err != nil {
			errs = append(errs, fmt.Errorf("[%d].expr: %w", i, err))
			continue
		}
		fs = append(fs, fieldExpr{field: m.Field, ref: record.NewRef(schemaName(out, m.Field)), e: e, path: containsDot(m.Field)})
		t := e.resultType()
		if t == nil {
			t = record.TypeString
		}
		out = withColumn(out, m.Field, t)
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	// Where each field goes in a record: a map of flat fields (no dotted
	// path, the common case) finds them all at once. Each field first
	// tries where it was in the last record (its hint); when one is not
	// there, one pass over the record's fields finds every field
	// (fieldSet.find), instead of a scan of the record per field: a map
	// adding six fields to a window's row of thirty scanned it six times
	// to learn that they are not there yet, about 11% of the Fast
	// Sneakers job's instructions. dup[x] is the first earlier field of
	// x's name, or -1: x then sets where that one went.
	names := make([]string, len(fs))
	flat := true
	for i := range fs {
		names[i] = fs[i].ref.Name()
		flat = flat && !fs[i].path
	}
	dup := make([]int, len(fs))
	for x, n := range names {
		dup[x] = slices.Index(names[:x], n)
	}
	set := newFieldSet(names)
	return stageDef{build: func(env *stageEnv) Transform {
		ev := env.ev
		var o one
		at := make([]int, len(fs))
		hint := make([]int, len(fs))
		if flat {
			return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
				fields := r.Fields()
				for x, n := range names {
					if h := hint[x]; h < len(fields) && fields[h].Name == n {
						at[x] = h
						continue
					}
					set.find(fields, at)
					break
				}
				for x := range fs {
					f := &fs[x]
					v, err := ev.Value(f.e, r, r)
					if err != nil {
						return nil, &RecordError{Reason: "expression", Err: fmt.Errorf("%s: %w", f.field, err)}
					}
					j := at[x]
					if d := dup[x]; d >= 0 {
						j = at[d]
					}
					if j >= 0 {
						if r.At(j).Value != v { // often unchanged: spare the write barriers while the GC marks
							r.SetAt(j, v)
						}
					} else {
						j = r.Len()
						r.Append(f.field, v)
					}
					at[x], hint[x] = j, j
				}
				return o.of(r), nil
			}
		}
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			for i := range fs {
				f := &fs[i]
				v, err := ev.Value(f.e, r, r)
				if err != nil {
					return nil, &RecordError{Reason: "expression", Err: fmt.Errorf("%s: %w", f.field, err)}
				}
				if j := f.ref.Index(r); j >= 0 {
					if r.Fields()[j].Value != v { // often unchanged: spare the write barriers while the GC marks
						r.SetAt(j, v)
					}
				} else if f.path {
					r.SetPath(f.field, v)
				} else {
					r.Append(f.field, v)
				}
			}
			return o.of(r), nil
		}
	}}, out, nil
}

func compileAssert(spec *AssertSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	e, err := compileExpr(spec.Expr, in, wantBool)
	if err != nil {
		return stageDef{}, nil, fmt.Errorf("expr: %w", err)
	}
	reason := spec.Reason
	if reason == "" {
		reason = "assert"
	}
	failed := fmt.Errorf("%s is false", spec.Expr)
	return stageDef{build: func(env *stageEnv) Transform {
		ev := env.ev
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			ok, err := ev.Bool(e, r)
			if err != nil {
				return nil, &RecordError{Reason: "expression", Err: err}
			}
			if !ok {
				return nil, &RecordError{Reason: reason, Err: failed}
			}
			return o.of(r), nil
		}
	}}, in, nil
}

type route struct {
	when *Expr
	sink string
}

func compileSplitRows(specs []RouteSpec, in *record.Schema, sinks map[string]bool) (stageDef, *record.Schema, error) {
	var errs []error
	var rs []route
	for i, s := range specs {
		e, err := compileExpr(s.When, in, wantBool)
		if err != nil {
			errs = append(errs, fmt.Errorf("[%d].when: %w", i, err))
			continue
		}
		if !sinks[s.Sink] {
			errs = append(errs, fmt.Errorf("[%d].sink: no sink named %q in sinks", i, s.Sink))
			continue
		}
		rs = append(rs, route{when: e, sink: s.Sink})
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	return stageDef{build: func(env *stageEnv) Transform {
		ev := env.ev
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			for i := range rs {
				ok, err := ev.Bool(rs[i].when, r)
				if err != nil {
					return nil, &RecordError{Reason: "expression", Err: err}
				}
				if ok {
					if err := env.route(rs[i].sink, r); err != nil {
						return nil, err
					}
					return nil, nil
				}
			}
			return o.of(r), nil
		}
	}}, in, nil
}
