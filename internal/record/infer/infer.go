package infer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pricestream/pricestream/internal/record"
)

// Options configure [Bytes] and [File].
type Options struct {
	// MaxRecords bounds the records sampled; 0 means 10,000.
	MaxRecords int
	// MaxBytes bounds what File reads of a text or Avro file; 0 means 16 MiB.
	// Parquet files are read through their footer, record by record.
	MaxBytes int64
	// Truncated says the data may end in the middle of a record (a crawler
	// sampled the first bytes of a file); a malformed last record is then
	// not counted as an error.
	Truncated bool
	// Format, if set, skips classification.
	Format Format
	// CSV, if Format is csv, gives the CSV options instead of the detected
	// ones (its Schema and Columns are ignored).
	CSV *record.CSVOptions
	// NoTimes keeps time-like strings as strings.
	NoTimes bool
}

func (o *Options) maxRecords() int {
	if o.MaxRecords <= 0 {
		return 10_000
	}
	return o.MaxRecords
}

// Result is what inference found.
type Result struct {
	// Classification is the detected (or given) format with its certainty.
	Classification Classification
	// Schema is the inferred schema.
	Schema *record.Schema
	// Records is the number of records sampled.
	Records int
	// Errors counts malformed records that were skipped; FirstError is the
	// first of them.
	Errors     int
	FirstError error
	// WriterSchema is the format's own schema where the file carries one:
	// the Avro writer schema (JSON), which the catalog keeps to decode the
	// data; the Parquet schema in its text form.
	WriterSchema string
}

// ErrUnknownFormat is returned when no classifier recognizes the data. Test
// with errors.Is.
var ErrUnknownFormat = errors.New("infer: unknown format")

// Bytes classifies data (unless opts.Format is set) and infers the schema
// of its records. Malformed records are skipped and counted; it fails only
// if the format is unknown or no record can be read.
func Bytes(data []byte, opts Options) (*Result, error) {
	cls := Classification{Format: opts.Format, Certainty: 1, Reason: "given"}
	if cls.Format == "" {
		cls = Classify(data, opts.Truncated)
	}
	res := &Result{Classification: cls}
	var err error
	switch cls.Format {
	case FormatJSON, FormatJSONLines:
		err = res.inferJSON(data, &opts)
	case FormatCSV:
		err = res.inferCSV(data, &opts)
	case FormatAvro:
		err = res.inferAvro(data, &opts)
	case FormatParquet:
		err = res.inferParquet(bytes.NewReader(data), int64(len(data)), &opts)
	default:
		return nil, fmt.Errorf("%w: %s", ErrUnknownFormat, cls.Reason)
	}
	if err != nil {
		return nil, err
	}
	if res.Records == 0 {
		if res.FirstError != nil {
			return nil, fmt.Errorf("infer: no readable record: %w", res.FirstError)
		}
		return nil, errors.New("infer: no records")
	}
	return res, nil
}

// File infers the schema of the file at path: Parquet files through their
// footer, other formats from their first opts.MaxBytes.
func File(path string, opts Options) (*Result, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if opts.Format == FormatParquet || (opts.Format == "" && n == 4 && string(magic[:]) == "PAR1") {
		res := &Result{Classification: Classification{Format: FormatParquet, Certainty: 1, Reason: "Parquet magic"}}
		if err := res.inferParquet(f, st.Size(), &opts); err != nil {
			return nil, fmt.Errorf("infer: %s: %w", path, err)
		}
		return res, nil
	}
	limit := opts.MaxBytes
	if limit <= 0 {
		limit = 16 << 20
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("infer: %w", err)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return nil, fmt.Errorf("infer: %s: %w", path, err)
	}
	if int64(len(data)) < st.Size() {
		opts.Truncated = true
	}
	res, err := Bytes(data, opts)
	if err != nil {
		return nil, fmt.Errorf("infer: %s: %w", path, err)
	}
	return res, nil
}

func (res *Result) fail(err error) {
	res.Errors++
	if res.FirstError == nil {
		res.FirstError = err
	}
}

func (res *Result) inferJSON(data []byte, opts *Options) error {
	in := NewInferrer(InferrerOptions{NoTimes: opts.NoTimes})
	dec := record.NewJSONDecoder(record.JSONOptions{})
	var pendingErr error
	for r, err := range dec.Records(data) {
		if pendingErr != nil {
			res.fail(pendingErr)
			pendingErr = nil
		}
		if err != nil {
			pendingErr = err
			continue
		}
		in.Add(r)
		if in.Records() >= opts.maxRecords() {
			break
		}
	}
	if pendingErr != nil && !opts.Truncated {
		res.fail(pendingErr)
	}
	res.Records = in.Records()
	res.Schema = in.Schema()
	return nil
}

func (res *Result) inferCSV(data []byte, opts *Options) error {
	var co record.CSVOptions
	if opts.CSV != nil {
		co = *opts.CSV
		co.Schema, co.Columns = nil, nil
		res.Classification.Delimiter = co.Delimiter
		res.Classification.Header = !co.NoHeader
	} else {
		co = record.CSVOptions{Delimiter: res.Classification.Delimiter, NoHeader: !res.Classification.Header}
	}
	cr, err := record.NewCSVReader(bytes.NewReader(data), co)
	if err != nil {
		return fmt.Errorf("infer: %w", err)
	}
	in := NewInferrer(InferrerOptions{Text: true, NoTimes: opts.NoTimes})
	var r record.Record
	var pendingErr error
	for in.Records() < opts.maxRecords() {
		err := cr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if pendingErr != nil {
			res.fail(pendingErr)
			pendingErr = nil
		}
		if err != nil {
			var de *record.DecodeError
			if !errors.As(err, &de) {
				return fmt.Errorf("infer: %w", err)
			}
			pendingErr = err
			continue
		}
		in.Add(&r)
	}
	if pendingErr != nil && !opts.Truncated {
		res.fail(pendingErr)
	}
	res.Records = in.Records()
	res.Schema = in.Schema()
	return nil
}
