package crawl

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/pricestream/pricestream/internal/catalog"
	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/grok"
	"github.com/pricestream/pricestream/internal/record/infer"
)

// Source yields the records a crawl samples from a stream or a table: the
// encoded payload of one record per call.
//
// Next returns the next payload, or io.EOF when the sample is complete
// (the source decides when: its end, a time budget). The slice is the
// crawler's to keep. Next is called from one goroutine; it blocks at most
// until ctx is done.
//
// A stream source reads partitions from TRIM_HORIZON (the CLI's reads
// the native API: cmd/pricestream/crawl.go). A pricestream table becomes a
// source in a few lines once the table package lands: scan the table and
// return each item's JSON (items are documents), which [Records]
// classifies as JSON lines and infers like any other.
type Source interface {
	Next(ctx context.Context) ([]byte, error)
}

// DefaultSample is the number of records [Records] samples by default.
const DefaultSample = 1000

// Records crawls the records of a source: up to opts.MaxRecords
// (default 1,000) payloads, classified together (JSON objects, or CSV
// lines without a header) and inferred. loc is the table location to
// record (the stream or table read).
func Records(ctx context.Context, src Source, loc catalog.Location, opts Options) (*Result, error) {
	limit := opts.MaxRecords
	if limit <= 0 {
		limit = DefaultSample
	}
	start := time.Now()
	var joined bytes.Buffer
	n := 0
	for n < limit {
		data, err := src.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		joined.Write(bytes.TrimRight(data, "\r\n"))
		joined.WriteByte('\n')
		n++
		if opts.Progress != nil && n%progressEvery == 0 {
			opts.Progress(Progress{Records: int64(n), Bytes: int64(joined.Len())})
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("crawl: %s: no records to sample", loc)
	}
	if opts.GrokPattern != "" {
		if c := classify(joined.Bytes(), false, &opts); c.Format == formatGrok {
			return recordsGrok(joined.Bytes(), c, loc, start, &opts)
		}
	}
	iopts := infer.Options{MaxRecords: n, NoTimes: opts.NoTimes}
	switch opts.Format {
	case "":
	case catalog.FormatJSON:
		iopts.Format = infer.FormatJSONLines
	case catalog.FormatCSV:
		iopts.Format = infer.FormatCSV
		f := catalog.Format{Type: catalog.FormatCSV, Header: new(bool)}
		if opts.CSV != nil {
			f = *opts.CSV
			f.Header = new(bool) // one record per line: no header
		}
		co := f.CSVOptions()
		iopts.CSV = &co
	default:
		return nil, fmt.Errorf("crawl: %s: records of a stream or table cannot be crawled as %s (Avro records carry no schema: define the table with its writer schema)", loc, opts.Format)
	}
	var detected *infer.Classification
	if iopts.Format == "" {
		// classify once here, and tell inference what was found
		c := infer.Classify(joined.Bytes(), false)
		switch c.Format {
		case infer.FormatCSV:
			// records of a stream are lines without a header
			iopts.Format, iopts.CSV = infer.FormatCSV, &record.CSVOptions{Delimiter: c.Delimiter, NoHeader: true}
			detected = &c
		case infer.FormatJSON, infer.FormatJSONLines:
			iopts.Format = c.Format
			detected = &c
		}
	}
	r, err := infer.Bytes(joined.Bytes(), iopts)
	if errors.Is(err, infer.ErrUnknownFormat) {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnknownFormat, loc, err)
	}
	if err != nil {
		return nil, fmt.Errorf("crawl: %s: %w", loc, err)
	}
	if detected != nil {
		r.Classification.Certainty, r.Classification.Reason = detected.Certainty, detected.Reason
	}
	c := Classification{Format: string(r.Classification.Format), Certainty: r.Classification.Certainty, Reason: r.Classification.Reason}
	if r.Classification.Format == infer.FormatCSV {
		c.Delimiter = string(r.Classification.Delimiter)
	}
	res := &Result{Classification: c, Format: formatOf(c, &opts), Location: loc, Schema: r.Schema,
		Records: int64(r.Records), Bytes: int64(joined.Len()), Errors: int64(r.Errors), Elapsed: time.Since(start)}
	if res.Format.Type == catalog.FormatJSON {
		res.Classification.Format = string(infer.FormatJSONLines)
	}
	if r.FirstError != nil {
		res.FirstError = r.FirstError.Error()
	}
	if opts.Progress != nil {
		opts.Progress(Progress{Records: res.Records, Bytes: res.Bytes})
	}
	return res, nil
}

// recordsGrok infers the fields of sampled log lines a Grok pattern
// parses.
func recordsGrok(joined []byte, c infer.Classification, loc catalog.Location, start time.Time, opts *Options) (*Result, error) {
	gc, err := grok.New(grok.Options{Pattern: opts.GrokPattern, CustomPatterns: opts.GrokCustomPatterns})
	if err != nil {
		return nil, fmt.Errorf("crawl: %w", err)
	}
	in := infer.NewInferrer(infer.InferrerOptions{Text: true, NoTimes: opts.NoTimes})
	res := &Result{Location: loc, Bytes: int64(len(joined))}
	var r record.Record
	for i, line := range bytes.Split(bytes.TrimSuffix(joined, []byte("\n")), []byte("\n")) {
		if err := gc.Decode(line, &r); err != nil {
			res.Errors++
			if res.FirstError == "" {
				res.FirstError = fmt.Sprintf("record %d: %v", i, err)
			}
			continue
		}
		in.Add(&r)
		res.Records++
	}
	if res.Records == 0 {
		return nil, fmt.Errorf("crawl: %s: no record matches the grok pattern: %s", loc, res.FirstError)
	}
	res.Classification = Classification{Format: string(formatGrok), Certainty: c.Certainty, Reason: c.Reason}
	res.Format = formatOf(res.Classification, opts)
	res.Schema = in.Schema()
	res.Elapsed = time.Since(start)
	return res, nil
}
