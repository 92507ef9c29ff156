package engine

// SetBeforeSync makes every group sync of e call fn first (before its
// fsyncs); it must be set before writes start.
func SetBeforeSync(e *Engine, fn func(stream string)) { e.dur.beforeSync = fn }

// SyncedFiles returns the files the last group sync of stream fsynced.
func SyncedFiles(e *Engine, stream string) []string {
	s := e.dur.stream(stream)
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.files...)
}
