package record

import (
	"slices"
	"strconv"
	"strings"
)

// Type is a column type of the catalog, in Glue/Hive terms: string, int,
// long, double, decimal(p,s), boolean, timestamp and date (each with an
// input [TimeFormat]), binary, struct<…>, array<…>, map<…>, and choice<…>,
// a field seen with several types as Glue's DynamicFrames keep it until
// resolved. The type null is a field only ever seen as null.
//
// Types are immutable once built and are shared by pointer; build them with
// the constructors or [ParseType]. Compare them with [Type.Equal].
type Type struct {
	Kind Kind
	// Precision and Scale of a decimal.
	Precision, Scale int
	// Format is the input format of a timestamp or date; the zero format is
	// the flexible ISO form.
	Format TimeFormat
	// Elem is the element type of an array and the value type of a map.
	Elem *Type
	// Key is the key type of a map.
	Key *Type
	// Fields are the fields of a struct, in order.
	Fields []Column
	// Choices are the alternatives of a choice, in a canonical order (by
	// kind, then spelling), with no nested choices and no duplicates.
	Choices []*Type
}

// The scalar types without parameters.
var (
	TypeNull    = &Type{Kind: KindNull}
	TypeBool    = &Type{Kind: KindBool}
	TypeInt     = &Type{Kind: KindInt}
	TypeLong    = &Type{Kind: KindLong}
	TypeDouble  = &Type{Kind: KindDouble}
	TypeString  = &Type{Kind: KindString}
	TypeBinary  = &Type{Kind: KindBinary}
	TypeTime    = &Type{Kind: KindTimestamp}
	TypeDate    = &Type{Kind: KindDate}
	TypeDecimal = &Type{Kind: KindDecimal, Precision: 10, Scale: 0} // Hive's default decimal(10,0)
)

// Scalar returns the shared type of a kind without parameters (null, boolean,
// int, long, double, string, binary, timestamp and date with the default
// format, decimal(10,0)); it returns nil for nested kinds and choice.
func Scalar(k Kind) *Type {
	switch k {
	case KindNull:
		return TypeNull
	case KindBool:
		return TypeBool
	case KindInt:
		return TypeInt
	case KindLong:
		return TypeLong
	case KindDouble:
		return TypeDouble
	case KindString:
		return TypeString
	case KindBinary:
		return TypeBinary
	case KindTimestamp:
		return TypeTime
	case KindDate:
		return TypeDate
	case KindDecimal:
		return TypeDecimal
	}
	return nil
}

// DecimalType returns decimal(precision, scale).
func DecimalType(precision, scale int) *Type {
	return &Type{Kind: KindDecimal, Precision: precision, Scale: scale}
}

// TimestampType returns a timestamp type with an input format.
func TimestampType(f TimeFormat) *Type { return &Type{Kind: KindTimestamp, Format: f} }

// DateType returns a date type with an input format.
func DateType(f TimeFormat) *Type { return &Type{Kind: KindDate, Format: f} }

// ArrayType returns array<elem>.
func ArrayType(elem *Type) *Type { return &Type{Kind: KindArray, Elem: elem} }

// MapType returns map<key,value>.
func MapType(key, value *Type) *Type { return &Type{Kind: KindMap, Key: key, Elem: value} }

// StructType returns struct<fields>. It keeps fields.
func StructType(fields ...Column) *Type { return &Type{Kind: KindStruct, Fields: fields} }

// ChoiceType returns choice<types>, flattening nested choices, dropping
// duplicates and null, and ordering the alternatives by kind. With a single
// alternative left it returns that type itself.
func ChoiceType(types ...*Type) *Type {
	var out []*Type
	var add func(t *Type)
	add = func(t *Type) {
		if t == nil || t.Kind == KindNull {
			return
		}
		if t.Kind == KindChoice {
			for _, c := range t.Choices {
				add(c)
			}
			return
		}
		for _, o := range out {
			if o.Equal(t) {
				return
			}
		}
		out = append(out, t)
	}
	for _, t := range types {
		add(t)
	}
	switch len(out) {
	case 0:
		return TypeNull
	case 1:
		return out[0]
	}
	// sort by kind, then by spelling, so that equal choices print alike
	slices.SortStableFunc(out, func(a, b *Type) int {
		if a.Kind != b.Kind {
			return int(a.Kind) - int(b.Kind)
		}
		return strings.Compare(a.String(), b.String())
	})
	return &Type{Kind: KindChoice, Choices: out}
}

// Field returns the struct field called name, or nil.
func (t *Type) Field(name string) *Column {
	for i := range t.Fields {
		if t.Fields[i].Name == name {
			return &t.Fields[i]
		}
	}
	return nil
}

// Choice returns the alternative of a choice type with kind k, or nil. For
// a type that is not a choice it returns t itself when its kind is k.
func (t *Type) Choice(k Kind) *Type {
	if t.Kind != KindChoice {
		if t.Kind == k {
			return t
		}
		return nil
	}
	for _, c := range t.Choices {
		if c.Kind == k {
			return c
		}
	}
	return nil
}

// Equal reports whether t and u are the same type, formats and struct
// field names, nullability and order included (comments are ignored).
func (t *Type) Equal(u *Type) bool {
	if t == u {
		return true
	}
	if t == nil || u == nil || t.Kind != u.Kind {
		return false
	}
	switch t.Kind {
	case KindDecimal:
		return t.Precision == u.Precision && t.Scale == u.Scale
	case KindTimestamp, KindDate:
		return t.Format.Equal(u.Format)
	case KindArray:
		return t.Elem.Equal(u.Elem)
	case KindMap:
		return t.Key.Equal(u.Key) && t.Elem.Equal(u.Elem)
	case KindStruct:
		if len(t.Fields) != len(u.Fields) {
			return false
		}
		for i := range t.Fields {
			a, b := &t.Fields[i], &u.Fields[i]
			if a.Name != b.Name || a.Nullable != b.Nullable || !a.Type.Equal(b.Type) {
				return false
			}
		}
		return true
	case KindChoice:
		if len(t.Choices) != len(u.Choices) {
			return false
		}
		for i := range t.Choices {
			if !t.Choices[i].Equal(u.Choices[i]) {
				return false
			}
		}
		return true
	}
	return true
}

// String returns the type in the syntax [ParseType] reads: Glue/Hive
// spelling (struct<a:int,b:array<string>>, decimal(10,2), choice<long,string>)
// with two additions that keep everything the type says: a timestamp or date
// with a format prints it quoted, as timestamp('yyyy-MM-dd HH:mm:ss z'), and
// a struct field that is not nullable is followed by "not null".
func (t *Type) String() string { return string(t.appendSyntax(nil, false)) }

// HiveString returns the type as Hive and the Glue Data Catalog spell it:
// long as bigint, no formats, no "not null", and a choice as its widest
// alternative that holds every other (string if none does).
func (t *Type) HiveString() string { return string(t.appendSyntax(nil, true)) }

func (t *Type) appendSyntax(dst []byte, hive bool) []byte {
	if t == nil {
		return append(dst, "null"...)
	}
	switch t.Kind {
	case KindLong:
		if hive {
			return append(dst, "bigint"...)
		}
	case KindDecimal:
		dst = append(dst, "decimal("...)
		dst = strconv.AppendInt(dst, int64(t.Precision), 10)
		dst = append(dst, ',')
		dst = strconv.AppendInt(dst, int64(t.Scale), 10)
		return append(dst, ')')
	case KindTimestamp, KindDate:
		dst = append(dst, t.Kind.String()...)
		if !hive && !t.Format.IsZero() {
			dst = append(dst, '(')
			dst = appendQuoted(dst, t.Format.String())
			dst = append(dst, ')')
		}
		return dst
	case KindArray:
		dst = append(dst, "array<"...)
		dst = t.Elem.appendSyntax(dst, hive)
		return append(dst, '>')
	case KindMap:
		dst = append(dst, "map<"...)
		dst = t.Key.appendSyntax(dst, hive)
		dst = append(dst, ',')
		dst = t.Elem.appendSyntax(dst, hive)
		return append(dst, '>')
	case KindStruct:
		dst = append(dst, "struct<"...)
		for i := range t.Fields {
			f := &t.Fields[i]
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = appendName(dst, f.Name)
			dst = append(dst, ':')
			dst = f.Type.appendSyntax(dst, hive)
			if !f.Nullable && !hive {
				dst = append(dst, " not null"...)
			}
			if f.Comment != "" {
				dst = append(dst, " comment "...)
				dst = appendQuoted(dst, f.Comment)
			}
		}
		return append(dst, '>')
	case KindChoice:
		if hive {
			return choiceWidest(t).appendSyntax(dst, true)
		}
		dst = append(dst, "choice<"...)
		for i, c := range t.Choices {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = c.appendSyntax(dst, hive)
		}
		return append(dst, '>')
	case KindNull:
		if hive {
			return append(dst, "string"...)
		}
	}
	return append(dst, t.Kind.String()...)
}

// choiceWidest returns the alternative of a choice that every other one
// widens to, or string.
func choiceWidest(t *Type) *Type {
	for _, c := range t.Choices {
		all := true
		for _, o := range t.Choices {
			if w := widen(o, c); w == nil || !w.Equal(c) {
				all = false
				break
			}
		}
		if all {
			return c
		}
	}
	return TypeString
}

func appendQuoted(dst []byte, s string) []byte {
	dst = append(dst, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '\'')
}

// appendName writes a struct field name, in backquotes when it is not a
// plain identifier.
func appendName(dst []byte, name string) []byte {
	plain := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c == '$' || c == '@' || c == '-' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
			plain = false
			break
		}
	}
	if plain && strings.EqualFold(name, "not") {
		plain = false
	}
	if plain {
		return append(dst, name...)
	}
	dst = append(dst, '`')
	dst = append(dst, strings.ReplaceAll(name, "`", "``")...)
	return append(dst, '`')
}
