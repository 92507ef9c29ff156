package cputime_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/pricestream/pricestream/internal/cputime"
)

// TestCPUTimeCountsWork: spinning a core for a while adds to the process's
// CPU time, about as much as the spin took and never more than the wall
// time of all cores.
func TestCPUTimeCountsWork(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "plan9" {
		t.Skip("no getrusage here")
	}
	before := cputime.Process()
	require.Positive(t, before, "a running process has used some CPU")
	start := time.Now()
	x := 0
	for time.Since(start) < 50*time.Millisecond {
		x++
	}
	wall := time.Since(start)
	used := cputime.Process() - before
	require.Positive(t, x)
	require.GreaterOrEqual(t, used, 20*time.Millisecond, "a 50 ms spin")
	require.LessOrEqual(t, used, wall*time.Duration(runtime.NumCPU())+10*time.Millisecond)
}
