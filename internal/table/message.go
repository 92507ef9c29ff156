package table

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
)

// An item version is one engine message on the item's subject. Its data:
//
//	byte    format (1)
//	byte    op: opPut, opDelete, opLock or opRestore
//	byte    flags: flagExisted, flagOld, flagExpired
//	uvarint write time, Unix nanoseconds
//	uvarint length, ordered key bytes
//	uvarint length, binary item: the committed item after this message
//	        (opPut, opRestore: the item; opLock: the item before the
//	        transaction; opDelete: empty)
//	if flagOld: uvarint length, binary old image (opPut, opDelete)
//	if opLock: uvarint length, transaction id;
//	           byte, the op the transaction will apply (opPut, opDelete
//	           or opRestore for a condition check);
//	           uvarint length, binary item it will write (opPut)
//
// opPut and opDelete are changes and appear in change streams. opLock is a
// transaction's lock marker and opRestore ends a lock without a change;
// readers and change streams skip both.
const msgFormat = 1

const (
	opPut     byte = 1
	opDelete  byte = 2
	opLock    byte = 3
	opRestore byte = 4
)

const (
	// flagExisted: the item existed before this change (MODIFY, not INSERT).
	flagExisted byte = 1 << 0
	// flagOld: the message carries the old image.
	flagOld byte = 1 << 1
	// flagExpired: an opDelete made by the table's TTL expiry, not by a
	// writer.
	flagExpired byte = 1 << 2
)

// version is a decoded item-version message. Its byte slices alias the
// message data.
type version struct {
	op      byte
	flags   byte
	time    int64
	key     []byte
	item    []byte // committed item after the message; nil when absent
	old     []byte // old image when flagOld
	txn     []byte // opLock: transaction id
	finalOp byte   // opLock: the op the transaction applies
	final   []byte // opLock: the item it writes
}

var errCorruptMessage = errors.New("table: corrupt item-version message")

func appendBytes(dst, b []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(b)))
	return append(dst, b...)
}

// versionSize is at least the length appendVersion gives v.
func versionSize(v *version) int {
	n := 3 + 4*binary.MaxVarintLen64 + len(v.key) + len(v.item) + len(v.old)
	if v.op == opLock {
		n += 1 + 2*binary.MaxVarintLen64 + len(v.txn) + len(v.final)
	}
	return n
}

// appendVersion encodes v.
func appendVersion(dst []byte, v *version) []byte {
	dst = append(dst, msgFormat, v.op, v.flags)
	dst = binary.AppendUvarint(dst, uint64(v.time))
	dst = appendBytes(dst, v.key)
	dst = appendBytes(dst, v.item)
	if v.flags&flagOld != 0 {
		dst = appendBytes(dst, v.old)
	}
	if v.op == opLock {
		dst = appendBytes(dst, v.txn)
		dst = append(dst, v.finalOp)
		dst = appendBytes(dst, v.final)
	}
	return dst
}

type msgReader struct {
	b   []byte
	err bool
}

func (r *msgReader) uvarint() uint64 {
	x, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = true
		return 0
	}
	r.b = r.b[n:]
	return x
}

func (r *msgReader) bytes() []byte {
	n := r.uvarint()
	if r.err || n > uint64(len(r.b)) {
		r.err = true
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	if n == 0 {
		return nil
	}
	return out
}

func (r *msgReader) byte() byte {
	if len(r.b) == 0 {
		r.err = true
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

// decodeVersion decodes a message; corrupt data gives errCorruptMessage.
func decodeVersion(data []byte, v *version) error {
	if len(data) < 3 || data[0] != msgFormat {
		return errCorruptMessage
	}
	*v = version{op: data[1], flags: data[2]}
	if v.op < opPut || v.op > opRestore {
		return errCorruptMessage
	}
	r := msgReader{b: data[3:]}
	v.time = int64(r.uvarint())
	v.key = r.bytes()
	v.item = r.bytes()
	if v.flags&flagOld != 0 {
		v.old = r.bytes()
	}
	if v.op == opLock {
		v.txn = r.bytes()
		v.finalOp = r.byte()
		v.final = r.bytes()
	}
	if r.err || len(v.key) == 0 {
		return errCorruptMessage
	}
	return nil
}

// maxPlainKeyToken is the longest ordered key whose subject token is its
// base64url text; longer keys use a hash, since subjects (with the rest of
// a NATS protocol line) must fit in 4 KiB on servers with default limits.
const maxPlainKeyToken = 512

// keyToken returns the subject token of an ordered key: 'k' and its
// base64url text, or 'h' and the base64url SHA-256 of a long key. The
// message carries the whole key, so the index never needs to invert it.
func keyToken(key []byte) string {
	if len(key) <= maxPlainKeyToken {
		return "k" + base64.RawURLEncoding.EncodeToString(key)
	}
	sum := sha256.Sum256(key)
	return "h" + base64.RawURLEncoding.EncodeToString(sum[:])
}
