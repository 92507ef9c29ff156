package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/catalog/crawl"
	"github.com/pricestream/pricestream/internal/client"
)

type crawlOptions struct {
	database, table, stream        string
	sample                         int
	duration                       time.Duration
	format, delimiter, nullMarkers string
	grokPattern, grokCustom        string
	noHeader, noTimes, asJSON      bool
	update, delete, progress       string
}

func newCrawlCmd(g *globals) *cobra.Command {
	var o crawlOptions
	cmd := &cobra.Command{
		Use:   "crawl FILE|DIR... --database DB --table T  |  crawl --stream S --database DB --table T",
		Short: "Infer the format and schema of files or of a stream's records and write them to the catalog",
		Long: `Crawl classifies the format of files (CSV, JSON or JSON lines, Avro, Parquet;
directories are walked) or of a sample of a stream's records read from
TRIM_HORIZON, with a certainty, infers the schema, and creates or updates
the catalog table DB.T on the server.

The files are read here and only the result (format and columns) goes to
the server, which applies it to the table's latest version under the
schema-change policy: --update-behavior UPDATE_IN_DATABASE (write a new
version) or LOG (report the changes, write nothing), and --delete-behavior
LOG, DEPRECATE_IN_DATABASE or DELETE_FROM_DATABASE for columns the crawl
no longer saw. A change the table's compatibility mode refuses is reported
with the column and not written.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runCrawl(cmd.Context(), g.client(), args, o, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.database, "database", "", "catalog database (created if missing)")
	f.StringVar(&o.table, "table", "", "catalog table to create or update")
	f.StringVar(&o.stream, "stream", "", "crawl a sample of this stream's records instead of files")
	f.IntVar(&o.sample, "sample", 0, "records to read: per file (default every record), or from the stream (default 1000)")
	f.DurationVar(&o.duration, "duration", 0, "stream: keep sampling new records for this long (default: stop at the stream's end)")
	f.StringVar(&o.format, "format", "auto", "auto, json, csv, avro, parquet or grok (with --grok-pattern)")
	f.StringVar(&o.delimiter, "delimiter", "", "CSV delimiter (with --format csv)")
	f.BoolVar(&o.noHeader, "no-header", false, "CSV files have no header line (with --format csv)")
	f.StringVar(&o.nullMarkers, "null-markers", "", "comma-separated CSV texts read as null (with --format csv)")
	f.BoolVar(&o.noTimes, "no-times", false, "keep time-like texts as strings")
	f.StringVar(&o.grokPattern, "grok-pattern", "", `a Grok pattern for log lines, tried before the built-in classifiers (e.g. "%{COMMONAPACHELOG}")`)
	f.StringVar(&o.grokCustom, "grok-custom-patterns", "", "file of custom Grok patterns, one \"NAME expression\" per line")
	f.StringVar(&o.update, "update-behavior", string(crawl.UpdateInDatabase), "UPDATE_IN_DATABASE or LOG")
	f.StringVar(&o.delete, "delete-behavior", string(crawl.DeleteLog), "LOG, DEPRECATE_IN_DATABASE or DELETE_FROM_DATABASE")
	f.StringVar(&o.progress, "progress", "auto", "show a progress bar: auto (on a terminal), always or never")
	f.BoolVar(&o.asJSON, "json", false, "print the crawl result and the outcome as JSON")
	_ = cmd.MarkFlagRequired("database")
	_ = cmd.MarkFlagRequired("table")
	return cmd
}

func (o *crawlOptions) crawlOpts() (crawl.Options, error) {
	opts := crawl.Options{MaxRecords: o.sample, NoTimes: o.noTimes}
	switch o.format {
	case "", "auto":
	case "json", "jsonl", "json_lines":
		opts.Format = catalog.FormatJSON
	case "csv":
		opts.Format = catalog.FormatCSV
		f := catalog.Format{Type: catalog.FormatCSV, Delimiter: o.delimiter}
		if o.noHeader {
			f.Header = new(bool)
		}
		if o.nullMarkers != "" {
			f.NullMarkers = strings.Split(o.nullMarkers, ",")
		}
		opts.CSV = &f
	case "avro", "parquet", "grok":
		opts.Format = catalog.FormatType(o.format)
	default:
		return opts, fmt.Errorf("--format %q: want auto, json, csv, avro, parquet or grok", o.format)
	}
	opts.GrokPattern = o.grokPattern
	if o.grokCustom != "" {
		custom, err := readGrokPatterns(o.grokCustom)
		if err != nil {
			return opts, err
		}
		opts.GrokCustomPatterns = custom
	}
	if o.format != "csv" && (o.delimiter != "" || o.noHeader || o.nullMarkers != "") {
		return opts, errors.New("--delimiter, --no-header and --null-markers need --format csv")
	}
	return opts, nil
}

func runCrawl(ctx context.Context, c *client.Client, files []string, o crawlOptions, stdout, stderr io.Writer) error {
	if (len(files) == 0) == (o.stream == "") {
		return errors.New("give files (or directories) to crawl, or --stream")
	}
	policy := crawl.Policy{Update: crawl.UpdateBehavior(strings.ToUpper(o.update)), Delete: crawl.DeleteBehavior(strings.ToUpper(o.delete))}
	if err := policy.Validate(); err != nil {
		return err
	}
	for _, n := range []string{o.database, o.table} {
		if err := catalog.ValidateName(n); err != nil {
			return err
		}
	}
	opts, err := o.crawlOpts()
	if err != nil {
		return err
	}
	show := o.progress == "always" || (o.progress == "auto" && isTerminal(stderr))
	var res *crawl.Result
	if o.stream != "" {
		res, err = crawlStream(ctx, c, o, opts, show, stderr)
	} else {
		res, err = crawlFiles(ctx, files, opts, show, stderr)
	}
	if err != nil {
		return err
	}
	out, err := c.ApplyCrawl(ctx, o.database, o.table, res, policy)
	if err != nil {
		return err
	}
	if o.asJSON {
		return printJSONText(stdout, map[string]any{"result": res, "outcome": out})
	}
	printCrawl(stdout, res, out)
	return nil
}

func crawlFiles(ctx context.Context, files []string, opts crawl.Options, show bool, stderr io.Writer) (*crawl.Result, error) {
	var bar *progressbar.ProgressBar
	if show {
		opts.Progress = func(p crawl.Progress) {
			if bar == nil {
				bar = progressbar.NewOptions64(p.TotalBytes, progressbar.OptionSetWriter(stderr), progressbar.OptionShowBytes(true),
					progressbar.OptionSetDescription("crawling"), progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
			}
			_ = bar.Set64(p.Bytes)
		}
	}
	res, err := crawl.Files(ctx, files, opts)
	if bar != nil {
		_ = bar.Finish()
	}
	return res, err
}

func crawlStream(ctx context.Context, c *client.Client, o crawlOptions, opts crawl.Options, show bool, stderr io.Writer) (*crawl.Result, error) {
	info, err := c.DescribeStream(ctx, o.stream)
	if err != nil {
		return nil, err
	}
	limit := o.sample
	if limit <= 0 {
		limit = crawl.DefaultSample
	}
	opts.MaxRecords = limit
	src := newStreamSource(c, o.stream, len(info.Partitions), limit, o.duration)
	if show {
		src.bar = progressbar.NewOptions(limit, progressbar.OptionSetWriter(stderr), progressbar.OptionSetDescription("sampling "+o.stream),
			progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(), progressbar.OptionClearOnFinish())
	}
	res, err := crawl.Records(ctx, src, catalog.Location{Stream: o.stream}, opts)
	if src.bar != nil {
		_ = src.bar.Finish()
	}
	return res, err
}

// streamSource samples a stream's records from TRIM_HORIZON through the
// native API, taking from the partitions in turn so that the sample
// covers them all.
type streamSource struct {
	c        *client.Client
	stream   string
	limit    int
	deadline time.Time // zero: stop when every partition is read to its end
	next     []string  // each partition's position
	atEnd    []bool
	part     int
	got      int
	buf      [][]byte
	bar      *progressbar.ProgressBar
}

var _ crawl.Source = (*streamSource)(nil)

func newStreamSource(c *client.Client, stream string, partitions, limit int, d time.Duration) *streamSource {
	s := &streamSource{c: c, stream: stream, limit: limit, next: make([]string, partitions), atEnd: make([]bool, partitions)}
	for i := range s.next {
		s.next[i] = "trim_horizon"
	}
	if d > 0 {
		s.deadline = time.Now().Add(d)
	}
	return s
}

// Next returns the next record's data (JSON as stored, or the raw bytes
// of records put through the Kinesis API).
func (s *streamSource) Next(ctx context.Context) ([]byte, error) {
	for len(s.buf) == 0 {
		if s.got >= s.limit {
			return nil, io.EOF
		}
		allAtEnd := true
		for _, e := range s.atEnd {
			allAtEnd = allAtEnd && e
		}
		var wait time.Duration
		if allAtEnd {
			if s.deadline.IsZero() {
				return nil, io.EOF
			}
			wait = time.Until(s.deadline)
			if wait <= 0 {
				return nil, io.EOF
			}
			// poll the partitions in turn so that records arriving on any
			// of them join the sample before the deadline
			wait = min(wait, 200*time.Millisecond)
		}
		p := s.part
		s.part = (s.part + 1) % len(s.next)
		if s.atEnd[p] && !allAtEnd {
			continue
		}
		per := int(math.Ceil(float64(s.limit) / float64(len(s.next))))
		r, err := s.c.GetRecords(ctx, s.stream, client.ReadOptions{Partition: p, Start: s.next[p], Limit: max(1, min(per, s.limit-s.got, 10_000)), Wait: wait})
		if err != nil {
			return nil, err
		}
		s.next[p] = r.Next
		s.atEnd[p] = len(r.Records) == 0 || r.MillisBehind == 0
		for _, rec := range r.Records {
			data := []byte(rec.Data)
			if data == nil {
				data = rec.DataBase64
			}
			s.buf = append(s.buf, data)
		}
	}
	d := s.buf[0]
	s.buf = s.buf[1:]
	s.got++
	if s.bar != nil {
		_ = s.bar.Add(1)
	}
	return d, nil
}

func printCrawl(w io.Writer, res *crawl.Result, out *crawl.Outcome) {
	src := fmt.Sprintf("%d files", len(res.Files))
	switch {
	case res.Location.Stream != "":
		src = "stream " + res.Location.Stream
	case len(res.Files) == 1:
		src = res.Files[0].Path
	}
	secs := res.Elapsed.Seconds()
	rate := ""
	if secs > 0 {
		rate = fmt.Sprintf(", %.0f records/s", float64(res.Records)/secs)
	}
	fmt.Fprintf(w, "crawled %s: %d records, %s in %s%s\n", src, res.Records, byteSize(res.Bytes), res.Elapsed.Round(time.Millisecond), rate)
	c := res.Classification
	fmt.Fprintf(w, "format: %s, certainty %.2f", c.Format, c.Certainty)
	if c.Reason != "" {
		fmt.Fprintf(w, " (%s)", c.Reason)
	}
	if c.Format == "csv" {
		fmt.Fprintf(w, ", delimiter %q, header %v", c.Delimiter, c.Header)
	}
	fmt.Fprintln(w)
	if res.Errors > 0 {
		fmt.Fprintf(w, "skipped %d malformed records; the first: %s\n", res.Errors, res.FirstError)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, col := range res.Schema.Columns() {
		null := "nullable"
		if !col.Nullable {
			null = "not null"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", col.Name, col.Type, null)
	}
	_ = tw.Flush()
	t := out.Table
	switch out.Action {
	case "created":
		fmt.Fprintf(w, "table %s created (version %d)\n", t.FullName(), t.Version)
	case "unchanged":
		fmt.Fprintf(w, "table %s unchanged (version %d)\n", t.FullName(), t.Version)
	case "updated":
		fmt.Fprintf(w, "table %s updated to version %d:\n", t.FullName(), t.Version)
	case "logged":
		fmt.Fprintf(w, "table %s (version %d) not changed (update behavior LOG); the crawl would make these changes:\n", t.FullName(), t.Version)
	}
	if out.Diff != nil && (out.Action == "updated" || out.Action == "logged") {
		for _, line := range strings.Split(strings.TrimRight(out.Diff.String(), "\n"), "\n")[1:] {
			fmt.Fprintln(w, line)
		}
	}
	if len(out.Vanished) > 0 && out.Action != "created" {
		fmt.Fprintf(w, "columns the crawl did not see: %s\n", strings.Join(out.Vanished, ", "))
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// readGrokPatterns reads a Logstash-style patterns file: one
// "NAME expression" per line; blank lines and # comments are skipped.
func readGrokPatterns(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for i, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, expr, ok := strings.Cut(line, " ")
		if !ok || strings.TrimSpace(expr) == "" {
			return nil, fmt.Errorf("%s:%d: want NAME expression", path, i+1)
		}
		out[name] = strings.TrimSpace(expr)
	}
	return out, nil
}
