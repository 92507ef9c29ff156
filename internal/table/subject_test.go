package table

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestTableSubject: a write's subject is the prefix and the key's token,
// for keys that end mid base64 group, span several encoding chunks, and
// are long enough to be hashed.
func TestTableSubject(t *testing.T) {
	tb := &Table{prefix: "ps.table.t."}
	for _, n := range []int{1, 2, 3, 71, 72, 73, 145, 512, 513, 2000} {
		key := []byte(strings.Repeat("\x01\xfe\x7fab", n)[:n])
		require.Equal(t, tb.prefix+keyToken(key), tb.subject(key), "key of %d bytes", n)
	}
}
