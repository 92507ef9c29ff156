package etl

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestETLKeyMapShortAndLong covers keys on both sides of the 15 bytes a
// slot holds, keys that differ only past the first bytes or in length, and
// a key whose bytes look like a short key's length byte.
func TestETLKeyMapShortAndLong(t *testing.T) {
	var m keyMap[int]
	keys := []string{"", "a", "a\x00", "44600000", strings.Repeat("x", 14), strings.Repeat("x", 15),
		strings.Repeat("x", 16), strings.Repeat("x", 15) + "y", "\x01a", "\x02a\x00", strings.Repeat("é", 40)}
	for i, k := range keys {
		_, ok := m.get(k)
		require.False(t, ok, "%q before set", k)
		m.set(k, i)
	}
	require.Equal(t, len(keys), m.len())
	for i, k := range keys {
		v, ok := m.get(k)
		require.True(t, ok, "%q", k)
		require.Equal(t, i, v, "%q", k)
	}
	m.set("a", 100) // in place
	require.Equal(t, len(keys), m.len())
	m.delete(strings.Repeat("x", 15))
	m.delete(strings.Repeat("x", 16))
	m.delete("absent")
	require.Equal(t, len(keys)-2, m.len())
	for i, k := range keys {
		v, ok := m.get(k)
		switch k {
		case strings.Repeat("x", 15), strings.Repeat("x", 16):
			require.False(t, ok, "%q after delete", k)
		case "a":
			require.Equal(t, 100, v)
		default:
			require.True(t, ok, "%q", k)
			require.Equal(t, i, v, "%q", k)
		}
	}
}
