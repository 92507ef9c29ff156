package engine

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"syscall"
)

// ErrStorageFull means the embedded engine's data directory has less free
// space than engine.min_free_bytes: writes are refused, before the disk is
// full, until space returns. Test with errors.Is.
var ErrStorageFull = errors.New("engine: storage full")

// diskPoll is how often the free space of the data directory is measured.
const diskPoll = 100 * time.Millisecond

// diskGuard watches the free space of the embedded engine's data
// directory. JetStream treats a write that fails for a full disk as a
// critical, sticky error of the stream (it stays failed after space
// returns, until the server restarts), so pricestream refuses writes while
// the free space is below a reserve, and the engine never reaches that
// state on its own.
type diskGuard struct {
	dir      string
	reserve  uint64
	free     atomic.Uint64
	full     atomic.Bool
	ok       atomic.Bool // free was measured
	stop     chan struct{}
	wg       sync.WaitGroup
	onChange func(full bool, free uint64)
}

func newDiskGuard(dir string, reserve uint64, onChange func(full bool, free uint64)) *diskGuard {
	g := &diskGuard{dir: dir, reserve: reserve, stop: make(chan struct{}), onChange: onChange}
	g.measure()
	g.wg.Go(g.run)
	return g
}

func (g *diskGuard) run() {
	t := time.NewTicker(diskPoll)
	defer t.Stop()
	for {
		select {
		case <-g.stop:
			return
		case <-t.C:
			g.measure()
		}
	}
}

func (g *diskGuard) measure() {
	var st syscall.Statfs_t
	if err := syscall.Statfs(g.dir, &st); err != nil {
		return
	}
	free := uint64(st.Bavail) * uint64(st.Bsize) //nolint:unconvert // Bavail is int64 on some systems
	g.free.Store(free)
	g.ok.Store(true)
	full := free < g.reserve
	if g.full.Swap(full) != full && g.onChange != nil {
		g.onChange(full, free)
	}
}

func (g *diskGuard) close() {
	close(g.stop)
	g.wg.Wait()
}

// check returns an error wrapping ErrStorageFull while the free space is
// below the reserve.
func (g *diskGuard) check() error {
	if !g.full.Load() {
		return nil
	}
	return fmt.Errorf("%w: the data directory %s has %d bytes free, less than engine.min_free_bytes (%d); writes are refused until space is freed", ErrStorageFull, g.dir, g.free.Load(), g.reserve)
}

// CheckStorage returns an error wrapping [ErrStorageFull] while the
// embedded engine's data directory has less free space than
// engine.min_free_bytes, naming the directory. Writers call it before
// writing; it costs an atomic load. It returns nil for an external server,
// which manages its own storage.
func (e *Engine) CheckStorage() error {
	if e.disk == nil {
		return nil
	}
	return e.disk.check()
}

// DiskFree returns the free bytes of the embedded engine's data directory,
// as last measured; ok is false for an external server.
func (e *Engine) DiskFree() (free uint64, ok bool) {
	if e.disk == nil || !e.disk.ok.Load() {
		return 0, false
	}
	return e.disk.free.Load(), true
}
