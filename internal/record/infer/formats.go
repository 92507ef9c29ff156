package infer

import (
	"bytes"
	"errors"
	"io"

	"github.com/pricestream/pricestream/internal/record"
	"github.com/pricestream/pricestream/internal/record/avro"
	"github.com/pricestream/pricestream/internal/record/parquet"
)

// inferAvro reads the container's records: the writer schema gives the
// types exactly, and the sample checks that the data reads.
func (res *Result) inferAvro(data []byte, opts *Options) error {
	fr, err := avro.NewFileReader(bytes.NewReader(data))
	if err != nil {
		return err
	}
	defer fr.Close()
	res.WriterSchema = fr.Codec().WriterSchema()
	res.Schema = fr.Codec().Schema()
	var r record.Record
	for res.Records < opts.maxRecords() {
		err := fr.Read(&r)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if !opts.Truncated {
				res.fail(err)
			}
			break
		}
		res.Records++
	}
	return nil
}

// inferParquet reads the file's footer: its schema gives the types
// exactly, and a sample of rows checks that the data reads.
func (res *Result) inferParquet(r io.ReaderAt, size int64, opts *Options) error {
	rd, err := parquet.NewReader(r, size)
	if err != nil {
		return err
	}
	defer rd.Close()
	res.WriterSchema = rd.WriterSchema()
	res.Schema = rd.Schema()
	var rec record.Record
	for res.Records < opts.maxRecords() {
		err := rd.Read(&rec)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			res.fail(err)
			break
		}
		res.Records++
	}
	return nil
}
