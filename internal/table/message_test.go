package table

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTableMessageRoundTrip(t *testing.T) {
	for _, v := range []version{
		{op: opPut, flags: flagExisted | flagOld, time: 42, key: []byte("k"), item: []byte("new"), old: []byte("old")},
		{op: opDelete, time: 1, key: []byte("k")},
		{op: opLock, time: 7, key: []byte("k"), item: []byte("before"), txn: []byte("t1"), finalOp: opPut, final: []byte("after")},
		{op: opRestore, time: 9, key: []byte("k"), item: []byte("before")},
	} {
		var got version
		require.NoError(t, decodeVersion(appendVersion(nil, &v), &got))
		require.Equal(t, v, got)
	}
	require.Equal(t, "kAQID", keyToken([]byte{1, 2, 3}))
	long := bytes.Repeat([]byte{'x'}, maxPlainKeyToken+1)
	require.Len(t, keyToken(long), 1+43, "a long key's token is its hash")
}

// FuzzTableMessage: corrupt engine data gives an error, never a panic.
func FuzzTableMessage(f *testing.F) {
	f.Add(appendVersion(nil, &version{op: opPut, flags: flagOld, time: 42, key: []byte("k"), item: []byte("new"), old: []byte("old")}))
	f.Add(appendVersion(nil, &version{op: opLock, time: 7, key: []byte("k"), txn: []byte("t"), finalOp: opDelete}))
	f.Add([]byte{1, 9, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		var v version
		if decodeVersion(data, &v) == nil {
			var again version
			require.NoError(t, decodeVersion(appendVersion(nil, &v), &again))
		}
	})
}

func TestTablePubAck(t *testing.T) {
	cases := []struct {
		in         string
		seq        uint64
		wrongLast  bool
		errorMatch string
	}{
		{in: `{"stream":"PS_table_products","seq":42}`, seq: 42},
		{in: `{"stream":"S","domain":"hub","seq":7,"duplicate":true}`, seq: 7},
		{in: `{"stream":"error","seq":9}`, seq: 9},
		{in: `{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"S","seq":0}`, wrongLast: true, errorMatch: "wrong last sequence: 3"},
		{in: `{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}`, errorMatch: "maximum messages exceeded"},
		{in: `{"stream":"S"}`, errorMatch: "without a sequence"},
		{in: `not json`, errorMatch: "bad publish acknowledgement"},
	}
	for _, c := range cases {
		seq, err := parsePubAck([]byte(c.in))
		if c.errorMatch != "" {
			require.ErrorContains(t, err, c.errorMatch, c.in)
			require.Equal(t, c.wrongLast, isWrongLastSeq(err), c.in)
			continue
		}
		require.NoError(t, err, c.in)
		require.Equal(t, c.seq, seq, c.in)
	}
}
