package record

import "slices"

// MergeTypes returns the type of a field seen with type a in some records
// and type b in others, as a crawler over several files needs: the same type
// stays; null gives way to the other; int widens to long, integers to double
// and decimals to a decimal that holds both; timestamps and dates with
// different text formats become a timestamp with the flexible ISO format;
// structs merge field by field (a field missing on one side becomes
// nullable), arrays and maps by element. Anything else becomes
// choice<a,b>, as Glue's DynamicFrames keep it.
func MergeTypes(a, b *Type) *Type {
	if w := widen(a, b); w != nil {
		return w
	}
	// a choice: merge each alternative of b into the first alternative of a
	// that it widens with, else add it
	var alts []*Type
	if a.Kind == KindChoice {
		alts = slices.Clone(a.Choices)
	} else {
		alts = []*Type{a}
	}
	var add []*Type
	if b.Kind == KindChoice {
		add = b.Choices
	} else {
		add = []*Type{b}
	}
	for _, t := range add {
		merged := false
		for i, o := range alts {
			if w := widen(o, t); w != nil {
				alts[i] = w
				merged = true
				break
			}
		}
		if !merged {
			alts = append(alts, t)
		}
	}
	return ChoiceType(alts...)
}

// widen returns the common widening of a and b, or nil if there is none.
func widen(a, b *Type) *Type {
	switch {
	case a.Equal(b):
		return a
	case a.Kind == KindNull:
		return b
	case b.Kind == KindNull:
		return a
	case a.Kind == KindChoice || b.Kind == KindChoice:
		return nil
	}
	if a.Kind > b.Kind && !(a.Kind.IsNested() && b.Kind.IsNested()) {
		a, b = b, a
	}
	switch a.Kind {
	case KindInt:
		switch b.Kind {
		case KindLong, KindDouble:
			return b
		case KindDecimal:
			return widenDecimal(DecimalType(10, 0), b)
		}
	case KindLong:
		switch b.Kind {
		case KindDouble:
			return b
		case KindDecimal:
			return widenDecimal(DecimalType(19, 0), b)
		}
	case KindDouble:
		if b.Kind == KindDecimal {
			return TypeDouble
		}
	case KindDecimal:
		if b.Kind == KindDecimal {
			return widenDecimal(a, b)
		}
	case KindTimestamp, KindDate:
		if (b.Kind == KindTimestamp || b.Kind == KindDate) && !a.Format.IsNumeric() && !b.Format.IsNumeric() {
			if a.Kind == b.Kind && a.Format.Equal(b.Format) {
				return a
			}
			return TypeTime
		}
	case KindArray:
		if b.Kind == KindArray {
			return ArrayType(MergeTypes(a.Elem, b.Elem))
		}
	case KindMap:
		if b.Kind == KindMap {
			k := widen(a.Key, b.Key)
			if k == nil {
				k = TypeString
			}
			return MapType(k, MergeTypes(a.Elem, b.Elem))
		}
	case KindStruct:
		if b.Kind == KindStruct {
			return StructType(mergeColumns(a.Fields, b.Fields)...)
		}
	}
	return nil
}

func widenDecimal(a, b *Type) *Type {
	intDigits := max(a.Precision-a.Scale, b.Precision-b.Scale)
	scale := max(a.Scale, b.Scale)
	prec := min(intDigits+scale, MaxDecimalPrecision)
	if scale > prec {
		scale = prec
	}
	return DecimalType(prec, scale)
}

// mergeColumns merges two column lists: a's columns in order, then b's new
// ones; a column on one side only becomes nullable.
func mergeColumns(a, b []Column) []Column {
	out := make([]Column, 0, len(a)+len(b))
	seen := make(map[string]int, len(a))
	for _, c := range a {
		seen[c.Name] = len(out)
		c.Nullable = true // until found in b
		out = append(out, c)
	}
	inB := make(map[string]bool, len(b))
	for _, c := range b {
		inB[c.Name] = true
		if i, ok := seen[c.Name]; ok {
			o := &out[i]
			o.Type = MergeTypes(o.Type, c.Type)
			o.Nullable = c.Nullable || a[i].Nullable
			if o.Comment == "" {
				o.Comment = c.Comment
			}
			continue
		}
		c.Nullable = true
		out = append(out, c)
	}
	return out
}

// MergeSchemas merges two schemas column by column with [MergeTypes]: a's
// columns in their order, then the columns only b has; a column that one
// side lacks becomes nullable.
func MergeSchemas(a, b *Schema) *Schema {
	s, err := NewSchema(mergeColumns(a.cols, b.cols)...)
	if err != nil {
		panic("record: merged schema invalid: " + err.Error()) // names were unique on both sides
	}
	return s
}

// Widens reports whether every value of type from is also a value of type
// to, read without loss: equal types, null into anything, int into long or
// double, long into double, a decimal into one with as many integer and
// fraction digits, timestamps and dates with text formats into the flexible
// timestamp, arrays and maps by element, structs whose fields all widen and
// where every field that to adds is nullable, and any alternative of a
// choice into a choice (or type) that takes it. A catalog checks schema
// compatibility with it: a reader of schema to can read data of schema from
// when every column widens.
func Widens(from, to *Type) bool {
	if from.Equal(to) || from.Kind == KindNull {
		return true
	}
	if from.Kind == KindChoice {
		for _, c := range from.Choices {
			if !Widens(c, to) {
				return false
			}
		}
		return true
	}
	if to.Kind == KindChoice {
		for _, c := range to.Choices {
			if Widens(from, c) {
				return true
			}
		}
		return false
	}
	switch {
	case from.Kind == KindStruct && to.Kind == KindStruct:
		for _, f := range from.Fields {
			t := to.Field(f.Name)
			if t == nil || !Widens(f.Type, t.Type) || (f.Nullable && !t.Nullable) {
				return false
			}
		}
		for _, t := range to.Fields {
			if from.Field(t.Name) == nil && !t.Nullable {
				return false
			}
		}
		return true
	case from.Kind == KindArray && to.Kind == KindArray:
		return Widens(from.Elem, to.Elem)
	case from.Kind == KindMap && to.Kind == KindMap:
		return Widens(from.Key, to.Key) && Widens(from.Elem, to.Elem)
	}
	w := widen(from, to)
	return w != nil && w.Equal(to)
}
