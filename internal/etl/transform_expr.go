package etl

import (
	"context"
	"errors"
	"fmt"

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
	return stageDef{build: func(env *stageEnv) Transform {
		ev := env.ev
		var o one
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
