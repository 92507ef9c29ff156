package etl

import (
	"context"
	"errors"
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
)

// apply_mapping: Glue's ApplyMapping. Each mapping reads a (dotted) source
// path, casts it to its type and writes it at its target path (dotted
// targets nest); the output holds the mapped fields only, in mapping
// order. A value that does not cast dead-letters the record (reason cast);
// a missing source leaves the target out.

type mapping struct {
	from, to string
	ref      *record.Ref
	typ      *record.Type
}

func compileApplyMapping(specs []MappingSpec, in *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	ms := make([]mapping, 0, len(specs))
	var outCols []record.Column
	for i, m := range specs {
		if m.From == "" {
			errs = append(errs, fmt.Errorf("[%d].from: missing", i))
			continue
		}
		if err := checkPath(in, m.From); err != nil {
			errs = append(errs, fmt.Errorf("[%d].from: %w", i, err))
			continue
		}
		to := m.To
		if to == "" {
			to = m.From
		}
		var t *record.Type
		if m.Type != "" {
			var err error
			if t, err = parseType(m.Type); err != nil {
				errs = append(errs, fmt.Errorf("[%d].type: %w", i, err))
				continue
			}
		}
		ms = append(ms, mapping{from: m.From, to: to, ref: record.NewRef(m.From), typ: t})
		ct := t
		if ct == nil && in != nil {
			ct, _ = lookupType(in, m.From)
		}
		if ct == nil {
			ct = record.TypeString
		}
		outCols = setColumn(outCols, to, ct)
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	var out *record.Schema
	if in != nil {
		var err error
		if out, err = record.NewSchema(outCols...); err != nil {
			return stageDef{}, nil, err
		}
	}
	return stageDef{build: func(*stageEnv) Transform {
		scratch := &record.Record{}
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			scratch.Reset()
			for i := range ms {
				m := &ms[i]
				v, ok := m.ref.Get(r)
				if !ok {
					if v, ok = r.Lookup(m.from); !ok {
						continue
					}
				}
				if m.typ != nil {
					c, err := record.Cast(v, m.typ)
					if err != nil {
						return nil, &RecordError{Reason: "cast", Err: fmt.Errorf("%s: %w", m.from, err)}
					}
					v = c
				}
				if m.to == m.from && !containsDot(m.to) {
					scratch.Append(m.to, v)
				} else {
					scratch.SetPath(m.to, v)
				}
			}
			return o.of(scratch), nil
		}
	}}, out, nil
}

func containsDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}
