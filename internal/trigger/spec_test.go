package trigger

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestSpecGood(t *testing.T) {
	b, err := os.ReadFile("testdata/reprice.good.yaml")
	require.NoError(t, err)
	s, err := ParseSpec(b)
	require.NoError(t, err)
	require.Equal(t, "reprice", s.Name)
	require.Equal(t, "table:pricing_features", s.Source)
	require.Equal(t, StartLatest, s.StartingPosition)
	require.Equal(t, 50, s.BatchSize)
	require.Equal(t, 4, s.Parallelism)
	require.Equal(t, 5, s.Retries())
	require.Equal(t, time.Hour, s.MaxRecordAge.D())
	require.True(t, s.BisectBatchOnError)
	require.True(t, s.ReportBatchItemFailures)
	require.Equal(t, "stream:reprice_failures", s.Destination)
	require.True(t, s.IsEnabled())
	require.Equal(t, DefaultFunctionTimeout, s.FunctionTimeout.D())
	require.Len(t, s.Filters, 1)
	require.JSONEq(t, `{"eventName":["INSERT","MODIFY"],"dynamodb":{"NewImage":{"conversion":{"N":[{"numeric":[">",0]}]}}}}`, string(s.Filters[0].Pattern))

	b, err = os.ReadFile("testdata/clicks.good.json")
	require.NoError(t, err)
	s, err = ParseSpec(b)
	require.NoError(t, err)
	require.Equal(t, StartTrimHorizon, s.StartingPosition)
	require.Equal(t, 250*time.Millisecond, s.BatchingWindow.D())
	require.Equal(t, DefaultMaxRetryAttempts, s.Retries())
	require.Equal(t, 1, s.Parallelism)
	require.Len(t, s.Filters, 2)
	fn, err := ParseFunction(s.Function)
	require.NoError(t, err)
	require.Equal(t, FunctionRef{Kind: "http", Name: "http://127.0.0.1:9000/hook"}, fn)
}

// TestSpecBad checks that every problem of a spec is reported at once,
// each with its path.
func TestSpecBad(t *testing.T) {
	b, err := os.ReadFile("testdata/many.bad.yaml")
	require.NoError(t, err)
	_, err = ParseSpec(b)
	require.ErrorIs(t, err, ErrInvalidArgument)
	want := []string{
		`name: want 1-64 characters`,
		`source: want stream:NAME or table:NAME, got "queue:x"`,
		`starting_position: want trim_horizon, latest or at_timestamp, got "yesterday"`,
		`function: function kind "lambda"`,
		`batch_size: must be 1-10000, got 20000`,
		`batching_window: must be 0-5m0s, got 10m0s`,
		`parallelism: must be 1-10, got 11`,
		`max_retry_attempts: must be 0-10000 (infinite retries would let one poison record stall a partition), got -1`,
		`max_record_age: must be 0 (no limit) or 1s-168h0m0s, got 10ms`,
		`destination: want a stream name or stream:NAME, got "stream:bad name"`,
		`filters: at most 5 patterns, got 6`,
		`filters[0].pattern: data.price: numeric: want [op, number] or [op, number, op, number]`,
		`filters[1].pattern: data: empty array`,
		`filters[2].pattern: pattern is not JSON`,
		`filters[3].pattern: data.x: anything-but: inside anything-but only prefix, suffix or equals-ignore-case`,
		`filters[5].pattern: data.x: bogus: unknown operator`,
	}
	for _, w := range want {
		require.Contains(t, err.Error(), w)
	}
	require.NotContains(t, err.Error(), "filters[4]")

	b, err = os.ReadFile("testdata/unknown.bad.yaml")
	require.NoError(t, err)
	_, err = ParseSpec(b)
	require.ErrorIs(t, err, ErrInvalidArgument)
	require.Contains(t, err.Error(), "batch_sise")
}

func TestSpecCases(t *testing.T) {
	for _, tc := range []struct {
		name, doc, err string
	}{
		{"minimal", "name: a\nsource: stream:s\nfunction: go:f\n", ""},
		{"empty", "", "empty document"},
		{"missing", "name: a\n", "source: missing"},
		{"at_timestamp needs a time", "name: a\nsource: stream:s\nfunction: go:f\nstarting_position: at_timestamp\n", "starting_position_timestamp: required"},
		{"at_timestamp", "name: a\nsource: stream:s\nfunction: go:f\nstarting_position: AT_TIMESTAMP\nstarting_position_timestamp: 2026-01-02T03:04:05Z\n", ""},
		{"at_timestamp on a table", "name: a\nsource: table:tab\nfunction: go:f\nstarting_position: at_timestamp\nstarting_position_timestamp: 2026-01-02T03:04:05Z\n", "at_timestamp works with data streams only"},
		{"bad time", "name: a\nsource: stream:s\nfunction: go:f\nstarting_position_timestamp: noon\n", "not an RFC 3339 time"},
		{"seconds", "name: a\nsource: stream:s\nfunction: go:f\nbatching_window: 2\n", ""},
		{"bad duration", "name: a\nsource: stream:s\nfunction: go:f\nbatching_window: soon\n", "batching_window: \"soon\" is not a duration"},
		{"destination is source", "name: a\nsource: stream:s\nfunction: go:f\ndestination: s\n", "destination: must not be the source"},
		{"https bare", "name: a\nsource: stream:s\nfunction: https://example.test/x\n", ""},
		{"http prefix", "name: a\nsource: stream:s\nfunction: http:http://127.0.0.1:1/x\n", ""},
		{"http no host", "name: a\nsource: stream:s\nfunction: http:/x\n", "http function URL"},
		{"wasm", "name: a\nsource: stream:s\nfunction: wasm:/x/f.wasm\n", ""},
		{"wasm no file", "name: a\nsource: stream:s\nfunction: \"wasm:\"\n", "wasm function"},
		{"two documents", "name: a\nsource: stream:s\nfunction: go:f\n---\nname: b\nsource: stream:s\nfunction: go:f\n", "want one trigger"},
		{"not a mapping", "[1, 2]\n", "trigger: invalid argument"},
		{"disabled", "name: a\nsource: stream:s\nfunction: go:f\nenabled: false\n", ""},
		{"zero retries", "name: a\nsource: stream:s\nfunction: go:f\nmax_retry_attempts: 0\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseSpec([]byte(tc.doc))
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

func TestSpecDocuments(t *testing.T) {
	specs, err := ParseSpecs([]byte("name: a\nsource: stream:s\nfunction: go:f\n---\nname: b\nsource: stream:s\nfunction: go:f\nbatch_size: 0\n"))
	require.NoError(t, err)
	require.Len(t, specs, 2)
	require.Equal(t, "b", specs[1].Name)
	_, err = ParseSpecs([]byte("name: a\nsource: stream:s\nfunction: go:f\n---\nname: b\nsource: x\nfunction: go:f\n"))
	require.ErrorContains(t, err, "document 2: trigger: invalid argument: source")
}

// TestSpecRoundTrip checks that a spec stored as JSON reads back equal.
func TestSpecRoundTrip(t *testing.T) {
	matches, err := filepath.Glob("testdata/*.good.*")
	require.NoError(t, err)
	for _, f := range matches {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		s, err := ParseSpec(b)
		require.NoError(t, err)
		j := mustJSON(t, s)
		s2, err := ParseSpec(j)
		require.NoError(t, err, "%s", j)
		require.Equal(t, s, s2)
		require.False(t, strings.Contains(string(j), `"pattern":"`), "patterns are stored as objects")
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
