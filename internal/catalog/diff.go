package catalog

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
)

// ChangeKind is what happened to a column between two versions.
type ChangeKind string

// The column changes.
const (
	ColumnAdded       ChangeKind = "added"
	ColumnRemoved     ChangeKind = "removed"
	ColumnTypeChanged ChangeKind = "type_changed"
	ColumnNullability ChangeKind = "nullability_changed"
	ColumnComment     ChangeKind = "comment_changed"
	ColumnMoved       ChangeKind = "moved"
	ColumnDeprecated  ChangeKind = "deprecated"
	ColumnRestored    ChangeKind = "undeprecated"
)

// ColumnChange is one change to a column, or to a field of a struct
// column at any depth.
type ColumnChange struct {
	// Column is the path: "price", "billing.city", "items[].sku".
	Column string     `json:"column"`
	Kind   ChangeKind `json:"change"`
	// Old and New describe the column before and after: its type for
	// added, removed and type changes; "nullable" or "not null"; the
	// comment; the position.
	Old string `json:"old,omitempty"`
	New string `json:"new,omitempty"`
}

// FieldChange is a change to a field of the definition other than the
// columns: "description", "location", "format.delimiter",
// "parameters.owner", …
type FieldChange struct {
	Field string `json:"field"`
	Old   string `json:"old"`
	New   string `json:"new"`
}

// Diff is what changed from one version of a table to another.
type Diff struct {
	Database string         `json:"database"`
	Table    string         `json:"table"`
	From     int            `json:"from"`
	To       int            `json:"to"`
	Columns  []ColumnChange `json:"columns"`
	Fields   []FieldChange  `json:"fields"`
}

// Empty reports whether nothing changed.
func (d *Diff) Empty() bool { return len(d.Columns) == 0 && len(d.Fields) == 0 }

// String renders the diff as lines: "+ col type", "- col type",
// "~ col: old -> new", "~ field: old -> new".
func (d *Diff) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s.%s: version %d -> %d\n", d.Database, d.Table, d.From, d.To)
	if d.Empty() {
		b.WriteString("  no changes\n")
	}
	for _, c := range d.Columns {
		switch c.Kind {
		case ColumnAdded:
			fmt.Fprintf(&b, "  + %s %s\n", c.Column, c.New)
		case ColumnRemoved:
			fmt.Fprintf(&b, "  - %s %s\n", c.Column, c.Old)
		case ColumnDeprecated, ColumnRestored:
			fmt.Fprintf(&b, "  ~ %s: %s\n", c.Column, c.Kind)
		default:
			fmt.Fprintf(&b, "  ~ %s: %s -> %s\n", c.Column, orNone(c.Old), orNone(c.New))
		}
	}
	for _, f := range d.Fields {
		fmt.Fprintf(&b, "  ~ %s: %s -> %s\n", f.Field, orNone(f.Old), orNone(f.New))
	}
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// DiffTables returns what changed from a to b, two versions of one table
// (or any two definitions).
func DiffTables(a, b *Table) *Diff {
	d := &Diff{Database: b.Database, Table: b.Name, From: a.Version, To: b.Version, Columns: []ColumnChange{}, Fields: []FieldChange{}}
	var ac, bc []record.Column
	if a.Schema != nil {
		ac = a.Schema.Columns()
	}
	if b.Schema != nil {
		bc = b.Schema.Columns()
	}
	d.Columns = diffColumns(d.Columns, "", ac, bc)
	for _, name := range b.Deprecated {
		if !a.IsDeprecated(name) {
			d.Columns = append(d.Columns, ColumnChange{Column: name, Kind: ColumnDeprecated})
		}
	}
	for _, name := range a.Deprecated {
		if !b.IsDeprecated(name) && b.Schema != nil && b.Schema.Lookup(name) != nil {
			d.Columns = append(d.Columns, ColumnChange{Column: name, Kind: ColumnRestored})
		}
	}
	field := func(name, old, new string) {
		if old != new {
			d.Fields = append(d.Fields, FieldChange{Field: name, Old: old, New: new})
		}
	}
	if a.Database != b.Database || a.Name != b.Name {
		field("name", a.FullName(), b.FullName())
	}
	field("description", a.Description, b.Description)
	field("location", a.Location.String(), b.Location.String())
	field("format.type", string(a.Format.Type), string(b.Format.Type))
	field("format.delimiter", a.Format.Delimiter, b.Format.Delimiter)
	field("format.quote", a.Format.Quote, b.Format.Quote)
	field("format.header", boolText(a.Format.Header), boolText(b.Format.Header))
	field("format.null_markers", listText(a.Format.NullMarkers), listText(b.Format.NullMarkers))
	field("format.avro_schema", a.Format.AvroSchema, b.Format.AvroSchema)
	field("format.grok_pattern", a.Format.GrokPattern, b.Format.GrokPattern)
	for _, k := range unionKeys(a.Format.GrokCustomPatterns, b.Format.GrokCustomPatterns) {
		field("format.grok_custom_patterns."+k, a.Format.GrokCustomPatterns[k], b.Format.GrokCustomPatterns[k])
	}
	field("partition_keys", strings.Join(a.PartitionKeys, ","), strings.Join(b.PartitionKeys, ","))
	field("event_time", eventTimeText(a.EventTime), eventTimeText(b.EventTime))
	field("compatibility", string(a.Compatibility), string(b.Compatibility))
	for _, k := range unionKeys(a.Parameters, b.Parameters) {
		field("parameters."+k, a.Parameters[k], b.Parameters[k])
	}
	return d
}

// unionKeys returns the keys of a and b, sorted.
func unionKeys(a, b map[string]string) []string {
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}

func boolText(b *bool) string {
	if b == nil {
		return ""
	}
	if *b {
		return "true"
	}
	return "false"
}

func listText(l []string) string {
	if l == nil {
		return ""
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ",") + "]"
}

func eventTimeText(e *EventTime) string {
	if e == nil {
		return ""
	}
	if e.Format == "" {
		return e.Field
	}
	return e.Field + " (" + e.Format + ")"
}

func nullText(nullable bool) string {
	if nullable {
		return "nullable"
	}
	return "not null"
}

// diffColumns appends the changes from columns a to columns b, descending
// into struct fields (and structs in arrays) with their paths.
func diffColumns(out []ColumnChange, prefix string, a, b []record.Column) []ColumnChange {
	inB := make(map[string]int, len(b))
	for i := range b {
		inB[b[i].Name] = i
	}
	inA := make(map[string]int, len(a))
	var common []string
	for i := range a {
		inA[a[i].Name] = i
		if _, ok := inB[a[i].Name]; ok {
			common = append(common, a[i].Name)
		}
	}
	for i := range a {
		if _, ok := inB[a[i].Name]; !ok {
			out = append(out, ColumnChange{Column: joinColumn(prefix, a[i].Name), Kind: ColumnRemoved, Old: columnText(&a[i])})
		}
	}
	pos := 0
	for i := range b {
		bc := &b[i]
		p := joinColumn(prefix, bc.Name)
		j, ok := inA[bc.Name]
		if !ok {
			out = append(out, ColumnChange{Column: p, Kind: ColumnAdded, New: columnText(bc)})
			continue
		}
		ac := &a[j]
		if common[pos] != bc.Name {
			out = append(out, ColumnChange{Column: p, Kind: ColumnMoved, Old: "after " + before(common, bc.Name), New: "after " + before(commonOrder(b, inA), bc.Name)})
		}
		pos++
		out = diffTypes(out, p, ac.Type, bc.Type)
		if ac.Nullable != bc.Nullable {
			out = append(out, ColumnChange{Column: p, Kind: ColumnNullability, Old: nullText(ac.Nullable), New: nullText(bc.Nullable)})
		}
		if ac.Comment != bc.Comment {
			out = append(out, ColumnChange{Column: p, Kind: ColumnComment, Old: ac.Comment, New: bc.Comment})
		}
	}
	return out
}

// commonOrder returns the names of b that a also has, in b's order.
func commonOrder(b []record.Column, inA map[string]int) []string {
	var out []string
	for i := range b {
		if _, ok := inA[b[i].Name]; ok {
			out = append(out, b[i].Name)
		}
	}
	return out
}

// before names the column before name in order ("the start" for the
// first).
func before(order []string, name string) string {
	i := slices.Index(order, name)
	if i <= 0 {
		return "the start"
	}
	return order[i-1]
}

func diffTypes(out []ColumnChange, path string, a, b *record.Type) []ColumnChange {
	switch {
	case a.Equal(b):
		return out
	case a.Kind == record.KindStruct && b.Kind == record.KindStruct:
		return diffColumns(out, path, a.Fields, b.Fields)
	case a.Kind == record.KindArray && b.Kind == record.KindArray && a.Elem.Kind == record.KindStruct && b.Elem.Kind == record.KindStruct:
		return diffColumns(out, path+"[]", a.Elem.Fields, b.Elem.Fields)
	}
	return append(out, ColumnChange{Column: path, Kind: ColumnTypeChanged, Old: a.String(), New: b.String()})
}

func columnText(c *record.Column) string {
	s := c.Type.String()
	if !c.Nullable {
		s += " not null"
	}
	return s
}

// Diff returns what changed in a table from version from to version to
// (0 for either means the latest; from 0 and to 0 compare the version
// before the latest with the latest).
func (c *Catalog) Diff(ctx context.Context, db, name string, from, to int) (*Diff, error) {
	latest, err := c.GetTable(ctx, db, name)
	if err != nil {
		return nil, err
	}
	if to == 0 {
		to = latest.Version
	}
	if from == 0 {
		from = max(to-1, 1)
	}
	a, err := c.GetTableVersion(ctx, db, name, from)
	if err != nil {
		return nil, err
	}
	b, err := c.GetTableVersion(ctx, db, name, to)
	if err != nil {
		return nil, err
	}
	return DiffTables(a, b), nil
}
