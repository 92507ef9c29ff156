package table

import (
	"encoding/binary"
)

// A table of batched writes ([WritesBatched]) stores many item versions in
// one engine message, on the table's one batch subject. Its data:
//
//	byte    format (2)
//	uvarint position of the first entry (the entries' are consecutive)
//	uvarint number of entries (1 to maxBatchEntries)
//	each entry:
//	  byte    op: opPut, opDelete or opRestore
//	  byte    flags: flagExisted, flagOld
//	  uvarint write time, Unix nanoseconds
//	  uvarint length, ordered key bytes
//	  uvarint length, binary item (opPut, opRestore; empty for opDelete)
//	  if flagOld: uvarint length, binary old image
//	  if opRestore: uvarint position of the version it restores
//
// A position is a change's sequence number in such a table: it counts the
// entries of the table's batches, so it increases by one from change to
// change, as a Kinesis record's offset does. An opRestore is the
// compactor's copy of a live version whose batch is about to be removed
// (compact_batch.go): it takes a position but is no change, and readers
// and change streams skip it.
const batchFormat = 2

// maxBatchEntries bounds the entries of one batch message.
const maxBatchEntries = 4096

// batchHeaderMax is at least the size of a batch message's header.
const batchHeaderMax = 1 + 2*binary.MaxVarintLen64

// batchEntry is a decoded entry of a batch message. Its byte slices alias
// the message data.
type batchEntry struct {
	pos   uint64
	op    byte
	flags byte
	time  int64
	key   []byte
	item  []byte // nil when absent
	old   []byte // old image when flagOld
	of    uint64 // opRestore: the position of the version it restores
}

// isBatch reports whether an engine message is a batch message.
func isBatch(data []byte) bool { return len(data) > 0 && data[0] == batchFormat }

// appendBatchHeader starts a batch message of n entries, the first at
// position first.
func appendBatchHeader(dst []byte, first uint64, n int) []byte {
	dst = append(dst, batchFormat)
	dst = binary.AppendUvarint(dst, first)
	return binary.AppendUvarint(dst, uint64(n))
}

// batchEntrySize is at least the length appendBatchEntry gives e.
func batchEntrySize(e *batchEntry) int {
	return 2 + 5*binary.MaxVarintLen64 + len(e.key) + len(e.item) + len(e.old)
}

// appendBatchEntry encodes e (its pos is implied by its place).
func appendBatchEntry(dst []byte, e *batchEntry) []byte {
	dst = append(dst, e.op, e.flags)
	dst = binary.AppendUvarint(dst, uint64(e.time))
	dst = appendBytes(dst, e.key)
	dst = appendBytes(dst, e.item)
	if e.flags&flagOld != 0 {
		dst = appendBytes(dst, e.old)
	}
	if e.op == opRestore {
		dst = binary.AppendUvarint(dst, e.of)
	}
	return dst
}

// batchReader iterates over the entries of a batch message.
type batchReader struct {
	r    msgReader
	next uint64 // position of the next entry
	left uint64 // entries not yet read
	err  bool
}

// readBatch starts reading a batch message; it returns errCorruptMessage
// when data is not one.
func readBatch(data []byte) (batchReader, error) {
	if !isBatch(data) {
		return batchReader{}, errCorruptMessage
	}
	br := batchReader{r: msgReader{b: data[1:]}}
	br.next = br.r.uvarint()
	br.left = br.r.uvarint()
	if br.r.err || br.left == 0 || br.left > maxBatchEntries || br.next == 0 || br.next+br.left < br.next {
		return batchReader{}, errCorruptMessage
	}
	return br, nil
}

// first returns the position of the batch's first entry and the number of
// entries, as the header says.
func batchExtent(data []byte) (first, n uint64, err error) {
	br, err := readBatch(data)
	if err != nil {
		return 0, 0, err
	}
	return br.next, br.left, nil
}

// entry decodes the next entry into e; it returns false at the end or on
// corrupt data (then failed is true).
func (br *batchReader) entry(e *batchEntry) bool {
	if br.left == 0 || br.err {
		return false
	}
	r := &br.r
	*e = batchEntry{pos: br.next, op: r.byte(), flags: r.byte()}
	e.time = int64(r.uvarint())
	e.key = r.bytes()
	e.item = r.bytes()
	if e.flags&flagOld != 0 {
		e.old = r.bytes()
	}
	if e.op == opRestore {
		e.of = r.uvarint()
	}
	switch {
	case r.err, len(e.key) == 0, e.op != opPut && e.op != opDelete && e.op != opRestore,
		e.op == opDelete && e.item != nil, e.op != opDelete && e.item == nil,
		e.op == opRestore && (e.of == 0 || e.of >= e.pos):
		br.err = true
		return false
	}
	br.next++
	br.left--
	if br.left == 0 && len(r.b) != 0 {
		br.err = true // bytes after the last entry
		return false
	}
	return true
}

// failed reports whether the batch's data was corrupt.
func (br *batchReader) failed() bool { return br.err }

// batchHasChange reports whether a batch message holds a change (a put or
// a delete) rather than restores only; a message that does not decode
// counts as a change, so that its reader reports it.
func batchHasChange(data []byte) bool {
	br, err := readBatch(data)
	if err != nil {
		return true
	}
	var e batchEntry
	for br.entry(&e) {
		if e.op != opRestore {
			return true
		}
	}
	return br.failed()
}

// batchLastTime returns a batch message's extent and the latest write
// time of its entries (the index's time of the message).
func batchLastTime(data []byte) (first, n uint64, last int64, err error) {
	br, err := readBatch(data)
	if err != nil {
		return 0, 0, 0, err
	}
	first, n = br.next, br.left
	var e batchEntry
	for br.entry(&e) {
		last = max(last, e.time)
	}
	if br.failed() {
		return 0, 0, 0, errCorruptMessage
	}
	return first, n, last, nil
}
