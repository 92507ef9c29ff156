package record

import (
	"fmt"
	"strconv"
	"strings"
)

// Violation is one way a record does not match a schema.
type Violation struct {
	// Path names the field: "price", "billing.address.city",
	// "items[2].product_id", `attributes["color"]`.
	Path string
	// Reason says what is wrong, e.g. "missing", "null",
	// "expected double, found string \"abc\"".
	Reason string
}

// String returns "path: reason".
func (v Violation) String() string { return v.Path + ": " + v.Reason }

// ValidationError lists every violation of a record against a schema.
type ValidationError struct {
	Violations []Violation
}

// Error lists every violation.
func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("record: ")
	if len(e.Violations) == 1 {
		b.WriteString("1 violation: ")
	} else {
		b.WriteString(strconv.Itoa(len(e.Violations)))
		b.WriteString(" violations: ")
	}
	for i, v := range e.Violations {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(v.String())
	}
	return b.String()
}

// ValidateOptions configure a [Validator].
type ValidateOptions struct {
	// AllowExtra accepts fields the schema does not name (at any depth of
	// structs); by default each is a violation.
	AllowExtra bool
}

// Validator checks records against a schema. A value matches a type when it
// has the type's kind, or can be cast to it without loss (see [Cast]): an
// integer for a double, text in a timestamp column's format, number text for
// a number column (as untyped CSV records carry them). A decimal must fit
// the precision and scale, an int the 32-bit range. A struct field, or a
// column, that is missing or null must be nullable. A Validator is safe for
// concurrent use.
type Validator struct {
	schema *Schema
	opts   ValidateOptions
}

// NewValidator returns a validator of records against s.
func NewValidator(s *Schema, opts ValidateOptions) *Validator {
	return &Validator{schema: s, opts: opts}
}

// Validate returns nil if r matches, or a [*ValidationError] listing every
// violation with its field path.
func (v *Validator) Validate(r *Record) error {
	var vs []Violation
	vs = v.checkFields(vs, "", r, v.schema.Columns())
	if len(vs) == 0 {
		return nil
	}
	return &ValidationError{Violations: vs}
}

// Validate checks r against s, strictly (extra fields are violations); see
// [Validator].
func (s *Schema) Validate(r *Record) error {
	return (&Validator{schema: s}).Validate(r)
}

func joinPath(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

func (v *Validator) checkFields(vs []Violation, prefix string, r *Record, cols []Column) []Violation {
	for i := range cols {
		c := &cols[i]
		val, ok := r.Get(c.Name)
		path := joinPath(prefix, c.Name)
		switch {
		case !ok:
			if !c.Nullable {
				vs = append(vs, Violation{Path: path, Reason: "missing"})
			}
		case val.IsNull():
			if !c.Nullable {
				vs = append(vs, Violation{Path: path, Reason: "null"})
			}
		default:
			vs = v.check(vs, path, val, c.Type)
		}
	}
	if !v.opts.AllowExtra {
		for _, f := range r.fields {
			found := false
			for i := range cols {
				if cols[i].Name == f.Name {
					found = true
					break
				}
			}
			if !found {
				vs = append(vs, Violation{Path: joinPath(prefix, f.Name), Reason: "not in the schema"})
			}
		}
	}
	return vs
}

func mismatch(path string, val Value, t *Type) Violation {
	text := val.String()
	if len(text) > 40 {
		text = text[:40] + "…"
	}
	return Violation{Path: path, Reason: fmt.Sprintf("expected %s, found %s %s", t, val.kind, text)}
}

// check appends the violations of a non-null value against t.
func (v *Validator) check(vs []Violation, path string, val Value, t *Type) []Violation {
	if val.IsNull() {
		return vs // elements and map values may be null
	}
	switch t.Kind {
	case KindChoice:
		for _, c := range t.Choices {
			if len(v.check(nil, path, val, c)) == 0 {
				return vs
			}
		}
		return append(vs, mismatch(path, val, t))
	case KindStruct:
		if val.kind != KindStruct {
			return append(vs, mismatch(path, val, t))
		}
		return v.checkFields(vs, path, val.ref, t.Fields)
	case KindArray:
		if val.kind != KindArray {
			return append(vs, mismatch(path, val, t))
		}
		for i, e := range val.Array() {
			vs = v.check(vs, path+"["+strconv.Itoa(i)+"]", e, t.Elem)
		}
		return vs
	case KindMap:
		if val.kind != KindMap && val.kind != KindStruct {
			return append(vs, mismatch(path, val, t))
		}
		for _, f := range val.ref.fields {
			p := path + "[" + strconv.Quote(f.Name) + "]"
			if _, err := castIn(StringValue(f.Name), t.Key, nil); err != nil {
				vs = append(vs, Violation{Path: p, Reason: fmt.Sprintf("key is not a %s", t.Key)})
			}
			vs = v.check(vs, p, f.Value, t.Elem)
		}
		return vs
	case KindString:
		if val.kind != KindString {
			return append(vs, mismatch(path, val, t))
		}
		return vs
	}
	if val.kind.IsNested() {
		return append(vs, mismatch(path, val, t))
	}
	if val.kind == t.Kind && t.Kind != KindDecimal && t.Kind != KindInt {
		return vs
	}
	if _, err := castIn(val, t, nil); err != nil {
		if val.kind == KindString || (val.kind.IsNumeric() && t.Kind.IsNumeric()) {
			return append(vs, Violation{Path: path, Reason: fmt.Sprintf("expected %s: %s", t, strings.TrimPrefix(err.Error(), "record: "))})
		}
		return append(vs, mismatch(path, val, t))
	}
	if val.kind == KindString || val.kind == t.Kind || (val.kind.IsNumeric() && t.Kind.IsNumeric()) ||
		(t.Kind == KindTimestamp && t.Format.IsNumeric() && val.kind.IsNumeric()) {
		return vs
	}
	return append(vs, mismatch(path, val, t))
}
