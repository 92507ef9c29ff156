package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCLIBenchProfiles: the bench's profiles cover its measured interval
// (from the warm-up's end to the load's), and a load that ends within
// its warm-up writes none and says so.
func TestCLIBenchProfiles(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the pipeline")
	}
	dir := t.TempDir()
	cpu, mem, tr := filepath.Join(dir, "cpu.pprof"), filepath.Join(dir, "mem.pprof"), filepath.Join(dir, "trace.out")
	args := []string{"bench", "--rate", "300", "--products", "100", "--duration", "3s", "--warmup", "1s",
		"--http", "127.0.0.1:0", "--log-level", "error", "--json",
		"--cpuprofile", cpu, "--memprofile", mem, "--trace", tr}
	_, err := cli(t, append(args, "--data-dir", filepath.Join(dir, "data"))...)
	require.NoError(t, err)
	for _, f := range []string{cpu, mem} {
		b, err := os.ReadFile(f)
		require.NoError(t, err)
		require.True(t, bytes.HasPrefix(b, []byte{0x1f, 0x8b}), "%s: a gzipped pprof profile", f)
	}
	b, err := os.ReadFile(tr)
	require.NoError(t, err)
	require.True(t, bytes.HasPrefix(b, []byte("go 1.")), "an execution trace")

	for _, f := range []string{cpu, mem, tr} {
		require.NoError(t, os.Remove(f))
	}
	args[8] = "5s" // the warm-up outlasts the load
	_, err = cli(t, append(args, "--data-dir", filepath.Join(dir, "data2"))...)
	require.ErrorContains(t, err, "the load ended within its warm-up: no profile written")
	for _, f := range []string{cpu, mem, tr} {
		_, err := os.Stat(f)
		require.ErrorIs(t, err, os.ErrNotExist, "%s written", f)
	}
}
