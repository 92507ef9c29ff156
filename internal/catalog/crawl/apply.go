package crawl

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
)

// UpdateBehavior says what a crawl does with a table that exists and whose
// crawled schema differs, as Glue's SchemaChangePolicy.UpdateBehavior.
type UpdateBehavior string

// The update behaviors.
const (
	// UpdateInDatabase writes the changes as a new version. The default.
	UpdateInDatabase UpdateBehavior = "UPDATE_IN_DATABASE"
	// UpdateLog writes nothing and reports the changes it would make.
	UpdateLog UpdateBehavior = "LOG"
)

// DeleteBehavior says what a crawl does with columns of the table that it
// no longer saw, as Glue's SchemaChangePolicy.DeleteBehavior does for
// tables and partitions.
type DeleteBehavior string

// The delete behaviors.
const (
	// DeleteLog keeps the column as it is and reports it. The default.
	DeleteLog DeleteBehavior = "LOG"
	// DeprecateInDatabase keeps the column, nullable, and marks it
	// deprecated in the table's deprecated_columns.
	DeprecateInDatabase DeleteBehavior = "DEPRECATE_IN_DATABASE"
	// DeleteFromDatabase removes the column.
	DeleteFromDatabase DeleteBehavior = "DELETE_FROM_DATABASE"
)

// Policy is a crawl's schema-change policy.
type Policy struct {
	Update UpdateBehavior `json:"update_behavior,omitempty"`
	Delete DeleteBehavior `json:"delete_behavior,omitempty"`
}

// Validate checks the policy; empty fields mean the defaults.
func (p *Policy) Validate() error {
	var errs []error
	switch p.Update {
	case "", UpdateInDatabase, UpdateLog:
	default:
		errs = append(errs, fmt.Errorf("update_behavior %q: want UPDATE_IN_DATABASE or LOG", p.Update))
	}
	switch p.Delete {
	case "", DeleteLog, DeprecateInDatabase, DeleteFromDatabase:
	default:
		errs = append(errs, fmt.Errorf("delete_behavior %q: want LOG, DEPRECATE_IN_DATABASE or DELETE_FROM_DATABASE", p.Delete))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %v", catalog.ErrInvalid, err)
	}
	return nil
}

// Plan returns the definition a crawl result makes of a table: a new table
// when cur is nil, else cur with the crawled schema folded in:
//
//   - a column the crawl saw keeps its type when that type holds what was
//     seen ([record.Widens]: manual edits such as decimal(10,2) survive),
//     else takes the merge of both ([record.MergeTypes]); it becomes
//     nullable if the crawl saw it null or missing, and is no longer
//     deprecated;
//   - a new column is appended, nullable (earlier data lack it);
//   - a column the crawl did not see is kept (LOG), kept nullable and
//     marked deprecated (DEPRECATE_IN_DATABASE), or removed
//     (DELETE_FROM_DATABASE);
//   - the format is replaced only when the crawl found another type.
//
// Everything else (location, partition keys, event time, mode,
// parameters, description) stays as it is.
func Plan(cur *catalog.Table, db, name string, res *Result, p Policy) (*catalog.Table, error) {
	if res.Schema == nil || res.Schema.Len() == 0 {
		return nil, fmt.Errorf("%w: the crawl found no columns", catalog.ErrInvalid)
	}
	if cur == nil {
		t := &catalog.Table{
			Database: db, Name: name, Location: res.Location, Format: res.Format, Schema: res.Schema,
			Compatibility: catalog.CompatBackward,
			Parameters:    map[string]string{"classification": res.Classification.Format, "crawler": "pricestream"},
		}
		if t.Location.IsZero() {
			t.Location = catalog.Location{Stream: name}
		}
		return t, nil
	}
	t := cur.Clone()
	seen := res.Schema
	var cols []record.Column
	var deprecated []string
	for _, c := range cur.Schema.Columns() {
		n := seen.Lookup(c.Name)
		if n == nil {
			switch p.Delete {
			case DeleteFromDatabase:
				continue
			case DeprecateInDatabase:
				c.Nullable = true
				deprecated = append(deprecated, c.Name)
			default:
				if cur.IsDeprecated(c.Name) {
					deprecated = append(deprecated, c.Name)
				}
			}
			cols = append(cols, c)
			continue
		}
		if !record.Widens(n.Type, c.Type) {
			c.Type = record.MergeTypes(c.Type, n.Type)
		}
		c.Nullable = c.Nullable || n.Nullable
		cols = append(cols, c)
	}
	for _, n := range seen.Columns() {
		if cur.Schema.Lookup(n.Name) == nil {
			n.Nullable = true
			cols = append(cols, n)
		}
	}
	s, err := record.NewSchema(cols...)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", catalog.ErrInvalid, err)
	}
	t.Schema = s
	t.Deprecated = deprecated
	if res.Format.Type != cur.Format.Type {
		t.Format = res.Format
	}
	// partition keys and the event time must still name columns
	t.PartitionKeys = slices.DeleteFunc(t.PartitionKeys, func(k string) bool { return s.Lookup(k) == nil })
	if t.EventTime != nil && s.Lookup(strings.SplitN(t.EventTime.Field, ".", 2)[0]) == nil {
		t.EventTime = nil
	}
	return t, nil
}

// Outcome is what applying a crawl did to the catalog.
type Outcome struct {
	// Action is "created", "updated", "unchanged", or "logged" (LOG: the
	// changes in Diff were not written).
	Action string `json:"action"`
	// Table is the definition now in the catalog (or, for logged, the one
	// that would be).
	Table *catalog.Table `json:"table"`
	// Diff lists the changes from the table before (nil when created).
	Diff *catalog.Diff `json:"diff,omitempty"`
	// Vanished are the columns of the table the crawl did not see.
	Vanished []string `json:"vanished,omitempty"`
}

// Apply creates or updates the table db.name from a crawl result under
// policy p (see [Plan]), creating the database if it does not exist. A
// new version must pass the table's compatibility mode (else
// catalog.ErrIncompatible, and nothing is written).
func Apply(ctx context.Context, cat *catalog.Catalog, db, name string, res *Result, p Policy) (*Outcome, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	if err := catalog.ValidateName(db); err != nil {
		return nil, fmt.Errorf("%w: database %v", catalog.ErrInvalid, err)
	}
	if err := catalog.ValidateName(name); err != nil {
		return nil, fmt.Errorf("%w: table %v", catalog.ErrInvalid, err)
	}
	for range 3 {
		cur, err := cat.GetTable(ctx, db, name)
		if errors.Is(err, catalog.ErrNotFound) {
			out, err := create(ctx, cat, db, name, res, p)
			if errors.Is(err, catalog.ErrExists) {
				continue // another crawl created it: update it instead
			}
			return out, err
		}
		if err != nil {
			return nil, err
		}
		out := &Outcome{Vanished: vanished(cur, res)}
		if p.Update == UpdateLog {
			next, err := Plan(cur, db, name, res, p)
			if err != nil {
				return nil, err
			}
			if err := next.Validate(); err != nil {
				return nil, err
			}
			out.Action, out.Table, out.Diff = "logged", next, catalog.DiffTables(cur, next)
			if out.Diff.Empty() {
				out.Action = "unchanged"
			}
			return out, nil
		}
		var before *catalog.Table
		next, changed, err := cat.ModifyTable(ctx, db, name, func(cur *catalog.Table) (*catalog.Table, error) {
			before = cur
			return Plan(cur, db, name, res, p)
		})
		if err != nil {
			return nil, err
		}
		out.Action, out.Table, out.Diff = "unchanged", next, catalog.DiffTables(before, next)
		if changed {
			out.Action = "updated"
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: table %s.%s kept changing", catalog.ErrConflict, db, name)
}

func create(ctx context.Context, cat *catalog.Catalog, db, name string, res *Result, p Policy) (*Outcome, error) {
	t, err := Plan(nil, db, name, res, p)
	if err != nil {
		return nil, err
	}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	if _, err := cat.GetDatabase(ctx, db); errors.Is(err, catalog.ErrNotFound) {
		if _, err := cat.CreateDatabase(ctx, catalog.Database{Name: db, Description: "created by a crawl"}); err != nil && !errors.Is(err, catalog.ErrExists) {
			return nil, err
		}
	} else if err != nil {
		return nil, err
	}
	out, err := cat.CreateTable(ctx, t)
	if err != nil {
		return nil, err
	}
	return &Outcome{Action: "created", Table: out}, nil
}

func vanished(cur *catalog.Table, res *Result) []string {
	var out []string
	for _, c := range cur.Schema.Columns() {
		if res.Schema.Lookup(c.Name) == nil {
			out = append(out, c.Name)
		}
	}
	return out
}
