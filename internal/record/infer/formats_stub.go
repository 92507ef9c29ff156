package infer

import (
	"errors"
	"io"
)

func (res *Result) inferAvro(data []byte, opts *Options) error {
	return errors.New("infer: avro: not implemented")
}

func (res *Result) inferParquet(r io.ReaderAt, size int64, opts *Options) error {
	return errors.New("infer: parquet: not implemented")
}
