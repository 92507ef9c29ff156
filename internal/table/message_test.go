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
