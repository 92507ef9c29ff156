//go:build linux

package engine

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func startAsync(t *testing.T) *asyncSync {
	t.Helper()
	a, err := newAsyncSync()
	if err != nil {
		t.Skipf("Linux native AIO is not available here (%v); the group syncs fall back to the fsync system call", err)
	}
	t.Cleanup(a.close)
	return a
}

// Many files fsynced at once, data only and whole: every fsync is answered,
// each with its own result, by the one goroutine that reaps completions.
func TestEngineAsyncFsync(t *testing.T) {
	a := startAsync(t)
	dir := t.TempDir()
	const n = 64
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			f, err := os.Create(filepath.Join(dir, strconv.Itoa(i)))
			if err != nil {
				errs <- err
				return
			}
			defer f.Close()
			if _, err := f.Write(make([]byte, 4096*(1+i%4))); err != nil {
				errs <- err
				return
			}
			errs <- a.fsync(f, i%2 == 0)
		})
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("fsyncs not answered within 30s")
	}
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	require.Empty(t, a.mu.waits, "no waiter left behind")
}

// A file the kernel cannot fsync asynchronously (a pipe has no fsync) is
// refused at submission, which the group sync takes as "use the system
// call"; that then reports the pipe's own error.
func TestEngineAsyncFsyncRefused(t *testing.T) {
	a := startAsync(t)
	r, w, err := os.Pipe()
	require.NoError(t, err)
	defer r.Close()
	defer w.Close()
	err = a.fsync(w, true)
	require.ErrorIs(t, err, errAsyncUnsupported)
	require.ErrorIs(t, err, unix.EINVAL)

	d := &durability{aio: a}
	err = d.fsyncFile(w, true)
	require.Error(t, err)
	require.NotErrorIs(t, err, errAsyncUnsupported, "the system call's answer, not the refusal")
}

// After close, fsyncs are refused (callers use the system call) and close
// may be called again.
func TestEngineAsyncFsyncClosed(t *testing.T) {
	a, err := newAsyncSync()
	if err != nil {
		t.Skipf("Linux native AIO is not available here: %v", err)
	}
	a.close()
	a.close()
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	require.True(t, errors.Is(a.fsync(f, true), errAsyncUnsupported))
}
