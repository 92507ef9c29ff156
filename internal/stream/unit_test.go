package stream

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestStreamHashPartitionKey(t *testing.T) {
	// Expected values: int(hashlib.md5(key).hexdigest(), 16) in Python.
	for key, want := range map[string]string{
		"a":          "16955237001963240173058271559858726497",
		"product-42": "187011132726168757119966709548694801719",
		"44600062":   "220193336370119198635142202393822962319",
	} {
		require.Equal(t, want, HashPartitionKey(key).String(), key)
		parsed, err := ParseHashKey(want)
		require.NoError(t, err)
		require.Equal(t, HashPartitionKey(key), parsed)
	}
}

func TestStreamHashRangesAsKinesis(t *testing.T) {
	// Kinesis splits three shards at these keys.
	r := hashRanges(3)
	require.Equal(t, "0", r[0].Start.String())
	require.Equal(t, "113427455640312821154458202477256070484", r[0].End.String())
	require.Equal(t, "113427455640312821154458202477256070485", r[1].Start.String())
	require.Equal(t, "226854911280625642308916404954512140969", r[1].End.String())
	require.Equal(t, "226854911280625642308916404954512140970", r[2].Start.String())
	require.Equal(t, "340282366920938463463374607431768211455", r[2].End.String())

	r4 := hashRanges(4)
	require.Equal(t, "85070591730234615865843651857942052864", r4[1].Start.String())
	for n := 1; n <= 7; n++ {
		rs := hashRanges(n)
		for i := range rs {
			require.Equal(t, i, partitionOf(rs, rs[i].Start), "start of %d/%d", i, n)
			require.Equal(t, i, partitionOf(rs, rs[i].End), "end of %d/%d", i, n)
		}
	}
	// "a" hashes below 2^128/4 and "product-42" into the third quarter.
	require.Equal(t, 0, partitionOf(r4, HashPartitionKey("a")))
	require.Equal(t, 2, partitionOf(r4, HashPartitionKey("product-42")))
	require.Equal(t, 2, partitionOf(r4, HashPartitionKey("44600062")))
}

func TestStreamParseHashKeyErrors(t *testing.T) {
	for _, s := range []string{"", "-1", "1e5", "340282366920938463463374607431768211456", "12a", "9999999999999999999999999999999999999999"} {
		_, err := ParseHashKey(s)
		require.ErrorIs(t, err, ErrInvalidArgument, s)
	}
	h, err := ParseHashKey("340282366920938463463374607431768211455")
	require.NoError(t, err)
	require.Equal(t, HashKey{^uint64(0), ^uint64(0)}, h)
}

func TestStreamSequenceNumbers(t *testing.T) {
	for _, tc := range []struct {
		part int
		p    Position
	}{{0, Position{1, 0}}, {3, Position{1, 499}}, {1023, Position{42, 99_999}}, {7, Position{1 << 40, 7}}, {2, Position{^uint64(0), 5}}, {5, Position{}}, {0, Position{}}} {
		s := tc.p.SequenceNumber(tc.part)
		part, got, err := ParseSequenceNumber(s)
		require.NoError(t, err, s)
		require.Equal(t, tc.p, got, s)
		require.Equal(t, tc.part, part, s)
	}
	require.Equal(t, "420000070003", Position{42, 7}.SequenceNumber(3))
	require.Equal(t, "5", Position{}.SequenceNumber(5))
	// Increasing within a partition, unique across partitions.
	require.Less(t, Position{1, 99_999}.SequenceNumber(3), Position{2, 0}.SequenceNumber(3))
	require.NotEqual(t, Position{1, 0}.SequenceNumber(0), Position{1, 0}.SequenceNumber(1))
	require.True(t, Position{1, 5}.Less(Position{2, 0}))
	require.True(t, Position{2, 0}.Less(Position{2, 1}))
	for _, s := range []string{"", "abc", "-5", "01", "1.5", "1234567890123456789012345678901", "99999999999999999999999999990000", "11000000001"} {
		_, _, err := ParseSequenceNumber(s)
		require.ErrorIs(t, err, ErrInvalidArgument, s)
	}
}

func TestStreamParseStart(t *testing.T) {
	ts := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for in, want := range map[string]Start{
		"trim_horizon":              {Kind: TrimHorizon},
		"LATEST":                    {Kind: Latest},
		"at:420000070002":           {Kind: AtPosition, Partition: 2, Position: Position{42, 7}},
		"after:10000000000":         {Kind: AfterPosition, Position: Position{1, 0}},
		"time:2026-11-25T10:00:00Z": {Kind: AtTimestamp, Time: ts},
	} {
		got, err := ParseStart(in)
		require.NoError(t, err, in)
		require.Equal(t, want.Kind, got.Kind, in)
		require.Equal(t, want.Position, got.Position, in)
		require.Equal(t, want.Partition, got.Partition, in)
		require.True(t, want.Time.Equal(got.Time), in)
	}
	for _, in := range []string{"soon", "at:x", "time:yesterday"} {
		_, err := ParseStart(in)
		require.ErrorIs(t, err, ErrInvalidArgument, in)
	}
	k, err := ParseStartKind("at_timestamp")
	require.NoError(t, err)
	require.Equal(t, AtTimestamp, k)
	require.Equal(t, "AFTER_SEQUENCE_NUMBER", AfterPosition.String())
}

func TestStreamBatchRoundTrip(t *testing.T) {
	recs := []*batchRecord{
		{key: "k1", data: []byte(`{"a":1}`), arrival: 1_700_000_000_000_000_000},
		{key: "", data: nil, arrival: 1_700_000_000_000_000_100},
		{key: "κλειδί", data: bytes.Repeat([]byte{0xff}, 300), arrival: 1_699_999_999_999_999_000},
	}
	b := appendBatch(nil, 77, recs)
	br, err := newBatchReader(b)
	require.NoError(t, err)
	require.Equal(t, uint64(77), br.hdr.offset)
	require.Equal(t, 3, br.hdr.count)
	var r batchRecord
	for i, want := range recs {
		ok, err := br.next(&r)
		require.NoError(t, err)
		require.True(t, ok)
		require.Equal(t, want.key, r.key, i)
		require.Equal(t, string(want.data), string(r.data), i)
		require.Equal(t, want.arrival, r.arrival, i)
		require.LessOrEqual(t, len(r.data), recordSize(want))
	}
	ok, err := br.next(&r)
	require.NoError(t, err)
	require.False(t, ok)

	// Truncations and trailing garbage are errors, never panics.
	for n := range len(b) {
		if br, err := newBatchReader(b[:n]); err == nil {
			for {
				ok, err := br.next(&r)
				if err != nil || !ok {
					require.True(t, err != nil || n == len(b), "truncated at %d must fail", n)
					break
				}
			}
		}
	}
	br, err = newBatchReader(append(b, 0))
	require.NoError(t, err)
	for {
		ok, err := br.next(&r)
		if err != nil {
			require.True(t, errors.Is(err, errCorruptBatch))
			break
		}
		require.True(t, ok, "trailing byte must be reported")
	}
}

// FuzzStreamBatchDecode feeds arbitrary bytes to the record-batch decoder:
// it must return an error or records, never panic or read out of bounds.
func FuzzStreamBatchDecode(f *testing.F) {
	f.Add(appendBatch(nil, 0, []*batchRecord{{key: "a", data: []byte("x"), arrival: 1}}))
	f.Add(appendBatch(nil, 1<<40, []*batchRecord{{key: "k", data: []byte(`{"event_type":"view"}`), arrival: 5}, {key: "k2", arrival: 3}}))
	f.Add([]byte{1, 0, 255, 255, 255, 255, 15})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		br, err := newBatchReader(b)
		if err != nil {
			return
		}
		var r batchRecord
		n := 0
		for {
			ok, err := br.next(&r)
			if err != nil || !ok {
				break
			}
			n++
			if n > br.hdr.count {
				t.Fatalf("read %d records of %d", n, br.hdr.count)
			}
		}
	})
}
