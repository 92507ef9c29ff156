package avro

import (
	"bufio"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"

	hamba "github.com/hamba/avro/v2"
	"github.com/hamba/avro/v2/ocf"
	"github.com/klauspost/compress/zstd"

	"github.com/pricestream/pricestream/internal/record"
)

// Magic is the first four bytes of an Avro object container file.
const Magic = "Obj\x01"

// maxBlockBytes bounds one compressed or decompressed data block.
const maxBlockBytes = 64 << 20

// FileReader reads the records of an Avro object container file. The writer
// schema comes from the file's header. Codecs null, deflate, snappy and
// zstandard are supported. It is not safe for concurrent use.
type FileReader struct {
	br     *bufio.Reader
	codec  *Codec
	comp   string
	sync   [16]byte
	meta   map[string][]byte
	block  decoder // the current block
	left   int64   // records left in the block
	off    int64   // input offset of the next byte of br
	blocks int64
	index  int64
	err    error
	zdec   *zstd.Decoder
}

// NewFileReader reads the header of the container file in r.
func NewFileReader(r io.Reader) (*FileReader, error) {
	fr := &FileReader{br: bufio.NewReaderSize(r, 64<<10), meta: map[string][]byte{}}
	var magic [4]byte
	if err := fr.read(magic[:]); err != nil || string(magic[:]) != Magic {
		return nil, fr.errorf("not an Avro container file (bad magic)")
	}
	for {
		count, err := fr.long()
		if err != nil {
			return nil, err
		}
		if count == 0 {
			break
		}
		if count < 0 {
			if _, err := fr.long(); err != nil {
				return nil, err
			}
			count = -count
		}
		if count > 1024 {
			return nil, fr.errorf("header has %d metadata entries", count)
		}
		for range count {
			k, err := fr.bytes(1 << 20)
			if err != nil {
				return nil, err
			}
			v, err := fr.bytes(16 << 20)
			if err != nil {
				return nil, err
			}
			fr.meta[string(k)] = v
		}
	}
	if err := fr.read(fr.sync[:]); err != nil {
		return nil, fr.errorf("header: missing sync marker")
	}
	schema, ok := fr.meta["avro.schema"]
	if !ok {
		return nil, fr.errorf("header: no avro.schema")
	}
	c, err := New(string(schema))
	if err != nil {
		return nil, err
	}
	fr.codec = c
	fr.comp = string(fr.meta["avro.codec"])
	switch fr.comp {
	case "", "null", "deflate", "snappy":
	case "zstandard":
		if fr.zdec, err = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxBlockBytes)); err != nil {
			return nil, fmt.Errorf("avro: %w", err)
		}
	default:
		return nil, fr.errorf("unsupported codec %q", fr.comp)
	}
	return fr, nil
}

// Codec returns the codec of the file's writer schema.
func (fr *FileReader) Codec() *Codec { return fr.codec }

// Metadata returns the header metadata (avro.schema, avro.codec, …).
func (fr *FileReader) Metadata() map[string][]byte { return fr.meta }

// Close releases the decompressor, if any. It does not close the input.
func (fr *FileReader) Close() error {
	if fr.zdec != nil {
		fr.zdec.Close()
		fr.zdec = nil
	}
	return nil
}

func (fr *FileReader) errorf(format string, args ...any) error {
	idx := int64(-1)
	if fr.index > 0 {
		idx = fr.index
	}
	return &record.DecodeError{Format: "avro", Offset: fr.off, Index: idx, Msg: fmt.Sprintf(format, args...)}
}

func (fr *FileReader) read(b []byte) error {
	n, err := io.ReadFull(fr.br, b)
	fr.off += int64(n)
	return err
}

func (fr *FileReader) long() (int64, error) {
	var u uint64
	for shift := uint(0); shift < 64; shift += 7 {
		b, err := fr.br.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return 0, fr.errorf("unexpected end of file")
			}
			return 0, err
		}
		fr.off++
		u |= uint64(b&0x7f) << shift
		if b < 0x80 {
			return int64(u>>1) ^ -int64(u&1), nil
		}
	}
	return 0, fr.errorf("varint longer than 10 bytes")
}

func (fr *FileReader) bytes(limit int64) ([]byte, error) {
	n, err := fr.long()
	if err != nil {
		return nil, err
	}
	if n < 0 || n > limit {
		return nil, fr.errorf("length %d out of range", n)
	}
	b := make([]byte, n)
	if err := fr.read(b); err != nil {
		return nil, fr.errorf("unexpected end of file")
	}
	return b, nil
}

// Read decodes the next record into r, which it resets first. It returns
// [io.EOF] after the last record. A malformed block or record gives a
// [*record.DecodeError]; the reader cannot go on after one.
func (fr *FileReader) Read(r *record.Record) error {
	if fr.err != nil {
		return fr.err
	}
	for fr.left == 0 {
		if err := fr.nextBlock(); err != nil {
			fr.err = err
			return err
		}
	}
	r.Reset()
	fr.block.root = r
	fr.index++
	fr.block.index = fr.index
	if err := fr.block.top(fr.codec, r); err != nil {
		fr.err = err
		return err
	}
	fr.left--
	if fr.left == 0 && fr.block.i != len(fr.block.s) {
		fr.err = fr.errorf("block %d: %d bytes after its records", fr.blocks, len(fr.block.s)-fr.block.i)
		return fr.err
	}
	return nil
}

func (fr *FileReader) nextBlock() error {
	if _, err := fr.br.Peek(1); errors.Is(err, io.EOF) {
		return io.EOF
	}
	count, err := fr.long()
	if err != nil {
		return err
	}
	size, err := fr.long()
	if err != nil {
		return err
	}
	if count < 0 || size < 0 || size > maxBlockBytes {
		return fr.errorf("block %d: invalid count %d or size %d", fr.blocks, count, size)
	}
	data := make([]byte, size)
	if err := fr.read(data); err != nil {
		return fr.errorf("block %d: unexpected end of file", fr.blocks)
	}
	var sync [16]byte
	if err := fr.read(sync[:]); err != nil || sync != fr.sync {
		return fr.errorf("block %d: bad sync marker", fr.blocks)
	}
	fr.blocks++
	switch fr.comp {
	case "deflate":
		data, err = io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(data)), maxBlockBytes))
	case "snappy":
		data, err = (&ocf.SnappyCodec{}).Decode(data)
	case "zstandard":
		data, err = fr.zdec.DecodeAll(data, nil)
	}
	if err != nil {
		return fr.errorf("block %d: %s: %v", fr.blocks-1, fr.comp, err)
	}
	if count > int64(len(data))+1 && count > maxItems {
		return fr.errorf("block %d: %d records in %d bytes", fr.blocks-1, count, len(data))
	}
	fr.block = decoder{s: string(data), index: fr.index}
	fr.left = count
	return nil
}

// FileWriter writes records to an Avro object container file (through
// hamba/avro's ocf encoder). It is not safe for concurrent use.
type FileWriter struct {
	codec *Codec
	enc   *ocf.Encoder
	buf   []byte
}

// NewFileWriter writes the header of a container file for codec's writer
// schema to w. compression is "null" (or ""), "deflate", "snappy" or
// "zstandard". Call Close to flush the last block.
func NewFileWriter(w io.Writer, codec *Codec, compression string) (*FileWriter, error) {
	if compression == "" {
		compression = "null"
	}
	enc, err := ocf.NewEncoder(codec.WriterSchema(), w, ocf.WithCodec(ocf.CodecName(compression)),
		ocf.WithEncoderSchemaCache(&hamba.SchemaCache{})) // not hamba's global cache
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	return &FileWriter{codec: codec, enc: enc}, nil
}

// Write appends one record.
func (fw *FileWriter) Write(r *record.Record) error {
	var err error
	fw.buf, err = fw.codec.Append(fw.buf[:0], r)
	if err != nil {
		return err
	}
	_, err = fw.enc.Write(fw.buf)
	return err
}

// Close flushes the last block. It does not close the underlying writer.
func (fw *FileWriter) Close() error { return fw.enc.Close() }
