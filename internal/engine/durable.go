package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"golang.org/x/sys/unix"
)

// Group commit of the embedded server's writes.
//
// The server's own "sync always" fsyncs every stored message by itself, one
// after another: on a disk whose fsync takes 0.2–0.4 ms that caps every
// stream at a few thousand messages a second, however many writers wait.
// With [FsyncAlways] the embedded server runs with a background sync
// interval instead, and a write made through [Engine.PublishExpect] (or
// followed by [Engine.Durable]) is answered only once the stream's message
// files are fsynced by a sync that started after the server stored it. The
// writes of one stream that arrive while a sync runs wait for the next one
// together: one fsync makes all of them durable (the group commit of
// databases' write-ahead logs).
//
// This relies on two things of the NATS server's file store, checked by
// this package's tests: a message is written to its block file
// (streams/NAME/msgs/N.blk under the account's directory) before the
// server acknowledges it, when a stream has one replica and its writes are
// not flushed asynchronously; and block numbers only grow.
//
// The fsyncs themselves are submitted to the kernel asynchronously where it
// allows (Linux native AIO, see asyncSync), so that a goroutine waiting for
// the disk holds none of the scheduler's Ps: with a blocking fsync, the
// group syncs of several streams kept about one of two Ps in system calls
// and every other part of the process queued for the remaining one.

// groupBackgroundSync is the server's own sync interval when writes are
// fsynced by group commit.
const groupBackgroundSync = time.Second

// errAsyncUnsupported says an asynchronous fsync could not be set up or
// submitted: fsync by the system call instead.
var errAsyncUnsupported = errors.New("engine: asynchronous fsync not available")

// errNoStoreDir is returned when a stream's message files are not where
// the file store keeps them.
var errNoStoreDir = errors.New("engine: stream files not found")

// durability holds a group-commit syncer per stream of the embedded server.
type durability struct {
	root    string // the account's streams directory
	dataDir string // the engine's data directory (it exists from the start)

	mu      sync.Mutex
	streams map[string]*streamSync

	rounds atomic.Uint64 // syncs run
	waits  atomic.Uint64 // writes that waited for one
	asyncs atomic.Uint64 // fsyncs made asynchronously
	lists  atomic.Uint64 // syncs that listed a stream's directory (not the common case)

	// beforeSync, when set (by tests), runs before each sync's fsyncs.
	beforeSync func(stream string)

	aio *asyncSync // nil: fsync by the system call

	m *metrics // nil in tests that make a durability by hand
}

// startAsync makes the syncs fsync asynchronously ([asyncSync]) when the
// kernel allows it; on an error they keep using the system call.
func (d *durability) startAsync() error {
	a, err := newAsyncSync()
	if err != nil {
		return err
	}
	d.aio = a
	return nil
}

// fsyncFile fsyncs f, asynchronously where it can, its data only (as
// fdatasync) when dataOnly.
func (d *durability) fsyncFile(f *os.File, dataOnly bool) error {
	if d.aio != nil {
		err := d.aio.fsync(f, dataOnly)
		if !errors.Is(err, errAsyncUnsupported) {
			if err == nil {
				d.asyncs.Add(1)
			}
			return err
		}
	}
	if dataOnly {
		return fdatasync(f)
	}
	return f.Sync()
}

func newDurability(root, dataDir string) *durability {
	return &durability{root: root, dataDir: dataDir, streams: map[string]*streamSync{}}
}

func (d *durability) stream(name string) *streamSync {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.streams[name]
	if s == nil {
		dir := filepath.Join(d.root, name, "msgs")
		if name == allStreams {
			dir = d.dataDir
		}
		s = &streamSync{d: d, name: name, dir: dir, synced: -1}
		d.streams[name] = s
	}
	return s
}

// forget drops the syncer of a stream (deleted, or to be looked up again).
func (d *durability) forget(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s := d.streams[name]; s != nil {
		s.mu.Lock()
		if s.running == nil {
			s.closeCur()
		}
		s.mu.Unlock()
	}
	delete(d.streams, name)
}

// streamSync runs the syncs of one stream, one at a time.
type streamSync struct {
	d    *durability
	name string
	dir  string

	mu      sync.Mutex
	running *syncRound  // the sync in progress
	next    *syncRound  // the sync after it, which new waiters join
	synced  int         // the highest block number the last sync saw; -1 before any
	dirInfo os.FileInfo // the directory the last sync saw
	blkInfo os.FileInfo // and that block
	cur     *os.File    // that block, open, for the next sync
	dirf    *os.File    // the directory, open with cur, to look blocks up in
	files   []string    // the files the last sync fsynced (for tests)
}

// fileID is what identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

type syncRound struct {
	done    chan struct{} // closed when the round's fsyncs are done
	err     error
	waiters int // the writes the round makes durable; under streamSync.mu
}

// sync returns once a sync that started after the call has fsynced the
// stream's files. The first caller to find no sync running leads the round
// its waiters share.
func (s *streamSync) sync(ctx context.Context) error {
	start := time.Now()
	if m := s.d.m; m != nil {
		defer func() { m.durableWait.Observe(time.Since(start).Seconds()) }()
	}
	s.mu.Lock()
	if s.next == nil {
		s.next = &syncRound{done: make(chan struct{})}
	}
	r := s.next
	r.waiters++
	s.d.waits.Add(1)
	for {
		if s.running == nil && s.next == r {
			s.next, s.running = nil, r
			s.mu.Unlock()
			began := time.Now()
			err := s.fsync()
			if m := s.d.m; m != nil {
				m.syncSeconds.Observe(time.Since(began).Seconds())
				m.syncWrites.Observe(float64(r.waiters)) // no new waiter joins a running round
			}
			s.mu.Lock()
			r.err = err
			s.running = nil
			close(r.done)
			s.mu.Unlock()
			return err
		}
		// Another caller leads r, or an earlier round runs: r starts
		// after it, led by whichever of its waiters gets there first.
		wait := r.done
		if s.running != nil && s.running != r {
			wait = s.running.done
		}
		s.mu.Unlock()
		select {
		case <-wait:
		case <-ctx.Done():
			return ctx.Err()
		}
		s.mu.Lock()
		select {
		case <-r.done:
			s.mu.Unlock()
			return r.err
		default:
		}
	}
}

// fsync fsyncs the block files written since the last sync (the newest
// one it saw and every later one) and, when new block files appeared, the
// directory that names them. Only the round's leader calls it.
func (s *streamSync) fsync() error {
	s.d.rounds.Add(1)
	if h := s.d.beforeSync; h != nil {
		h(s.name)
	}
	if s.name == allStreams {
		return syncFS(s.dir)
	}
	if s.cur != nil && s.sameBlocks() {
		// The common case: no block since the last sync, which is still
		// the same file: fdatasync it, without listing the directory.
		if err := s.d.fsyncFile(s.cur, true); err != nil {
			return fmt.Errorf("engine: fsync stream %q: %w", s.name, err)
		}
		s.files = append(s.files[:0], s.cur.Name())
		return nil
	}
	s.closeCur()
	s.d.lists.Add(1)
	info, err := os.Stat(s.dir)
	if err == nil && (s.dirInfo == nil || !os.SameFile(info, s.dirInfo)) {
		s.synced = -1 // the stream is new, or was deleted and made again
	}
	var ents []os.DirEntry
	if err == nil {
		ents, err = os.ReadDir(s.dir)
	}
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%w: stream %q: %s", errNoStoreDir, s.name, s.dir)
		}
		return fmt.Errorf("engine: fsync stream %q: %w", s.name, err)
	}
	highest := -1
	var blocks []int
	for _, e := range ents {
		n, ok := strings.CutSuffix(e.Name(), ".blk")
		if !ok {
			continue
		}
		i, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		highest = max(highest, i)
		blocks = append(blocks, i)
	}
	if highest < 0 {
		return fmt.Errorf("%w: stream %q: no block file in %s", errNoStoreDir, s.name, s.dir)
	}
	if s.synced >= 0 {
		// The block the last sync saw newest must still be that file; if
		// not, the stream was purged or made again: sync every block.
		bi, err := os.Stat(s.block(s.synced))
		if err != nil || !os.SameFile(bi, s.blkInfo) {
			s.synced = -1
		}
	}
	files := s.files[:0]
	for _, i := range blocks {
		if i < s.synced {
			continue // not written since the last sync
		}
		p := s.block(i)
		if err := s.d.syncFile(p); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // removed since the listing: nothing to keep
			}
			return fmt.Errorf("engine: fsync stream %q: %w", s.name, err)
		}
		files = append(files, p)
	}
	if highest > s.synced {
		if err := s.d.syncFile(s.dir); err != nil {
			return fmt.Errorf("engine: fsync stream %q: %w", s.name, err)
		}
		files = append(files, s.dir)
	}
	bi, err := os.Stat(s.block(highest))
	if err != nil {
		bi = nil // removed since: the next sync syncs every block
	} else if f, err := os.Open(s.block(highest)); err == nil {
		if fi, err := f.Stat(); err == nil && os.SameFile(fi, bi) {
			s.cur = f
			if d, err := os.Open(s.dir); err == nil {
				if di, err := d.Stat(); err == nil && os.SameFile(di, info) {
					s.dirf = d
				} else {
					d.Close()
				}
			}
		} else {
			f.Close()
		}
	}
	s.synced, s.files, s.dirInfo, s.blkInfo = highest, files, info, bi
	return nil
}

// sameBlocks reports that the stream has no block after the one the last
// sync saw newest, which is still the file kept open (cur): the stream's
// directory is still the one kept open with it, and two lookups of one
// name each in that. Looking the blocks up by their whole paths (os.Stat)
// walked the eight directories above them each time and allocated: in
// CPU profiles of the pipeline, more CPU than the fsync's own system calls
// (36 µs a sync at 10,000 events/s). The directory's own path is looked
// up once: a deleted stream's directory is renamed before its files are
// removed, in the background, so the directory kept open may still hold
// the old blocks after a stream of the same name was made again
// (TestEngineDurableRecreatedStream).
func (s *streamSync) sameBlocks() bool {
	if s.dirf == nil {
		return false
	}
	var st unix.Stat_t
	if err := unix.Stat(s.dir, &st); err != nil || (fileID{dev: uint64(st.Dev), ino: st.Ino}) != idOf(s.dirInfo) {
		return false
	}
	fd := int(s.dirf.Fd())
	if err := unix.Fstatat(fd, blockName(s.synced+1), &st, 0); err != unix.ENOENT {
		return false // a new block, or a failed lookup: list the directory
	}
	if err := unix.Fstatat(fd, blockName(s.synced), &st, 0); err != nil {
		return false
	}
	return fileID{dev: uint64(st.Dev), ino: st.Ino} == idOf(s.blkInfo)
}

// idOf returns the device and inode of a file as the system described it
// (none for nil).
func idOf(fi os.FileInfo) fileID {
	if fi == nil {
		return fileID{}
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino}
	}
	return fileID{}
}

// closeCur closes the block kept open for the next sync, and its
// directory, if any.
func (s *streamSync) closeCur() {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	if s.dirf != nil {
		s.dirf.Close()
		s.dirf = nil
	}
}

// close closes the files the syncers keep open. No sync may run.
func (d *durability) close() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, s := range d.streams {
		s.closeCur()
	}
	if d.aio != nil {
		d.aio.close()
	}
}

func (s *streamSync) block(i int) string { return filepath.Join(s.dir, blockName(i)) }

// blockName is the file name of block i.
func blockName(i int) string { return strconv.Itoa(i) + ".blk" }

// allStreams names the syncer of [Engine.SyncAll].
const allStreams = "\x00all"

// syncFS writes everything of the file system that holds dir to disk
// (syncfs(2)).
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("engine: sync: %w", err)
	}
	defer f.Close()
	if err := syncfs(f); err != nil {
		return fmt.Errorf("engine: sync %s: %w", dir, err)
	}
	return nil
}

func (d *durability) syncFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	err = d.fsyncFile(f, false)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// Durable returns once what the embedded server has stored in stream so
// far is fsynced, by a sync shared with the stream's other writers waiting
// at the same time. It returns at once when the engine does not fsync
// before acknowledging (an interval policy, the server's own per-message
// fsync, or an external server, whose configuration decides).
func (e *Engine) Durable(ctx context.Context, stream string) error {
	if e == nil || e.dur == nil {
		return nil
	}
	err := e.dur.stream(stream).sync(ctx)
	if errors.Is(err, errNoStoreDir) {
		// A stream created again since: look its files up again next time.
		e.dur.forget(stream)
	}
	return err
}

// OnGroupSync makes every group sync of the embedded server call fn with
// the engine stream's name before its fsyncs, the sync waiting while fn
// runs: a hook for tests that need a sync held while writes go on. Set it
// before writes start; it does nothing unless [Engine.GroupCommit].
func (e *Engine) OnGroupSync(fn func(stream string)) {
	if e.GroupCommit() {
		e.dur.beforeSync = fn
	}
}

// GroupCommit reports whether the engine makes stored writes durable
// only through [Engine.Durable] (and [Engine.PublishExpect]): the embedded
// server under [FsyncAlways]. Otherwise Durable returns at once and a
// stored write is as durable as the engine's configuration makes it.
func (e *Engine) GroupCommit() bool { return e != nil && e.dur != nil }

// SyncAll returns once everything the embedded server has written so far
// is on disk, by a sync of its whole file system shared with the other
// callers waiting at the same time; like [Engine.Durable], it returns at
// once unless the engine fsyncs before acknowledging by group commit. It
// is for the rare writes that change definitions (streams, tables, jobs,
// triggers, catalog entries, models, keys), whose stores the server
// otherwise syncs on its interval: one call covers the key-value entry and
// the engine's own files of a stream just made.
func (e *Engine) SyncAll(ctx context.Context) error {
	if e == nil || e.dur == nil {
		return nil
	}
	return e.dur.stream(allStreams).sync(ctx)
}

// DurableKV is [Engine.Durable] for the stream that holds a key-value
// bucket.
func (e *Engine) DurableKV(ctx context.Context, kv jetstream.KeyValue) error {
	return e.Durable(ctx, "KV_"+kv.Bucket())
}

// PublishExpect is the package's [PublishExpect] on nc, and with
// [FsyncAlways] on the embedded server it returns once the stored message
// is fsynced ([Engine.Durable]). An error after the message was stored
// but before it was fsynced says so; the message may survive.
func (e *Engine) PublishExpect(ctx context.Context, nc *nats.Conn, subject string, data []byte, expectSeq uint64) (uint64, error) {
	seq, ack, err := publishExpect(ctx, nc, subject, data, expectSeq)
	if err != nil {
		return 0, err
	}
	stream := pubAckStream(ack)
	if stream == "" && e.dur != nil {
		return 0, fmt.Errorf("engine: stored as %d but the acknowledgement names no stream to fsync", seq)
	}
	if err := e.Durable(ctx, stream); err != nil {
		return 0, fmt.Errorf("engine: stored as %d in %q but not yet fsynced: %w", seq, stream, err)
	}
	return seq, nil
}

// SyncStats returns how many group syncs ran and how many writes waited
// for one since the engine started.
func (e *Engine) SyncStats() (syncs, waits uint64) {
	if e.dur == nil {
		return 0, 0
	}
	return e.dur.rounds.Load(), e.dur.waits.Load()
}
