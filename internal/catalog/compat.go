package catalog

import (
	"fmt"

	"github.com/pricestream/pricestream/internal/record"
)

// IncompatibleError is the refusal of a schema that breaks a table's
// compatibility mode. It wraps [ErrIncompatible].
type IncompatibleError struct {
	// Mode is the mode that was broken.
	Mode Compatibility
	// Against is the index, in the previous schemas given to
	// [CheckCompatibility], of the schema it breaks with; the catalog
	// turns it into Version.
	Against int
	// Version is the table version whose schema it breaks with, when known.
	Version int
	// Column is the path of the column at fault ("price",
	// "billing.city", "items[].sku").
	Column string
	// Reason says what breaks.
	Reason string
}

// Error names the mode, the column and the reason.
func (e *IncompatibleError) Error() string {
	against := "the previous schema"
	switch {
	case e.Version > 0:
		against = fmt.Sprintf("version %d", e.Version)
	case e.Mode == CompatBackwardAll || e.Mode == CompatForwardAll || e.Mode == CompatFullAll:
		against = fmt.Sprintf("earlier schema #%d", e.Against+1)
	}
	return fmt.Sprintf("catalog: incompatible schema: %s with %s: column %q: %s", e.Mode, against, e.Column, e.Reason)
}

// Unwrap returns [ErrIncompatible].
func (e *IncompatibleError) Unwrap() error { return ErrIncompatible }

// CheckCompatibility checks a new schema against the earlier ones
// (oldest first; the last is the latest) under a mode, with the rules of
// Confluent's and Glue's schema registries for Avro records:
//
//   - BACKWARD: a reader of the new schema can read data written with the
//     latest earlier schema. BACKWARD_ALL: with every earlier schema.
//   - FORWARD: a reader of the latest earlier schema can read data written
//     with the new one. FORWARD_ALL: readers of every earlier schema can.
//   - FULL, FULL_ALL: both directions, with the latest or with every one.
//   - NONE: anything goes. DISABLED: the schema may not change at all.
//
// A reader schema reads data written with a writer schema when, for every
// reader column (and struct field, at any depth):
//
//   - the writer has it, and the writer's type widens to the reader's
//     ([record.Widens]: int to long or double, long to double, a decimal to
//     a wider one, a time text format to flexible ISO, choices by their
//     alternatives, arrays and maps by element); and if the writer's column
//     is nullable, so is the reader's (the data may hold null);
//   - or the writer lacks it, and it is nullable (it reads as null, as an
//     Avro field with a null default).
//
// Columns only the writer has are skipped. So adding a nullable column or
// deleting any column is BACKWARD; adding any column or deleting a
// nullable one is FORWARD; adding or deleting nullable columns is FULL;
// widening a type is BACKWARD and narrowing it FORWARD.
//
// The error is an [*IncompatibleError] naming the first column at fault.
func CheckCompatibility(mode Compatibility, next *record.Schema, previous ...*record.Schema) error {
	if len(previous) == 0 || mode == CompatNone {
		return nil
	}
	check := previous
	switch mode {
	case CompatBackward, CompatForward, CompatFull, CompatDisabled:
		check = previous[len(previous)-1:]
	case CompatBackwardAll, CompatForwardAll, CompatFullAll:
	default:
		return invalidf("unknown compatibility mode %q", string(mode))
	}
	// newest first, so that the error names the nearest version
	for i := len(check) - 1; i >= 0; i-- {
		prev := check[i]
		against := len(previous) - len(check) + i
		fail := func(col, reason string) error {
			return &IncompatibleError{Mode: mode, Against: against, Column: col, Reason: reason}
		}
		if mode == CompatDisabled {
			if !next.Equal(prev) {
				return fail(firstDifference(prev, next), "compatibility is DISABLED: the schema may not change")
			}
			continue
		}
		if mode != CompatForward && mode != CompatForwardAll {
			if col, reason := readProblem(next.Type(), prev.Type(), "", "the new schema", "the earlier schema"); col != "" {
				return fail(col, reason)
			}
		}
		if mode != CompatBackward && mode != CompatBackwardAll {
			if col, reason := readProblem(prev.Type(), next.Type(), "", "the earlier schema", "the new schema"); col != "" {
				return fail(col, reason)
			}
		}
	}
	return nil
}

// readProblem returns the first column (path) of reader that cannot read
// data of writer, and why; "" when reader reads writer. readerName and
// writerName name the schemas in the reason.
func readProblem(reader, writer *record.Type, path, readerName, writerName string) (col, reason string) {
	switch {
	case writer.Kind == record.KindNull:
		return "", ""
	case writer.Kind == record.KindChoice:
		for _, alt := range writer.Choices {
			if col, reason := readProblem(reader, alt, path, readerName, writerName); col != "" {
				return col, reason
			}
		}
		return "", ""
	case reader.Kind == record.KindChoice:
		for _, alt := range reader.Choices {
			if c, _ := readProblem(alt, writer, path, readerName, writerName); c == "" {
				return "", ""
			}
		}
		return path, fmt.Sprintf("%s reads it as %s, none of whose alternatives reads %s written with %s", readerName, reader, writer, writerName)
	case reader.Kind == record.KindStruct && writer.Kind == record.KindStruct:
		for i := range reader.Fields {
			rf := &reader.Fields[i]
			p := joinColumn(path, rf.Name)
			wf := writer.Field(rf.Name)
			if wf == nil {
				if !rf.Nullable {
					return p, fmt.Sprintf("%s needs it (not nullable), but data written with %s lack it; make it nullable", readerName, writerName)
				}
				continue
			}
			if wf.Nullable && !rf.Nullable {
				return p, fmt.Sprintf("data written with %s may hold null, but %s has it not nullable", writerName, readerName)
			}
			if col, reason := readProblem(rf.Type, wf.Type, p, readerName, writerName); col != "" {
				return col, reason
			}
		}
		return "", ""
	case reader.Kind == record.KindArray && writer.Kind == record.KindArray:
		return readProblem(reader.Elem, writer.Elem, path+"[]", readerName, writerName)
	case reader.Kind == record.KindMap && writer.Kind == record.KindMap:
		if !record.Widens(writer.Key, reader.Key) {
			return path, fmt.Sprintf("%s reads its keys as %s, which cannot hold %s keys written with %s", readerName, reader.Key, writer.Key, writerName)
		}
		return readProblem(reader.Elem, writer.Elem, path+"[]", readerName, writerName)
	case reader.Kind.IsNested() || writer.Kind.IsNested():
		return path, fmt.Sprintf("%s reads it as %s, but data written with %s hold %s", readerName, reader, writerName, writer)
	}
	if record.Widens(writer, reader) {
		return "", ""
	}
	return path, fmt.Sprintf("%s reads it as %s, which cannot hold %s written with %s", readerName, reader, writer, writerName)
}

func joinColumn(prefix, name string) string {
	if prefix == "" {
		return name
	}
	return prefix + "." + name
}

// firstDifference names the first column that differs between a and b.
func firstDifference(a, b *record.Schema) string {
	d := diffColumns(nil, "", a.Columns(), b.Columns())
	if len(d) > 0 {
		return d[0].Column
	}
	return "(order)"
}

// distinctSchemas returns the schemas of tables (oldest first), dropping a
// schema equal to the one before it.
func distinctSchemas(tables []*Table) (schemas []*record.Schema, versions []int) {
	for _, t := range tables {
		if n := len(schemas); n > 0 && schemas[n-1].Equal(t.Schema) {
			versions[n-1] = t.Version
			continue
		}
		schemas = append(schemas, t.Schema)
		versions = append(versions, t.Version)
	}
	return schemas, versions
}
