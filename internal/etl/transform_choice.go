package etl

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// resolve_choice: Glue's ResolveChoice, per record. A field whose type
// varies between records (a choice type in the catalog) is resolved by:
//
//   - cast:TYPE: cast every value; one that does not cast dead-letters
//     the record (reason cast);
//   - project:TYPE: keep values that cast, make the others null;
//   - make_cols: move the value to PATH_KIND (price_double, price_string);
//   - make_struct: replace the value by a struct {KIND: value};
//   - match_catalog: cast to the type the source's schema gives the path.

type choiceAction uint8

const (
	choiceCast choiceAction = iota
	choiceProject
	choiceMakeCols
	choiceMakeStruct
)

type choice struct {
	path   string
	action choiceAction
	typ    *record.Type
}

func compileResolveChoice(specs []ChoiceSpec, in, source *record.Schema) (stageDef, *record.Schema, error) {
	var errs []error
	var cs []choice
	out := in
	for i, c := range specs {
		if c.Path == "" {
			errs = append(errs, fmt.Errorf("[%d].path: missing", i))
			continue
		}
		if err := checkPath(in, c.Path); err != nil {
			errs = append(errs, fmt.Errorf("[%d].path: %w", i, err))
			continue
		}
		var inType *record.Type
		if in != nil {
			inType, _ = lookupType(in, c.Path)
		}
		kind, arg, _ := strings.Cut(c.Action, ":")
		ch := choice{path: c.Path}
		switch kind {
		case "cast", "project":
			t, err := parseType(arg)
			if err != nil {
				errs = append(errs, fmt.Errorf("[%d].action: %w", i, err))
				continue
			}
			ch.typ = t
			if kind == "project" {
				ch.action = choiceProject
			}
			out = withColumn(out, c.Path, t)
		case "match_catalog":
			if source == nil {
				errs = append(errs, fmt.Errorf("[%d].action: match_catalog needs a source schema", i))
				continue
			}
			t, ok := lookupType(source, c.Path)
			if !ok {
				errs = append(errs, fmt.Errorf("[%d].action: match_catalog: the source schema has no field %q", i, c.Path))
				continue
			}
			ch.typ = t
			out = withColumn(out, c.Path, t)
		case "make_cols":
			ch.action = choiceMakeCols
			out = withoutColumn(out, c.Path)
			for _, alt := range alternatives(inType) {
				out = withColumn(out, c.Path+"_"+alt.Kind.String(), alt)
			}
		case "make_struct":
			ch.action = choiceMakeStruct
			var fields []record.Column
			for _, alt := range alternatives(inType) {
				fields = append(fields, record.Column{Name: alt.Kind.String(), Type: alt, Nullable: true})
			}
			out = withColumn(out, c.Path, record.StructType(fields...))
		default:
			errs = append(errs, fmt.Errorf("[%d].action: %q: want cast:TYPE, project:TYPE, make_cols, make_struct or match_catalog", i, c.Action))
			continue
		}
		cs = append(cs, ch)
	}
	if err := errors.Join(errs...); err != nil {
		return stageDef{}, nil, err
	}
	return stageDef{build: func(*stageEnv) Transform {
		var o one
		return func(_ context.Context, r *record.Record) ([]*record.Record, error) {
			for i := range cs {
				c := &cs[i]
				p, name := parent(r, c.path)
				if p == nil {
					continue
				}
				v, ok := p.Get(name)
				if !ok || v.IsNull() {
					continue
				}
				switch c.action {
				case choiceCast:
					cv, err := record.Cast(v, c.typ)
					if err != nil {
						return nil, &RecordError{Reason: "cast", Err: fmt.Errorf("%s: %w", c.path, err)}
					}
					p.Set(name, cv)
				case choiceProject:
					cv, err := record.Cast(v, c.typ)
					if err != nil {
						cv = record.NullValue()
					}
					p.Set(name, cv)
				case choiceMakeCols:
					p.Delete(name)
					p.Set(name+"_"+v.Kind().String(), v)
				case choiceMakeStruct:
					s := r.Alloc()
					s.Append(v.Kind().String(), v)
					p.Set(name, record.StructValue(s))
				}
			}
			return o.of(r), nil
		}
	}}, out, nil
}

// alternatives returns the alternatives of a choice type, or the type
// itself.
func alternatives(t *record.Type) []*record.Type {
	switch {
	case t == nil:
		return nil
	case t.Kind == record.KindChoice:
		return t.Choices
	}
	return []*record.Type{t}
}
