package stream

import (
	"crypto/md5"
	"encoding/binary"
	"fmt"
	"math/big"
)

// HashKey is a 128-bit Kinesis hash key: the MD5 of a partition key read as
// a big-endian unsigned integer, or an explicit hash key.
type HashKey struct{ Hi, Lo uint64 }

// HashPartitionKey returns the hash key of a partition key as Kinesis
// computes it.
func HashPartitionKey(key string) HashKey {
	sum := md5.Sum([]byte(key))
	return HashKey{Hi: binary.BigEndian.Uint64(sum[:8]), Lo: binary.BigEndian.Uint64(sum[8:])}
}

var maxHashKey = new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 128), big.NewInt(1))

// ParseHashKey parses a decimal hash key in [0, 2^128).
func ParseHashKey(s string) (HashKey, error) {
	if s == "" || len(s) > 39 {
		return HashKey{}, fmt.Errorf("%w: explicit hash key %q: want a decimal number in [0, 2^128)", ErrInvalidArgument, s)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return HashKey{}, fmt.Errorf("%w: explicit hash key %q: want a decimal number in [0, 2^128)", ErrInvalidArgument, s)
		}
	}
	v, ok := new(big.Int).SetString(s, 10)
	if !ok || v.Cmp(maxHashKey) > 0 {
		return HashKey{}, fmt.Errorf("%w: explicit hash key %q: want a decimal number in [0, 2^128)", ErrInvalidArgument, s)
	}
	return hashKeyFromBig(v), nil
}

func hashKeyFromBig(v *big.Int) HashKey {
	var b [16]byte
	v.FillBytes(b[:])
	return HashKey{Hi: binary.BigEndian.Uint64(b[:8]), Lo: binary.BigEndian.Uint64(b[8:])}
}

func (h HashKey) big() *big.Int {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], h.Hi)
	binary.BigEndian.PutUint64(b[8:], h.Lo)
	return new(big.Int).SetBytes(b[:])
}

// String returns the decimal form Kinesis uses.
func (h HashKey) String() string { return h.big().String() }

// Less reports whether h < o.
func (h HashKey) Less(o HashKey) bool { return h.Hi < o.Hi || (h.Hi == o.Hi && h.Lo < o.Lo) }

// HashRange is the contiguous range of hash keys a partition owns.
type HashRange struct{ Start, End HashKey }

// hashRanges splits the hash-key space into n equal contiguous ranges as
// Kinesis does for a new stream: partition i starts at floor(i * 2^128 / n).
func hashRanges(n int) []HashRange {
	space := new(big.Int).Lsh(big.NewInt(1), 128)
	out := make([]HashRange, n)
	for i := range n {
		start := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i))), big.NewInt(int64(n)))
		next := new(big.Int).Div(new(big.Int).Mul(space, big.NewInt(int64(i+1))), big.NewInt(int64(n)))
		out[i] = HashRange{Start: hashKeyFromBig(start), End: hashKeyFromBig(next.Sub(next, big.NewInt(1)))}
	}
	return out
}

// partitionOf returns the index of the range holding h.
func partitionOf(ranges []HashRange, h HashKey) int {
	lo, hi := 0, len(ranges)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if h.Less(ranges[mid].Start) {
			hi = mid - 1
		} else {
			lo = mid
		}
	}
	return lo
}
