package crawl

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/grok"
	"github.com/pricestream/pricestream/internal/record/infer"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

// ErrUnknownFormat means no classifier recognized the data. Test with
// errors.Is.
var ErrUnknownFormat = errors.New("crawl: unknown format")

// Options configure a crawl.
type Options struct {
	// Format, if set, skips classification.
	Format catalog.FormatType
	// CSV options when Format is csv (delimiter, quote, header, null
	// markers); detected otherwise.
	CSV *catalog.Format
	// GrokPattern, if set, is a custom classifier tried first, as Glue runs
	// custom classifiers before its own: its certainty is the share of the
	// sample's lines it matches, and it wins at 1 or when no built-in
	// classifier is more certain. With Format grok it is the format.
	GrokPattern        string
	GrokCustomPatterns map[string]string
	// MaxRecords bounds the records read per file (0 reads every record)
	// or from a [Source] (0 means 1,000).
	MaxRecords int
	// NoTimes keeps time-like strings as strings.
	NoTimes bool
	// Progress, if set, is called from the crawling goroutine every few
	// thousand records and at the end of each file.
	Progress func(Progress)
}

// Progress reports how far a crawl got.
type Progress struct {
	// File is the file being read ("" for a Source).
	File string
	// Bytes of all files read so far, of TotalBytes.
	Bytes, TotalBytes int64
	// Records read so far.
	Records int64
}

// Classification is what the classifier concluded, as Glue reports it.
type Classification struct {
	// Format is json, json_lines, csv, avro or parquet.
	Format string `json:"format"`
	// Certainty from 0 to 1 (the lowest of the files').
	Certainty float64 `json:"certainty"`
	Reason    string  `json:"reason,omitempty"`
	// Delimiter and Header of CSV.
	Delimiter string `json:"delimiter,omitempty"`
	Header    bool   `json:"header,omitempty"`
}

// FileResult is what a crawl found in one file.
type FileResult struct {
	Path           string         `json:"path"`
	Bytes          int64          `json:"bytes"`
	Classification Classification `json:"classification"`
	Records        int64          `json:"records"`
	Errors         int64          `json:"errors"`
	FirstError     string         `json:"first_error,omitempty"`
	Columns        *record.Schema `json:"columns"`
}

// Result is what a crawl found: the classification, the table format and
// the schema inferred from every file or sampled record. It is what the
// CLI sends to the server to apply (see [Apply]); its JSON form has the
// columns as [{"name","type","nullable"}].
type Result struct {
	Classification Classification   `json:"classification"`
	Format         catalog.Format   `json:"format"`
	Location       catalog.Location `json:"location"`
	Schema         *record.Schema   `json:"columns"`
	Records        int64            `json:"records"`
	Bytes          int64            `json:"bytes"`
	// Errors counts malformed records skipped; FirstError says where the
	// first was.
	Errors     int64        `json:"errors"`
	FirstError string       `json:"first_error,omitempty"`
	Files      []FileResult `json:"files,omitempty"`
	// Elapsed is how long reading and inference took.
	Elapsed time.Duration `json:"elapsed"`
}

// ExpandPaths returns the files of paths: files as given, directories
// walked (hidden entries skipped), sorted within each directory.
func ExpandPaths(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if path != p && strings.HasPrefix(d.Name(), ".") {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.Type().IsRegular() {
				out = append(out, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("crawl: no files")
	}
	return out, nil
}

// Files crawls files (or directories of them; see [ExpandPaths]): each is
// classified from its first MiB (unless opts.Format says), read record by
// record (every record, or opts.MaxRecords), and its schema inferred; the
// files' schemas are merged with [record.MergeSchemas]. The files must share
// one format (JSON and JSON lines count as one): files of different formats
// belong in different tables. Malformed records are counted and skipped; a
// file without a readable record is an error naming it.
func Files(ctx context.Context, paths []string, opts Options) (*Result, error) {
	files, err := ExpandPaths(paths)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	res := &Result{}
	var total int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			total += st.Size()
		}
	}
	prog := progress{opts: &opts, total: total}
	for _, path := range files {
		fr, err := crawlFile(ctx, path, &opts, &prog)
		if err != nil {
			return nil, err
		}
		if err := res.add(fr, &opts); err != nil {
			return nil, err
		}
	}
	res.Location = commonLocation(files)
	res.Elapsed = time.Since(start)
	return res, nil
}

// add merges one file's result.
func (res *Result) add(fr *FileResult, opts *Options) error {
	c := fr.Classification
	format := formatOf(c, opts)
	if format.Type == catalog.FormatCSV && opts.CSV != nil {
		format = *opts.CSV
		format.Type = catalog.FormatCSV
	}
	if len(res.Files) == 0 {
		res.Classification = c
		res.Format = format
		res.Schema = fr.Columns
	} else {
		first := res.Files[0]
		if format.Type != res.Format.Type || c.Delimiter != first.Classification.Delimiter || c.Header != first.Classification.Header {
			return fmt.Errorf("crawl: %s is %s, but %s is %s: crawl files of different formats into different tables",
				fr.Path, describe(c), first.Path, describe(first.Classification))
		}
		res.Classification.Certainty = min(res.Classification.Certainty, c.Certainty)
		res.Schema = record.MergeSchemas(res.Schema, fr.Columns)
	}
	res.Records += fr.Records
	res.Bytes += fr.Bytes
	res.Errors += fr.Errors
	if res.FirstError == "" && fr.FirstError != "" {
		res.FirstError = fr.Path + ": " + fr.FirstError
	}
	res.Files = append(res.Files, *fr)
	return nil
}

// describe names a classification in a message.
func describe(c Classification) string {
	if c.Format != string(infer.FormatCSV) {
		return c.Format
	}
	h := "with a header"
	if !c.Header {
		h = "without a header"
	}
	return fmt.Sprintf("csv delimited by %q %s", c.Delimiter, h)
}

func tableFormat(f string) catalog.FormatType {
	switch infer.Format(f) {
	case infer.FormatJSON, infer.FormatJSONLines:
		return catalog.FormatJSON
	}
	return catalog.FormatType(f)
}

// commonLocation is the path of one file, or the directory the files
// share.
func commonLocation(files []string) catalog.Location {
	if len(files) == 1 {
		abs, err := filepath.Abs(files[0])
		if err != nil {
			abs = files[0]
		}
		return catalog.Location{Path: abs}
	}
	dir := filepath.Dir(files[0])
	for _, f := range files[1:] {
		for !strings.HasPrefix(filepath.Dir(f)+string(filepath.Separator), dir+string(filepath.Separator)) && dir != filepath.Dir(dir) {
			dir = filepath.Dir(dir)
		}
	}
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return catalog.Location{Path: dir}
}

// progress counts what was read and reports it.
type progress struct {
	opts    *Options
	total   int64
	done    int64 // bytes of the files finished
	records int64
	file    string
	cr      *countingReader
}

func (p *progress) report() {
	if p.opts.Progress == nil {
		return
	}
	b := p.done
	if p.cr != nil {
		b += p.cr.n
	}
	p.opts.Progress(Progress{File: p.file, Bytes: b, TotalBytes: p.total, Records: p.records})
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.n += int64(n)
	return n, err
}

// classifyBytes is how much of a file the classifier sees.
const classifyBytes = 1 << 20

// progressEvery is how many records pass between progress reports and
// context checks.
const progressEvery = 4096

func crawlFile(ctx context.Context, path string, opts *Options, prog *progress) (*FileResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	fr := &FileResult{Path: path, Bytes: st.Size()}
	prog.file = path
	prog.cr = &countingReader{r: f}
	defer func() {
		prog.done += st.Size()
		prog.cr = nil
		prog.report()
	}()
	peek := int(min(classifyBytes, max(st.Size(), 4096)))
	br := bufio.NewReaderSize(prog.cr, peek)
	sample, err := br.Peek(peek)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return nil, fmt.Errorf("crawl: %s: %w", path, err)
	}
	truncated := int64(len(sample)) < st.Size()
	cls := classify(sample, truncated, opts)
	fr.Classification = Classification{Format: string(cls.Format), Certainty: cls.Certainty, Reason: cls.Reason}
	if cls.Format == infer.FormatCSV {
		fr.Classification.Delimiter, fr.Classification.Header = string(cls.Delimiter), cls.Header
		if opts.CSV != nil {
			fr.Classification.Delimiter, fr.Classification.Header = cmpOr(opts.CSV.Delimiter, ","), opts.CSV.HasHeader()
		}
	}
	in := infer.NewInferrer(infer.InferrerOptions{NoTimes: opts.NoTimes})
	var next func(*record.Record) error
	switch cls.Format {
	case infer.FormatJSON, infer.FormatJSONLines:
		jr := record.NewJSONReader(br, record.NewJSONDecoder(record.JSONOptions{}))
		next = jr.Read
	case infer.FormatCSV:
		co := record.CSVOptions{Delimiter: cls.Delimiter, NoHeader: !cls.Header}
		if opts.CSV != nil {
			co = opts.CSV.CSVOptions()
		}
		cr, err := record.NewCSVReader(br, co)
		if err != nil {
			return nil, fmt.Errorf("crawl: %s: %w", path, err)
		}
		in = infer.NewInferrer(infer.InferrerOptions{Text: true, NoTimes: opts.NoTimes})
		next = cr.Read
	case infer.FormatAvro:
		ar, err := avro.NewFileReader(br)
		if err != nil {
			return nil, fmt.Errorf("crawl: %s: %w", path, err)
		}
		defer ar.Close()
		fr.Columns = ar.Codec().Schema()
		next = ar.Read
	case formatGrok:
		gc, err := grok.New(grok.Options{Pattern: opts.GrokPattern, CustomPatterns: opts.GrokCustomPatterns})
		if err != nil {
			return nil, fmt.Errorf("crawl: %w", err)
		}
		lr := &lineReader{br: br}
		in = infer.NewInferrer(infer.InferrerOptions{Text: true, NoTimes: opts.NoTimes})
		next = func(r *record.Record) error {
			line, err := lr.next()
			if err != nil {
				return err
			}
			if err := gc.Decode(line, r); err != nil {
				var de *record.DecodeError
				if errors.As(err, &de) {
					de.Line = lr.line
				}
				return err
			}
			return nil
		}
	case infer.FormatParquet:
		pr, err := parquet.NewReader(f, st.Size())
		if err != nil {
			return nil, fmt.Errorf("crawl: %s: %w", path, err)
		}
		defer pr.Close()
		fr.Columns = pr.Schema()
		next = pr.Read
	default:
		return nil, fmt.Errorf("%w: %s: %s", ErrUnknownFormat, path, cls.Reason)
	}
	typed := fr.Columns != nil // Avro and Parquet carry their schema
	var rec record.Record
	for opts.MaxRecords <= 0 || fr.Records < int64(opts.MaxRecords) {
		err := next(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			var de *record.DecodeError
			if !errors.As(err, &de) {
				return nil, fmt.Errorf("crawl: %s: %w", path, err)
			}
			fr.Errors++
			if fr.FirstError == "" {
				fr.FirstError = err.Error()
			}
			if typed || fr.Errors > fr.Records+1000 {
				break // a binary file past a bad block, or not this format at all
			}
			continue
		}
		fr.Records++
		prog.records++
		if !typed {
			in.Add(&rec)
		}
		if fr.Records%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			prog.report()
		}
	}
	if fr.Records == 0 {
		if fr.FirstError != "" {
			return nil, fmt.Errorf("crawl: %s: no readable record as %s: %s", path, cls.Format, fr.FirstError)
		}
		return nil, fmt.Errorf("crawl: %s: no records", path)
	}
	if !typed {
		fr.Columns = in.Schema()
	}
	return fr, nil
}

// formatGrok is the classification of lines a Grok pattern matches.
const formatGrok infer.Format = "grok"

// classify returns the classification of a file's first bytes, or the
// one opts asks for.
func classify(sample []byte, truncated bool, opts *Options) infer.Classification {
	if opts.GrokPattern != "" && (opts.Format == "" || opts.Format == catalog.FormatGrok) {
		g := classifyGrok(sample, truncated, opts)
		if opts.Format == catalog.FormatGrok || g.Certainty == 1 {
			return g
		}
		if b := classifyBuiltin(sample, truncated, opts); b.Certainty >= g.Certainty {
			return b
		}
		return g
	}
	return classifyBuiltin(sample, truncated, opts)
}

// classifyGrok is the custom classifier of a Grok pattern: the share of
// the sample's lines (up to 200) that it matches.
func classifyGrok(sample []byte, truncated bool, opts *Options) infer.Classification {
	c := infer.Classification{Format: formatGrok}
	gc, err := grok.New(grok.Options{Pattern: opts.GrokPattern, CustomPatterns: opts.GrokCustomPatterns})
	if err != nil {
		c.Format, c.Reason = infer.FormatUnknown, err.Error()
		return c
	}
	lines := bytes.Split(sample, []byte("\n"))
	if truncated && len(lines) > 1 {
		lines = lines[:len(lines)-1] // the last line may be cut
	}
	n, matched := 0, 0
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if n++; gc.Match(l) {
			matched++
		}
		if n == 200 {
			break
		}
	}
	if n > 0 {
		c.Certainty = float64(matched) / float64(n)
	}
	c.Reason = fmt.Sprintf("the grok pattern matches %d of %d lines", matched, n)
	return c
}

func classifyBuiltin(sample []byte, truncated bool, opts *Options) infer.Classification {
	switch opts.Format {
	case "":
		c := infer.Classify(sample, truncated)
		if (c.Format == infer.FormatCSV || c.Format == infer.FormatUnknown) && bytes.IndexByte(sample, 0) >= 0 {
			// text formats hold no NUL bytes: binary data of another format
			return infer.Classification{Format: infer.FormatUnknown, Reason: "binary data that is neither Avro nor Parquet"}
		}
		return c
	case catalog.FormatJSON:
		f := infer.FormatJSONLines
		if t := bytes.TrimLeft(sample, " \t\r\n\ufeff"); len(t) > 0 && t[0] == '[' {
			f = infer.FormatJSON
		}
		return infer.Classification{Format: f, Certainty: 1, Reason: "given"}
	case catalog.FormatCSV:
		c := infer.Classify(sample, truncated)
		if c.Format != infer.FormatCSV {
			c = infer.Classification{Delimiter: ',', Header: true}
		}
		c.Format, c.Certainty, c.Reason = infer.FormatCSV, 1, "given"
		return c
	}
	return infer.Classification{Format: infer.Format(opts.Format), Certainty: 1, Reason: "given"}
}

// formatOf returns the table format a classification describes.
func formatOf(c Classification, opts *Options) catalog.Format {
	f := catalog.Format{Type: tableFormat(c.Format)}
	if f.Type == catalog.FormatGrok {
		f.GrokPattern, f.GrokCustomPatterns = opts.GrokPattern, opts.GrokCustomPatterns
	}
	if f.Type == catalog.FormatCSV {
		if c.Delimiter != "" && c.Delimiter != "," {
			f.Delimiter = c.Delimiter
		}
		if !c.Header {
			no := false
			f.Header = &no
		}
	}
	return f
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// lineReader reads lines of any length.
type lineReader struct {
	br   *bufio.Reader
	line int
}

func (lr *lineReader) next() ([]byte, error) {
	for {
		b, err := lr.br.ReadBytes('\n')
		if len(b) == 0 && err != nil {
			return nil, err
		}
		lr.line++
		if len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
