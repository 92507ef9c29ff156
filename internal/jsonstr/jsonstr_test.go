package jsonstr_test

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/jsonstr"
)

// The strings every test starts from: plain text, each escape, HTML
// characters, multi-byte and invalid UTF-8, the separators JavaScript
// does not allow in a string.
var samples = []string{
	"", "plain", `quote " and \ backslash`, "line\nfeed\rreturn\ttab", "\x00\x01\x1f\b\f\x7f",
	"<script>&amp;</script>", "héllo wörld €", "bad \xff byte \xc3", "run \xff\xfe of two", "sep\u2028and\u2029", "emoji 👟",
}

// TestJSONStringMatchesEncodingJSON: AppendHTMLSafe writes encoding/json's
// bytes, and Append writes a JSON string that decodes to the same string.
func TestJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range samples {
		check(t, s)
	}
	require.Equal(t, `x"a\u003cb"`, string(jsonstr.AppendHTMLSafe([]byte("x"), "a<b")), "appends to dst")
	require.Equal(t, `"a<b\u0008"`, string(jsonstr.Append(nil, "a<b\b")))
}

func check(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, string(want), string(jsonstr.AppendHTMLSafe(nil, s)), "AppendHTMLSafe(%q)", s)
	var viaJSON string
	require.NoError(t, json.Unmarshal(want, &viaJSON))
	got := jsonstr.Append(nil, s)
	var back string
	require.NoError(t, json.Unmarshal(got, &back), "Append(%q) = %s is not JSON", s, got)
	require.Equal(t, viaJSON, back, "Append(%q) = %s", s, got)
	require.True(t, utf8.Valid(got))
}

func FuzzJSONString(f *testing.F) {
	for _, s := range samples {
		f.Add(s)
	}
	f.Fuzz(check)
}
