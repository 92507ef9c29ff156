package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The record batch is the engine message that carries the records of one
// partition: those of one request, or of several concurrent requests merged
// by the partition's writer (group commit). Layout, all integers varints:
//
//	byte     version (1)
//	uvarint  offset of the first record in the partition (records before it)
//	uvarint  record count n (>= 1)
//	uvarint  base arrival time, Unix nanoseconds
//	n times:
//	  varint   arrival - base, nanoseconds
//	  uvarint  len(partition key), then the key
//	  uvarint  len(data), then the data
//
// A record's position is the engine sequence of its batch and its index in it.
const batchVersion = 1

// batchHeaderMax bounds the header size: version and three varints.
const batchHeaderMax = 1 + 3*binary.MaxVarintLen64

// errCorruptBatch is wrapped by every decode error.
var errCorruptBatch = errors.New("stream: corrupt record batch")

// batchRecord is one record as the batch codec sees it.
type batchRecord struct {
	key     string
	data    []byte
	arrival int64 // Unix nanoseconds
}

// recordSize is the encoded size of r, excluding the batch header.
func recordSize(r *batchRecord) int {
	return binary.MaxVarintLen64 + uvarintLen(uint64(len(r.key))) + len(r.key) + uvarintLen(uint64(len(r.data))) + len(r.data)
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// appendBatch encodes recs, which must not be empty, to dst.
func appendBatch(dst []byte, offset uint64, recs []*batchRecord) []byte {
	base := recs[0].arrival
	dst = append(dst, batchVersion)
	dst = binary.AppendUvarint(dst, offset)
	dst = binary.AppendUvarint(dst, uint64(len(recs)))
	dst = binary.AppendUvarint(dst, uint64(base))
	for _, r := range recs {
		dst = binary.AppendVarint(dst, r.arrival-base)
		dst = binary.AppendUvarint(dst, uint64(len(r.key)))
		dst = append(dst, r.key...)
		dst = binary.AppendUvarint(dst, uint64(len(r.data)))
		dst = append(dst, r.data...)
	}
	return dst
}

// batchHeader is the decoded header of a record batch.
type batchHeader struct {
	offset uint64 // offset of the first record in the partition
	count  int
	base   int64
}

// batchReader decodes a record batch. Its records alias the message bytes.
type batchReader struct {
	hdr  batchHeader
	buf  []byte // the records not yet read
	read int    // records read so far
}

func decodeBatchHeader(b []byte) (batchHeader, []byte, error) {
	var h batchHeader
	if len(b) == 0 {
		return h, nil, fmt.Errorf("%w: empty", errCorruptBatch)
	}
	if b[0] != batchVersion {
		return h, nil, fmt.Errorf("%w: version %d", errCorruptBatch, b[0])
	}
	b = b[1:]
	off, n := binary.Uvarint(b)
	if n <= 0 {
		return h, nil, fmt.Errorf("%w: offset", errCorruptBatch)
	}
	b = b[n:]
	cnt, n := binary.Uvarint(b)
	if n <= 0 || cnt == 0 || cnt > uint64(len(b)) {
		return h, nil, fmt.Errorf("%w: count", errCorruptBatch)
	}
	b = b[n:]
	base, n := binary.Uvarint(b)
	if n <= 0 || base > math.MaxInt64 {
		return h, nil, fmt.Errorf("%w: base time", errCorruptBatch)
	}
	b = b[n:]
	h.offset, h.count, h.base = off, int(cnt), int64(base)
	return h, b, nil
}

func newBatchReader(b []byte) (*batchReader, error) {
	h, rest, err := decodeBatchHeader(b)
	if err != nil {
		return nil, err
	}
	return &batchReader{hdr: h, buf: rest}, nil
}

// next decodes the next record into r; it returns false after the last one.
func (br *batchReader) next(r *batchRecord) (bool, error) {
	if br.read == br.hdr.count {
		if len(br.buf) != 0 {
			return false, fmt.Errorf("%w: %d trailing bytes", errCorruptBatch, len(br.buf))
		}
		return false, nil
	}
	b := br.buf
	d, n := binary.Varint(b)
	if n <= 0 {
		return false, fmt.Errorf("%w: record %d arrival", errCorruptBatch, br.read)
	}
	b = b[n:]
	kl, n := binary.Uvarint(b)
	if n <= 0 || kl > uint64(len(b)-n) {
		return false, fmt.Errorf("%w: record %d key", errCorruptBatch, br.read)
	}
	b = b[n:]
	r.key = string(b[:kl])
	b = b[kl:]
	dl, n := binary.Uvarint(b)
	if n <= 0 || dl > uint64(len(b)-n) {
		return false, fmt.Errorf("%w: record %d data", errCorruptBatch, br.read)
	}
	b = b[n:]
	r.data = b[:dl:dl]
	b = b[dl:]
	r.arrival = br.hdr.base + d
	br.buf = b
	br.read++
	return true, nil
}
