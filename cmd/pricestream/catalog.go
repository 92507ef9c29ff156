package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
)

func newCatalogCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "catalog", Short: "Define databases and tables of the data catalog, see their versions, bind streams to them"}
	cmd.AddCommand(catalogCreateDatabaseCmd(g), catalogCreateTableCmd(g), catalogApplyCmd(g), catalogGetCmd(g), catalogListCmd(g),
		catalogVersionsCmd(g), catalogDiffCmd(g), catalogDeleteCmd(g), catalogBindCmd(g), catalogUnbindCmd(g), catalogBindingsCmd(g))
	return cmd
}

// parseParams reads key=value flags.
func parseParams(kvs []string) (map[string]string, error) {
	if len(kvs) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--param %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// parseColumns reads columns written as "name type [not null] [comment
// 'text'], …" (a struct's fields without struct<>).
func parseColumns(s string) (*record.Schema, error) {
	const wrap = "struct<"
	t, err := record.ParseType(wrap + s + ">")
	if err != nil {
		var se *record.TypeSyntaxError
		if errors.As(err, &se) {
			return nil, fmt.Errorf("--columns: offset %d: %s", max(se.Offset-len(wrap), 0), se.Msg)
		}
		return nil, fmt.Errorf("--columns: %w", err)
	}
	return record.NewSchema(t.Fields...)
}

func catalogCreateDatabaseCmd(g *globals) *cobra.Command {
	var d catalog.Database
	var params []string
	cmd := &cobra.Command{
		Use:   "create-database NAME",
		Short: "Create a database",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			d.Name = args[0]
			var err error
			if d.Parameters, err = parseParams(params); err != nil {
				return err
			}
			if _, err := g.client().CreateDatabase(cmd.Context(), d); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created database %s\n", d.Name)
			return nil
		},
	}
	cmd.Flags().StringVar(&d.Description, "description", "", "what the database holds")
	cmd.Flags().StringArrayVar(&params, "param", nil, "a parameter key=value (repeatable)")
	return cmd
}

type tableFlags struct {
	file, location, format, delimiter, quote, nullMarkers, avroSchema string
	grokPattern, grokCustom                                           string
	noHeader                                                          bool
	columns, schemaFile                                               string
	partitionKeys                                                     []string
	eventTime, compatibility, description                             string
	params                                                            []string
}

func (f *tableFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "", "a YAML or JSON table document instead of the flags")
	cmd.Flags().StringVar(&f.location, "location", "", "where the data lives: stream:NAME, table:NAME or a path (default stream:TABLE)")
	cmd.Flags().StringVar(&f.format, "format", "json", "json, csv, avro, parquet or grok")
	cmd.Flags().StringVar(&f.delimiter, "delimiter", "", "CSV field delimiter (default ,)")
	cmd.Flags().StringVar(&f.quote, "quote", "", "CSV quote character (default \")")
	cmd.Flags().BoolVar(&f.noHeader, "no-header", false, "CSV files have no header line")
	cmd.Flags().StringVar(&f.nullMarkers, "null-markers", "", "comma-separated CSV texts read as null (default: the empty field)")
	cmd.Flags().StringVar(&f.avroSchema, "avro-schema", "", "file holding the Avro writer schema")
	cmd.Flags().StringVar(&f.grokPattern, "grok-pattern", "", "the Grok pattern of a log line (format grok)")
	cmd.Flags().StringVar(&f.grokCustom, "grok-custom-patterns", "", `file of custom Grok patterns, one "NAME expression" per line`)
	cmd.Flags().StringVar(&f.columns, "columns", "", `columns as "name type [not null], …", e.g. "event_time timestamp('yyyy-MM-dd HH:mm:ss z') not null, price double"`)
	cmd.Flags().StringVar(&f.schemaFile, "schema-file", "", `file of columns as JSON [{"name","type","nullable"}]`)
	cmd.Flags().StringSliceVar(&f.partitionKeys, "partition-key", nil, "partition key column(s)")
	cmd.Flags().StringVar(&f.eventTime, "event-time", "", "event-time field, optionally with its format: FIELD or FIELD=FORMAT")
	cmd.Flags().StringVar(&f.compatibility, "compatibility", "", "schema compatibility mode (default BACKWARD)")
	cmd.Flags().StringVar(&f.description, "description", "", "what the table holds")
	cmd.Flags().StringArrayVar(&f.params, "param", nil, "a parameter key=value (repeatable)")
}

// table builds the definition from the flags, or reads it from --file.
func (f *tableFlags) table(db, name string) (*catalog.Table, error) {
	if f.file != "" {
		b, err := readInput(f.file)
		if err != nil {
			return nil, err
		}
		docs, err := catalog.DecodeDocuments(b, f.file)
		if err != nil {
			return nil, err
		}
		var tables []*catalog.Table
		for _, d := range docs {
			if d.Table != nil {
				tables = append(tables, d.Table)
			}
		}
		if len(tables) != 1 {
			return nil, fmt.Errorf("%s: want one table document, found %d (use catalog apply for several)", f.file, len(tables))
		}
		t := tables[0]
		if (db != "" && t.Database != db) || (name != "" && t.Name != name) {
			return nil, fmt.Errorf("%s defines %s, not %s.%s", f.file, t.FullName(), db, name)
		}
		return t, nil
	}
	if db == "" || name == "" {
		return nil, errors.New("give DATABASE TABLE, or --file")
	}
	t := &catalog.Table{Database: db, Name: name, Description: f.description, Format: catalog.Format{Type: catalog.FormatType(f.format)}, PartitionKeys: f.partitionKeys}
	var err error
	if f.location == "" {
		t.Location = catalog.Location{Stream: name}
	} else if t.Location, err = catalog.ParseLocation(f.location); err != nil {
		return nil, err
	}
	t.Format.Delimiter, t.Format.Quote = f.delimiter, f.quote
	if f.noHeader {
		no := false
		t.Format.Header = &no
	}
	if f.nullMarkers != "" {
		t.Format.NullMarkers = strings.Split(f.nullMarkers, ",")
	}
	if f.avroSchema != "" {
		b, err := os.ReadFile(f.avroSchema)
		if err != nil {
			return nil, err
		}
		t.Format.AvroSchema = string(b)
	}
	t.Format.GrokPattern = f.grokPattern
	if f.grokCustom != "" {
		if t.Format.GrokCustomPatterns, err = readGrokPatterns(f.grokCustom); err != nil {
			return nil, err
		}
	}
	switch {
	case f.columns != "" && f.schemaFile != "":
		return nil, errors.New("give --columns or --schema-file, not both")
	case f.columns != "":
		if t.Schema, err = parseColumns(f.columns); err != nil {
			return nil, err
		}
	case f.schemaFile != "":
		b, err := os.ReadFile(f.schemaFile)
		if err != nil {
			return nil, err
		}
		if t.Schema, err = record.ParseSchemaJSON(b); err != nil {
			return nil, fmt.Errorf("%s: %w", f.schemaFile, err)
		}
	case t.Format.Type == catalog.FormatAvro && t.Format.AvroSchema != "":
		// the columns come from the writer schema; the server fills them in
		t.Schema = record.MustSchema()
	default:
		return nil, errors.New("give the columns: --columns, --schema-file or --file")
	}
	if f.eventTime != "" {
		field, format, _ := strings.Cut(f.eventTime, "=")
		t.EventTime = &catalog.EventTime{Field: field, Format: format}
	}
	if t.Compatibility, err = catalog.ParseCompatibility(f.compatibility); err != nil {
		return nil, err
	}
	if t.Parameters, err = parseParams(f.params); err != nil {
		return nil, err
	}
	if t.Format.Type == catalog.FormatAvro && t.Schema.Len() == 0 {
		return t, nil
	}
	return t, t.Validate()
}

func readInput(path string) ([]byte, error) {
	if path == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(path)
}

func catalogCreateTableCmd(g *globals) *cobra.Command {
	var f tableFlags
	cmd := &cobra.Command{
		Use:   "create-table DATABASE TABLE | --file FILE",
		Short: "Create a table (version 1)",
		Args:  cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			args = append(args, "", "")
			t, err := f.table(args[0], args[1])
			if err != nil {
				return err
			}
			out, err := g.client().CreateCatalogTable(cmd.Context(), t)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created table %s (version %d, %d columns)\n", out.FullName(), out.Version, out.Schema.Len())
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func catalogApplyCmd(g *globals) *cobra.Command {
	var file string
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR",
		Short: "Create or update the databases and tables of YAML or JSON documents",
		Long: `Apply reads catalog documents (kind: catalog_database or kind: catalog_table; YAML documents
separated by ---, or JSON) and creates or updates each in order. A table
whose definition changed gets a new version, checked against its
compatibility mode. Every problem of every document is reported at once,
with its line and field, before anything is applied.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			files, dir, err := catalogFiles(file)
			if err != nil {
				return err
			}
			// check every file before applying any
			var bodies [][]byte
			var errs []error
			for _, f := range files {
				b, err := readInput(f)
				if err != nil {
					return err
				}
				docs, err := catalog.DecodeDocumentsWith(b, f, catalog.DecodeOptions{SkipOtherKinds: dir})
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if len(docs) > 0 {
					bodies = append(bodies, b)
				}
			}
			if err := errors.Join(errs...); err != nil {
				return err
			}
			if len(bodies) == 0 {
				return fmt.Errorf("%s: no catalog documents (kind: catalog_database or kind: catalog_table)", file)
			}
			for _, b := range bodies {
				if dir {
					// other kinds stay out of the request
					b = catalogOnly(b)
				}
				res, err := g.client().ApplyCatalog(cmd.Context(), b)
				if err != nil {
					return err
				}
				for _, r := range res {
					kind := strings.TrimPrefix(r.Kind, "catalog_")
					if r.Version > 0 {
						fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s (version %d)\n", kind, r.Name, r.Action, r.Version)
					} else {
						fmt.Fprintf(cmd.OutOrStdout(), "%s %s %s\n", kind, r.Name, r.Action)
					}
				}
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&file, "file", "f", "", "the documents: a file (- for stdin) or a directory of .yaml, .yml and .json files")
	_ = cmd.MarkFlagRequired("file")
	return cmd
}

func catalogGetCmd(g *globals) *cobra.Command {
	var version int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "get DATABASE [TABLE]",
		Short: "Show a database, or a table's definition (--json: as JSON with columns [{name,type,nullable}])",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			out := cmd.OutOrStdout()
			if len(args) == 1 {
				d, err := c.GetDatabase(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				if asJSON {
					return printJSONText(out, d)
				}
				fmt.Fprintf(out, "database %s\ndescription: %s\ncreated: %s\n", d.Name, d.Description, d.Created.Format("2006-01-02 15:04:05Z07:00"))
				printParams(out, d.Parameters)
				return nil
			}
			t, err := c.GetCatalogTable(cmd.Context(), args[0], args[1], version)
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONText(out, t)
			}
			printTable(out, t)
			return nil
		},
	}
	cmd.Flags().IntVar(&version, "version", 0, "show this version (default the latest)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printParams(w io.Writer, params map[string]string) {
	if len(params) == 0 {
		return
	}
	fmt.Fprintln(w, "parameters:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, k := range sortedKeys(params) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, params[k])
	}
	_ = tw.Flush()
}

func printTable(w io.Writer, t *catalog.Table) {
	fmt.Fprintf(w, "table %s, version %d (updated %s)\n", t.FullName(), t.Version, t.Updated.Format("2006-01-02 15:04:05Z07:00"))
	if t.Description != "" {
		fmt.Fprintf(w, "description: %s\n", t.Description)
	}
	fmt.Fprintf(w, "location: %s\n", t.Location)
	format := string(t.Format.Type)
	if t.Format.Type == catalog.FormatCSV {
		d := t.Format.Delimiter
		if d == "" {
			d = ","
		}
		format += fmt.Sprintf(" (delimiter %q, header %v)", d, t.Format.HasHeader())
	}
	fmt.Fprintf(w, "format: %s\n", format)
	fmt.Fprintf(w, "compatibility: %s\n", t.Compatibility)
	if len(t.PartitionKeys) > 0 {
		fmt.Fprintf(w, "partition keys: %s\n", strings.Join(t.PartitionKeys, ", "))
	}
	if t.EventTime != nil {
		f, _ := t.EventTimeFormat()
		fmt.Fprintf(w, "event time: %s (%s)\n", t.EventTime.Field, orDefault(f.String(), "ISO 8601"))
	}
	fmt.Fprintln(w, "columns:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, c := range t.Schema.Columns() {
		null := "nullable"
		if !c.Nullable {
			null = "not null"
		}
		note := c.Comment
		if t.IsDeprecated(c.Name) {
			note = strings.TrimSpace("DEPRECATED " + note)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", c.Name, c.Type, null, note)
	}
	_ = tw.Flush()
	printParams(w, t.Parameters)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func catalogListCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [DATABASE]",
		Short: "List the databases, or the tables of a database",
		Args:  cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			if len(args) == 0 {
				dbs, err := c.ListDatabases(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return printJSONText(out, dbs)
				}
				fmt.Fprintln(tw, "DATABASE\tDESCRIPTION")
				for _, d := range dbs {
					fmt.Fprintf(tw, "%s\t%s\n", d.Name, d.Description)
				}
				return tw.Flush()
			}
			tables, err := c.ListCatalogTables(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONText(out, tables)
			}
			fmt.Fprintln(tw, "TABLE\tVERSION\tCOLUMNS\tFORMAT\tLOCATION\tUPDATED")
			for _, t := range tables {
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%s\n", t.Name, t.Version, t.Schema.Len(), t.Format.Type, t.Location, t.Updated.Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func catalogVersionsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "versions DATABASE TABLE",
		Short: "List a table's versions and what each changed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			vs, err := g.client().CatalogTableVersions(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSONText(out, vs)
			}
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "VERSION\tUPDATED\tCOLUMNS\tCHANGES")
			for _, v := range vs {
				fmt.Fprintf(tw, "%d\t%s\t%d\t%s\n", v.Version, v.Updated.Format("2006-01-02 15:04:05"), v.Columns, strings.Join(v.Changes, "; "))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func catalogDiffCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff DATABASE TABLE [FROM [TO]]",
		Short: "Show what changed between two versions (default: the version before the latest, and the latest)",
		Args:  cobra.RangeArgs(2, 4),
		RunE: func(cmd *cobra.Command, args []string) error {
			var vs [2]int
			for i, a := range args[2:] {
				n, err := strconv.Atoi(a)
				if err != nil || n < 1 {
					return fmt.Errorf("version %q: want a number >= 1", a)
				}
				vs[i] = n
			}
			d, err := g.client().DiffCatalogTable(cmd.Context(), args[0], args[1], vs[0], vs[1])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONText(cmd.OutOrStdout(), d)
			}
			fmt.Fprint(cmd.OutOrStdout(), d.String())
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func catalogDeleteCmd(g *globals) *cobra.Command {
	var cascade bool
	cmd := &cobra.Command{
		Use:   "delete DATABASE [TABLE]",
		Short: "Delete a table with all its versions, or a database (--cascade: with its tables)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := g.client()
			if len(args) == 2 {
				if err := c.DeleteCatalogTable(cmd.Context(), args[0], args[1]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "deleted table %s.%s\n", args[0], args[1])
				return nil
			}
			if err := c.DeleteDatabase(cmd.Context(), args[0], cascade); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "deleted database %s\n", args[0])
			return nil
		},
	}
	cmd.Flags().BoolVar(&cascade, "cascade", false, "delete a database's tables too")
	return cmd
}

func catalogBindCmd(g *globals) *cobra.Command {
	var b catalog.Binding
	var policy string
	cmd := &cobra.Command{
		Use:   "bind STREAM DATABASE TABLE",
		Short: "Check every record put to a stream against a table's schema",
		Long: `Bind makes ingest check each record put to STREAM against the schema of
DATABASE.TABLE (its latest version). --policy reject refuses a put that
holds a record that does not match (400 schema_mismatch, naming each record
and its violations); --policy dead_letter stores the matching records and
sends the others, with the reason, to --dead-letter STREAM.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			b.Stream, b.Database, b.Table = args[0], args[1], args[2]
			b.Policy = catalog.Policy(strings.ReplaceAll(policy, "-", "_"))
			out, err := g.client().Bind(cmd.Context(), b)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %s is checked against %s.%s (%s)\n", out.Stream, out.Database, out.Table, out.Policy)
			return nil
		},
	}
	cmd.Flags().StringVar(&policy, "policy", "reject", "reject or dead_letter")
	cmd.Flags().StringVar(&b.DeadLetter, "dead-letter", "", "stream for records that do not match (dead_letter policy)")
	cmd.Flags().BoolVar(&b.AllowExtraFields, "allow-extra-fields", false, "accept fields the schema does not name")
	return cmd
}

func catalogUnbindCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "unbind STREAM",
		Short: "Stop checking a stream's records",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := g.client().Unbind(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stream %s is no longer checked\n", args[0])
			return nil
		},
	}
}

func catalogBindingsCmd(g *globals) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "bindings",
		Short: "List the streams bound to tables",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			bs, err := g.client().ListBindings(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return printJSONText(cmd.OutOrStdout(), bs)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "STREAM\tTABLE\tPOLICY\tDEAD LETTER")
			for _, b := range bs {
				fmt.Fprintf(tw, "%s\t%s.%s\t%s\t%s\n", b.Stream, b.Database, b.Table, b.Policy, b.DeadLetter)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// printJSONText prints v as indented JSON without escaping <, > and &,
// which column types are full of.
func printJSONText(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// catalogFiles returns the files of -f: the file itself, or the .yaml,
// .yml and .json files of a directory in name order; dir says which.
func catalogFiles(path string) (files []string, dir bool, err error) {
	if path == "-" {
		return []string{path}, false, nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, false, err
	}
	if !st.IsDir() {
		return []string{path}, false, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, false, err
	}
	for _, e := range entries {
		switch filepath.Ext(e.Name()) {
		case ".yaml", ".yml", ".json":
			if e.Type().IsRegular() {
				files = append(files, filepath.Join(path, e.Name()))
			}
		}
	}
	return files, true, nil
}

// catalogOnly re-encodes the catalog documents of a file as a JSON array,
// leaving out documents of other kinds.
func catalogOnly(b []byte) []byte {
	docs, err := catalog.DecodeDocumentsWith(b, "", catalog.DecodeOptions{SkipOtherKinds: true})
	if err != nil {
		return b
	}
	var out []any
	for _, d := range docs {
		if d.Table != nil {
			var m map[string]any
			tb, _ := json.Marshal(d.Table)
			_ = json.Unmarshal(tb, &m)
			m["kind"] = catalog.KindTable
			out = append(out, m)
			continue
		}
		out = append(out, map[string]any{"kind": catalog.KindDatabase, "name": d.Database.Name,
			"description": d.Database.Description, "parameters": d.Database.Parameters})
	}
	j, _ := json.Marshal(out)
	return j
}
