package etl

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A sampler lets the first occurrence through, holds back those within
// its interval, and lets the next one after it through standing for them.
func TestETLLogSampler(t *testing.T) {
	l := logSampler{every: time.Second}
	t0 := time.Unix(1_800_000_000, 0)
	for _, c := range []struct {
		at   time.Duration
		n    int
		pass bool
	}{
		{0, 1, true},
		{10 * time.Millisecond, 0, false},
		{999 * time.Millisecond, 0, false},
		{time.Second, 3, true}, // itself and the two held
		{1500 * time.Millisecond, 0, false},
		{5 * time.Second, 2, true},
		{7 * time.Second, 1, true},
	} {
		n, ok := l.allow(t0.Add(c.at))
		require.Equal(t, c.pass, ok, "at %v", c.at)
		require.Equal(t, c.n, n, "at %v", c.at)
	}
	var all logSampler // the zero value: every occurrence
	for range 3 {
		n, ok := all.allow(t0)
		require.True(t, ok)
		require.Equal(t, 1, n)
	}
}
