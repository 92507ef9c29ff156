package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/grok"
)

// Decoder returns a decoder of one record of the table (the data of one
// stream record), typed by the table's schema: JSON objects with each
// column's value cast to its type (a timestamp column parses its format,
// ids stay exact), CSV lines (no header; the columns in the schema's
// order, with the table's delimiter, quote and null markers), or Avro
// datums of the table's writer schema, or log lines parsed with the
// table's Grok pattern. Parquet is a file format and has no
// per-record decoder. The decoder is safe for concurrent use. ETL jobs
// decode with it; [Table.Validator] then checks nullability and
// everything a cast does not.
func (t *Table) Decoder() (record.Decoder, error) {
	switch t.Format.Type {
	case FormatJSON:
		return record.NewJSONDecoder(record.JSONOptions{Schema: t.Schema}), nil
	case FormatCSV:
		o := t.Format.CSVOptions()
		o.NoHeader = true
		o.Schema = t.Schema
		d, err := record.NewCSVDecoder(o)
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		return d, nil
	case FormatAvro:
		if t.Format.AvroSchema == "" {
			return nil, invalidf("table %s: avro records need the writer schema (format.avro_schema)", t.FullName())
		}
		c, err := avro.New(t.Format.AvroSchema)
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		return c, nil
	case FormatGrok:
		c, err := grok.New(grok.Options{Pattern: t.Format.GrokPattern, CustomPatterns: t.Format.GrokCustomPatterns, Schema: t.Schema})
		if err != nil {
			return nil, invalidf("table %s: %v", t.FullName(), err)
		}
		return c, nil
	}
	return nil, invalidf("table %s: format %s has no per-record decoder", t.FullName(), t.Format.Type)
}

// Validator returns a validator of records against the table's schema,
// reporting every violation with its field path ([record.Validator]).
func (t *Table) Validator(opts record.ValidateOptions) *record.Validator {
	return record.NewValidator(t.Schema, opts)
}

// SourceOf tells a streaming ETL job that reads a catalog table how the
// table's records are encoded: its format ("json", "csv", "avro" or
// "grok"), its schema, and the event-time field ("" when it has none).
// name is "database.table", or a table name that one database alone
// holds. It satisfies etl.Catalog; an unknown table is an error wrapping
// ErrNotFound.
func (c *Catalog) SourceOf(ctx context.Context, name string) (format string, schema *record.Schema, eventTime string, err error) {
	db, table, ok := strings.Cut(name, ".")
	if !ok {
		if db, err = c.databaseOf(ctx, name); err != nil {
			return "", nil, "", err
		}
		table = name
	}
	t, err := c.GetTable(ctx, db, table)
	if err != nil {
		return "", nil, "", err
	}
	if t.EventTime != nil {
		eventTime = t.EventTime.Field
	}
	return string(t.Format.Type), t.Schema, eventTime, nil
}

// databaseOf finds the one database that holds a table called name.
func (c *Catalog) databaseOf(ctx context.Context, name string) (string, error) {
	if err := ValidateName(name); err != nil {
		return "", invalidf("table %v", err)
	}
	dbs, err := c.ListDatabases(ctx)
	if err != nil {
		return "", err
	}
	var found []string
	for _, d := range dbs {
		if _, err := c.GetTable(ctx, d.Name, name); err == nil {
			found = append(found, d.Name)
		} else if !errors.Is(err, ErrNotFound) {
			return "", err
		}
	}
	switch len(found) {
	case 0:
		return "", fmt.Errorf("%w: no database holds a table %q", ErrNotFound, name)
	case 1:
		return found[0], nil
	}
	return "", invalidf("table %q is in databases %s: write database.table", name, strings.Join(found, ", "))
}
