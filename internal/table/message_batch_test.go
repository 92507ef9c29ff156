package table

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// encodeBatch encodes es as a batch message whose first entry is at
// position first.
func encodeBatch(first uint64, es []batchEntry) []byte {
	b := appendBatchHeader(nil, first, len(es))
	for i := range es {
		b = appendBatchEntry(b, &es[i])
	}
	return b
}

// decodeAll decodes a batch message's entries, and reports whether it was
// whole.
func decodeAll(data []byte) ([]batchEntry, bool) {
	br, err := readBatch(data)
	if err != nil {
		return nil, false
	}
	var out []batchEntry
	var e batchEntry
	for br.entry(&e) {
		out = append(out, e)
	}
	return out, !br.failed() && br.left == 0
}

var batchSamples = []batchEntry{
	{op: opPut, flags: flagExisted | flagOld, time: 42, key: []byte("k1"), item: []byte("new"), old: []byte("old")},
	{op: opDelete, flags: flagExisted, time: 43, key: []byte("k2")},
	{op: opPut, time: 44, key: []byte("k3"), item: []byte("v")},
	{op: opRestore, time: 45, key: []byte("k4"), item: []byte("kept"), of: 3},
}

func TestTableBatchMessageRoundTrip(t *testing.T) {
	data := encodeBatch(7, batchSamples)
	require.True(t, isBatch(data))
	got, ok := decodeAll(data)
	require.True(t, ok)
	require.Len(t, got, len(batchSamples))
	for i, e := range got {
		want := batchSamples[i]
		want.pos = 7 + uint64(i)
		require.Equal(t, want, e)
	}
	first, n, last, err := batchLastTime(data)
	require.NoError(t, err)
	require.Equal(t, []uint64{7, 4}, []uint64{first, n})
	require.Equal(t, int64(45), last)
	require.True(t, batchHasChange(data))
	require.False(t, batchHasChange(encodeBatch(9, batchSamples[3:])), "restores only")

	// Damage of each kind is an error, never a panic.
	for name, bad := range map[string][]byte{
		"empty":              nil,
		"an item version":    appendVersion(nil, &version{op: opPut, time: 1, key: []byte("k"), item: []byte("v")}),
		"no entries":         appendBatchHeader(nil, 1, 0),
		"position 0":         encodeBatch(0, batchSamples[:1]),
		"too many":           appendBatchHeader(nil, 1, maxBatchEntries+1),
		"short":              data[:len(data)-1],
		"trailing bytes":     append(append([]byte(nil), data...), 0),
		"restore of later":   encodeBatch(2, []batchEntry{{op: opRestore, time: 1, key: []byte("k"), item: []byte("v"), of: 5}}),
		"put without item":   encodeBatch(1, []batchEntry{{op: opPut, time: 1, key: []byte("k")}}),
		"delete with item":   encodeBatch(1, []batchEntry{{op: opDelete, time: 1, key: []byte("k"), item: []byte("v")}}),
		"unknown op":         encodeBatch(1, []batchEntry{{op: opLock, time: 1, key: []byte("k"), item: []byte("v")}}),
		"no key":             encodeBatch(1, []batchEntry{{op: opPut, time: 1, item: []byte("v")}}),
		"positions overflow": encodeBatch(^uint64(0), batchSamples[:2]),
	} {
		_, ok := decodeAll(bad)
		require.False(t, ok, name)
	}
}

// FuzzTableBatchMessage: corrupt engine data gives an error, never a
// panic, and what decodes encodes to a message that decodes the same.
func FuzzTableBatchMessage(f *testing.F) {
	f.Add(encodeBatch(7, batchSamples))
	f.Add(encodeBatch(1, batchSamples[1:2]))
	f.Add([]byte{batchFormat, 1, 1, opPut, 0, 0, 1, 'k', 1, 'v'})
	f.Fuzz(func(t *testing.T, data []byte) {
		es, ok := decodeAll(data)
		if !ok {
			return
		}
		first, _, _ := batchExtent(data)
		again, ok := decodeAll(encodeBatch(first, es))
		require.True(t, ok)
		require.Equal(t, es, again)
	})
}
