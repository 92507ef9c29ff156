package kinesis

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"github.com/pricestream/pricestream/internal/stream"
)

// iterator is the state a shard iterator carries.
type iterator struct {
	stream    string
	created   int64 // the stream's creation time, Unix ns: iterators die with the stream
	partition uint32
	pos       stream.Position
	issued    int64 // Unix ns
}

const (
	iterVersion = 1
	macLen      = 16
)

var errBadIterator = errors.New("kinesis: bad shard iterator")

// encode returns the iterator as an opaque, signed token.
func (it *iterator) encode(key []byte) string {
	b := make([]byte, 0, 1+8+4+8+4+8+len(it.stream)+macLen)
	b = append(b, iterVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(it.created))
	b = binary.BigEndian.AppendUint32(b, it.partition)
	b = binary.BigEndian.AppendUint64(b, it.pos.Seq)
	b = binary.BigEndian.AppendUint32(b, it.pos.Index)
	b = binary.BigEndian.AppendUint64(b, uint64(it.issued))
	b = append(b, it.stream...)
	mac := hmac.New(sha256.New, key)
	mac.Write(b)
	b = mac.Sum(b)[:len(b)+macLen]
	return base64.RawURLEncoding.EncodeToString(b)
}

// decodeIterator verifies and decodes a token made by encode.
func decodeIterator(s string, key []byte) (*iterator, error) {
	if len(s) < 1 || len(s) > 512 {
		return nil, errBadIterator
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1+8+4+8+4+8+1+macLen || b[0] != iterVersion {
		return nil, errBadIterator
	}
	body, sum := b[:len(b)-macLen], b[len(b)-macLen:]
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	if !hmac.Equal(mac.Sum(nil)[:macLen], sum) {
		return nil, errBadIterator
	}
	p := body[1:]
	it := &iterator{
		created:   int64(binary.BigEndian.Uint64(p[0:8])),
		partition: binary.BigEndian.Uint32(p[8:12]),
		pos:       stream.Position{Seq: binary.BigEndian.Uint64(p[12:20]), Index: binary.BigEndian.Uint32(p[20:24])},
		issued:    int64(binary.BigEndian.Uint64(p[24:32])),
		stream:    string(p[32:]),
	}
	return it, nil
}

func (it *iterator) expired(now time.Time, ttl time.Duration) bool {
	return now.Sub(time.Unix(0, it.issued)) > ttl
}
