package engine

// SetBeforeSync makes every group sync of e call fn first (before its
// fsyncs); it must be set before writes start.
func SetBeforeSync(e *Engine, fn func(stream string)) { e.OnGroupSync(fn) }

// SyncedFiles returns the files the last group sync of stream fsynced.
func SyncedFiles(e *Engine, stream string) []string {
	s := e.dur.stream(stream)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.files...)
}

// AsyncFsyncs returns how many fsyncs e's group syncs made asynchronously.
func AsyncFsyncs(e *Engine) uint64 { return e.dur.asyncs.Load() }

// UseSyscallFsync makes e's group syncs fsync by the system call; it must
// be called before writes start.
func UseSyscallFsync(e *Engine) {
	if e.dur.aio != nil {
		e.dur.aio.close()
		e.dur.aio = nil
	}
}

// AsyncFsyncAvailable says whether e's group syncs fsync asynchronously.
func AsyncFsyncAvailable(e *Engine) bool { return e.dur.aio != nil }

// DirectoryListings returns how many of e's group syncs listed a stream's
// directory to find its blocks.
func DirectoryListings(e *Engine) uint64 { return e.dur.lists.Load() }
